"""The whole MVLPT recipe on the embedded demo suite, no download: ``python -m mvlpt.multitask.demo OUT``.

Stages: multitask source training on some demo tasks (several seeds) -> averaged source prompt ->
target adaptation on other demo tasks (single task with verified init, grouped, plus baselines:
the same prompt without init, zero-shot CLIP, linear probe) -> ``OUT/results.md`` / ``results.csv``
-> transferability matrix -> ``OUT/transferability.png`` (+ ``transferability.csv``).

Weights: by default the tiny CLIP pre-trained on the demo world that ships with the package
(``mvlpt-tiny`` + ``demo``, made by ``datasets/demo/pretrain_tiny_clip.py``): real, small numbers.
``$MVLPT_CLIP_WEIGHTS``: ``none`` = random stand-in weights (a smoke test of the pipeline only), or a
CLIP checkpoint file / open_clip tag (``openai``) with ``$MVLPT_CLIP_BACKBONE`` (default the config's
``real_backbone``, ViT-B/32) at 224 px. Each run's per-epoch loss / train acc / val acc is printed after
it finishes; ``OUT/loss_curves.png`` plots them. Rerunning skips finished runs.
"""
import argparse
import os
import shutil
import sys
import time

import torch

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "configs", "demo", "demo.yaml")

FALLBACK = {
    "method": "CoOp", "nctx": 4, "backbone": "mvlpt-tiny", "input_size": 32, "real_backbone": "ViT-B/32",
    "shots": 16,
    "source_tasks": ["DemoShapes", "DemoColors"], "source_seeds": [1, 2], "source_mode": "average",
    "target_tasks": ["DemoTextures", "DemoArrows"], "target_seeds": [1],
    "groups": {"textures+arrows": ["DemoTextures", "DemoArrows"]},
    "transfer_tasks": ["DemoShapes", "DemoTextures", "DemoArrows"], "transfer_mode": "eval",
    "opts": {"OPTIM.MAX_EPOCH": 2, "OPTIM.LR": 0.002, "DATALOADER.NUM_WORKERS": 0,
             "INPUT.TRANSFORMS": ["normalize"], "TRAINER.MVLPT.PREC": "fp32", "TEST.FINAL_MODEL": "best_val"},
}


def load_config(path):
    import yaml

    cfg = dict(FALLBACK)
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            cfg.update(yaml.safe_load(f) or {})
    return cfg


def _opts(d):
    out = []
    for k, v in (d or {}).items():
        out += [k, repr(tuple(v)) if isinstance(v, (list, tuple)) else str(v)]
    return out


def main(argv=None):
    """Entry point; a user error (unknown method, bad config ...) is one line on stderr, exit 2."""
    from mvlpt.errors import run_main

    return run_main("mvlpt demo", _main, argv)


def _main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mvlpt.multitask.demo", description=__doc__.splitlines()[0])
    p.add_argument("output_dir", nargs="?", default="output/demo")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="demo recipe yaml (configs/demo/demo.yaml)")
    p.add_argument("--methods", "--method", dest="methods", default=None,
                   help="comma-separated registered methods that can be transferred, e.g. CoOp,VPT,UPT,MaPLe,KgCoOp,CLIP_Adapter,ProGrad (overrides the config's methods)")
    p.add_argument("--transfer-mode", default=None, choices=["eval", "adapt"])
    p.add_argument("--epochs", type=int, default=None, help="training epochs of every run (OPTIM.MAX_EPOCH)")
    p.add_argument("--print-every", type=int, default=1, help="print every N-th epoch's line (and the last)")
    p.add_argument("--seeds", type=int, default=None, help="number of target seeds (1, 2, ...)")
    p.add_argument("--verbose", action="store_true", help="show the engine's log lines")
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, min(int(os.environ.get("MVLPT_THREADS", os.cpu_count() or 1)), os.cpu_count() or 1)))
    cfg = load_config(a.config)
    if a.methods:
        cfg["methods"] = [m.strip() for m in a.methods.split(",") if m.strip()]
    if a.transfer_mode:
        cfg["transfer_mode"] = a.transfer_mode
    cfg["opts"] = dict(cfg.get("opts") or {})
    if a.epochs:
        cfg["opts"]["OPTIM.MAX_EPOCH"] = a.epochs
    if a.seeds:
        cfg["target_seeds"] = list(range(1, a.seeds + 1))
    out = os.path.abspath(a.output_dir)
    t0 = time.time()

    from mvlpt.data import ensure_demo_data
    from mvlpt.results import build_table, collect, to_csv, to_markdown

    from . import recipe
    from .demo_progress import epoch_history, epoch_lines, plot_loss_curves
    from .shared import shared_resources

    listed = cfg.get("methods") or [cfg["method"]]
    listed = [listed] if isinstance(listed, str) else list(listed)
    for m in listed:  # an unknown name is one line before anything runs
        recipe.canonical_method(m, transfer=False)
    # methods whose state cannot move between tasks (Tip-Adapter's cache of one task's images) run as
    # single-task baselines only: no source stage, no M<name> columns
    methods = [m for m in listed if recipe.is_transferable(m)]
    only_baseline = [m for m in listed if m not in methods]
    if not methods:
        from mvlpt.errors import ConfigError

        raise ConfigError("--methods needs at least one transferable method (e.g. CoOp); "
                          f"{', '.join(only_baseline)} can only run as baselines next to one")
    if only_baseline:
        print(f"[demo] {', '.join(only_baseline)}: not transferable, run as single-task baselines only")
    os.makedirs(out, exist_ok=True)

    def show(run_dir, name):
        for ln in epoch_lines(run_dir, name, every=a.print_every):
            print("[demo]       " + ln)

    weights = os.environ.get("MVLPT_CLIP_WEIGHTS", "").strip() or "demo"
    backbone, size = cfg["backbone"], int(cfg.get("input_size", 32))
    real = weights != "none"
    print(f"[demo] data: {ensure_demo_data()}")
    if weights == "none":
        print("[demo] CLIP weights: RANDOM stand-in weights (MVLPT_CLIP_WEIGHTS=none). The numbers below are a "
              "SMOKE TEST of the pipeline only, not results.")
    elif weights == "demo":
        from mvlpt.clip.load import demo_weights_path

        print(f"[demo] CLIP weights: the tiny CLIP pre-trained on the demo world ({backbone}, {size}x{size} px; "
              f"{demo_weights_path()}, made by datasets/demo/pretrain_tiny_clip.py)")
    else:
        backbone, size = os.environ.get("MVLPT_CLIP_BACKBONE", "") or cfg.get("real_backbone", "ViT-B/32"), 224
        print(f"[demo] CLIP weights: {weights} ({backbone})")
    cfg["opts"].setdefault("INPUT.SIZE", [size, size])
    cfg["opts"].setdefault("TRAIN.PRINT_FREQ", 100000)  # one progress line per epoch (its last batch)
    common = recipe.Common(backbone=backbone, pretrained=weights, shots=cfg["shots"], nctx=cfg["nctx"],
                           opts=_opts(cfg.get("opts")), quiet=not a.verbose)
    method = methods[0]  # the transferability study uses the first one
    with shared_resources():
        sources = {}
        for m in methods:
            mname = recipe.multitask_name(m)
            print(f"[demo] 1/4 source stage: {mname} on {cfg['source_tasks']} (seeds {cfg['source_seeds']}), "
                  f"then {cfg['source_mode']} of the seeds' prompts")
            sources[m] = recipe.source_stage(out, cfg["source_tasks"], m, cfg["source_seeds"], common,
                                             mode=cfg["source_mode"])
            for sd in cfg["source_seeds"]:
                show(os.path.join(out, "source", recipe.canonical_method(m), f"seed{sd}"), f"{mname} source seed{sd}")
            print(f"[demo]     source prompt: {sources[m]}")
        names = ", ".join(recipe.multitask_name(m) for m in methods)
        print(f"[demo] 2/4 target stage on {cfg['target_tasks']}: {names} (init from source, verified), "
              f"grouped {list(cfg['groups'])}, baselines {', '.join(methods + only_baseline)} / ZS-CLIP / linear probe")
        for seed in cfg["target_seeds"]:
            for task in cfg["target_tasks"]:
                for m in methods:
                    r = recipe.target_single(out, task, m, seed, common, source=sources[m])
                    chk = (r.get("init_check") or {})
                    if r["status"] == "done":
                        print(f"[demo]     {recipe.multitask_name(m)} {task} seed{seed}: init from source verified "
                              f"(max |diff| = {chk.get('max_abs_diff')}, before first step: "
                              f"{chk.get('before_first_step')})")
                    show(r["output_dir"], f"{recipe.multitask_name(m)} {task} seed{seed}")
                    b = recipe.baseline(out, task, m, seed, common)
                    show(b["output_dir"], f"{m} {task} seed{seed}")
                for m in only_baseline:
                    b = recipe.baseline(out, task, m, seed, common)
                    show(b["output_dir"], f"{m} {task} seed{seed}")
                recipe.zeroshot(out, task, seed, common)
                recipe.linear_probe(out, task, seed, common)
            for m in methods:
                for g, r in recipe.target_groups(out, cfg["groups"], m, seed, common, source=sources[m]).items():
                    show(r["output_dir"], f"{recipe.multitask_name(m)}-group {g} seed{seed}")
        print("[demo] 3/4 results table")
        recs = collect(os.path.join(out, "target"))
        wanted = [l for m in methods for l in (recipe.multitask_name(m), f"{recipe.multitask_name(m)}-group", m)]
        wanted += [recipe.canonical_method(m, transfer=False) for m in only_baseline]
        labels = [l for l in wanted + ["ZS-CLIP", "LinearProbe"] if any(r["label"] == l for r in recs)]
        table = build_table(recs, tasks=cfg["target_tasks"], labels=labels)
        title = "MVLPT demo" + ("" if real else " (RANDOM CLIP WEIGHTS: smoke test, not results)")
        md = to_markdown(table, title=title)
        with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as f:
            f.write(md + "\n")
        with open(os.path.join(out, "results.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(to_csv(table))
        print(f"[demo] 4/4 transferability ({cfg['transfer_mode']}) on {cfg['transfer_tasks']}")
        recipe.transferability(out, cfg["transfer_tasks"], method, cfg["target_seeds"][0], common,
                               mode=cfg["transfer_mode"])
    tdir = os.path.join(out, "transfer", recipe.canonical_method(method))
    shutil.copyfile(os.path.join(tdir, "transferability.png"), os.path.join(out, "transferability.png"))
    shutil.copyfile(os.path.join(tdir, "transferability.csv"), os.path.join(out, "transferability.csv"))
    seed = cfg["target_seeds"][0]
    curves = {f"{task} (seed{seed})": {lab: epoch_history(os.path.join(out, "target", lab, task, f"seed{seed}"))
                                       for lab in labels} for task in cfg["target_tasks"]}
    curves["source (multitask)"] = {f"{recipe.multitask_name(m)} seed{sd}": epoch_history(
        os.path.join(out, "source", recipe.canonical_method(m), f"seed{sd}")) for m in methods for sd in cfg["source_seeds"]}
    plot_loss_curves(curves, os.path.join(out, "loss_curves.png"), title="train loss per epoch")
    print()
    print(md)
    print(f"[demo] wrote {out}/results.md, results.csv, transferability.png, transferability.csv, loss_curves.png "
          f"in {time.time() - t0:.0f} s")
    print("""
[demo] The same recipe on real data with real CLIP weights (see docs/RECIPE.md, scripts/README.md):
  export DATA=/path/to/datasets OUTPUT=/path/to/output
  bash scripts/mvlpt/source_coop11.sh  CoOp          # MCoOp source prompt on the 11 CoOp datasets (3 seeds, averaged)
  bash scripts/mvlpt/elevater_fewshot.sh CoOp 5      # 20 ELEVATER targets, 5 shots: CoOp vs MCoOp (+ groups)
  python -m mvlpt.results $OUTPUT/mvlpt --md results.md --csv results.csv
  # any run accepts engine options, e.g. MODEL.BACKBONE.PRETRAINED openai (open_clip tag) or a weights path""")
    return 0


if __name__ == "__main__":
    sys.exit(main())

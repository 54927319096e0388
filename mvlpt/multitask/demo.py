"""The whole MVLPT recipe on the embedded demo suite, no download: ``python -m mvlpt.multitask.demo OUT``.

Stages: multitask source training on some demo tasks (several seeds) -> averaged source prompt ->
target adaptation on other demo tasks (single task with verified init, grouped, plus baselines:
the same prompt without init, zero-shot CLIP, linear probe) -> ``OUT/results.md`` / ``results.csv``
-> transferability matrix -> ``OUT/transferability.png`` (+ ``transferability.csv``).

Weights: ``$MVLPT_CLIP_WEIGHTS`` (a CLIP checkpoint file or an open_clip tag such as ``openai``) when
set; otherwise random stand-in weights (fixed seed, written once to ``$MVLPT_CACHE``, default
``~/.cache/mvlpt``) - numbers from random weights are a smoke test only. Rerunning skips finished runs.
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
    "method": "CoOp", "nctx": 4, "backbone": "ViT-B/32", "shots": 2,
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
    p = argparse.ArgumentParser(prog="python -m mvlpt.multitask.demo", description=__doc__.splitlines()[0])
    p.add_argument("output_dir", nargs="?", default="output/demo")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="demo recipe yaml (configs/demo/demo.yaml)")
    p.add_argument("--methods", "--method", dest="methods", default=None,
                   help="comma-separated, from CoOp, VPT, UPT (overrides the config's methods)")
    p.add_argument("--transfer-mode", default=None, choices=["eval", "adapt"])
    p.add_argument("--verbose", action="store_true", help="show the engine's log lines")
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, min(int(os.environ.get("MVLPT_THREADS", os.cpu_count() or 1)), os.cpu_count() or 1)))
    cfg = load_config(a.config)
    if a.methods:
        cfg["methods"] = [m.strip() for m in a.methods.split(",") if m.strip()]
    if a.transfer_mode:
        cfg["transfer_mode"] = a.transfer_mode
    out = os.path.abspath(a.output_dir)
    os.makedirs(out, exist_ok=True)
    t0 = time.time()

    from mvlpt.data import ensure_demo_data
    from mvlpt.results import build_table, collect, to_csv, to_markdown

    from . import recipe
    from .shared import shared_resources

    weights = os.environ.get("MVLPT_CLIP_WEIGHTS", "").strip()
    real = bool(weights)
    print(f"[demo] data: {ensure_demo_data()}")
    if not real:
        weights = "none"  # deterministic random weights (load_clip's init_seed): same network in every run
        print("[demo] CLIP weights: RANDOM stand-in weights (no real CLIP offline). The numbers below are a "
              "SMOKE TEST of the pipeline only, not results. Set MVLPT_CLIP_WEIGHTS=/path/to/ViT-B-32.pt "
              "(or an open_clip tag, e.g. openai) for real numbers.")
    else:
        print(f"[demo] CLIP weights: {weights}")
    common = recipe.Common(backbone=cfg["backbone"], pretrained=weights, shots=cfg["shots"], nctx=cfg["nctx"],
                           opts=_opts(cfg.get("opts")), quiet=not a.verbose)
    methods = cfg.get("methods") or [cfg["method"]]
    methods = [methods] if isinstance(methods, str) else list(methods)
    method = methods[0]  # the transferability study uses the first one
    with shared_resources():
        sources = {}
        for m in methods:
            mname = recipe.multitask_name(m)
            print(f"[demo] 1/4 source stage: {mname} on {cfg['source_tasks']} (seeds {cfg['source_seeds']}), "
                  f"then {cfg['source_mode']} of the seeds' prompts")
            sources[m] = recipe.source_stage(out, cfg["source_tasks"], m, cfg["source_seeds"], common,
                                             mode=cfg["source_mode"])
            print(f"[demo]     source prompt: {sources[m]}")
        names = ", ".join(recipe.multitask_name(m) for m in methods)
        print(f"[demo] 2/4 target stage on {cfg['target_tasks']}: {names} (init from source, verified), "
              f"grouped {list(cfg['groups'])}, baselines {', '.join(methods)} / ZS-CLIP / linear probe")
        for seed in cfg["target_seeds"]:
            for task in cfg["target_tasks"]:
                for m in methods:
                    r = recipe.target_single(out, task, m, seed, common, source=sources[m])
                    chk = (r.get("init_check") or {})
                    if r["status"] == "done":
                        print(f"[demo]     {recipe.multitask_name(m)} {task} seed{seed}: init from source verified "
                              f"(max |diff| = {chk.get('max_abs_diff')}, before first step: "
                              f"{chk.get('before_first_step')})")
                    recipe.baseline(out, task, m, seed, common)
                recipe.zeroshot(out, task, seed, common)
                recipe.linear_probe(out, task, seed, common)
            for m in methods:
                recipe.target_groups(out, cfg["groups"], m, seed, common, source=sources[m])
        print("[demo] 3/4 results table")
        recs = collect(os.path.join(out, "target"))
        wanted = [l for m in methods for l in (recipe.multitask_name(m), f"{recipe.multitask_name(m)}-group", m)]
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
    print()
    print(md)
    print(f"[demo] wrote {out}/results.md, results.csv, transferability.png, transferability.csv "
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

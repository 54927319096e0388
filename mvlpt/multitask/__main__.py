"""``python -m mvlpt.multitask <stage> ...`` - one command per recipe stage (finished runs are skipped).

  source    multitask source training on --tasks for --seeds, then the source prompt (--mode average|single|seed<N>)
  target    single-task adaptation of each of --tasks, from --source (MCoOp/MVPT/MUPT) or from scratch (no --source)
  group     grouped adaptation: --groups FILE.yaml, or --matrix CSV --topk K (target + K most helpful tasks)
  zeroshot  zero-shot CLIP on --tasks;  linprobe  linear probe on --tasks
  transfer  N x N transferability (--tasks) -> CSV + heatmap PNG (resumable)
  average   average checkpoints: --inputs RUN [RUN ...] --out DIR

Common: --out OUTPUT_ROOT --method CoOp|VPT|UPT|<any transferable method, e.g. MaPLe> --nctx M --shots K --seeds 1 2 3 --root DATA
--backbone ViT-B/16 --weights openai|PATH|none --config-file F --dataset-config-file F; trailing
KEY VALUE pairs go to every run (e.g. OPTIM.MAX_EPOCH 5 MODEL.BACKBONE.PRETRAINED openai).
"""
import argparse
import sys


def main(argv=None):
    """Entry point; a user error (unknown or non-transferable method, bad config ...) is one line, exit 2."""
    from mvlpt.errors import run_main

    return run_main("mvlpt.multitask", _main, argv)


def _main(argv=None):
    from . import recipe
    from .averaging import select_source
    from .groups import load_groups, topk_groups
    from .transfer import read_matrix_csv

    p = argparse.ArgumentParser(prog="python -m mvlpt.multitask", description=__doc__.splitlines()[0],
                                epilog="\n".join(__doc__.splitlines()[2:]), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["source", "target", "group", "zeroshot", "linprobe", "transfer", "average"])
    p.add_argument("--out", default="output/mvlpt")
    p.add_argument("--tasks", default="", help="comma-separated dataset names")
    p.add_argument("--method", default="CoOp")
    p.add_argument("--nctx", type=int, default=None)
    p.add_argument("--shots", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--root", default="")
    p.add_argument("--backbone", default="ViT-B/16")
    p.add_argument("--weights", default="openai", help="open_clip tag, weights file, or none")
    p.add_argument("--config-file", default="")
    p.add_argument("--dataset-config-file", default="")
    p.add_argument("--source", default="", help="source prompt folder (output of the source stage)")
    p.add_argument("--mode", default="average", help="source prompt: average | single | seed<N>")
    p.add_argument("--groups", default="", help="group yaml (configs/mvlpt/groups/*.yaml)")
    p.add_argument("--matrix", default="", help="transferability CSV for --topk groups")
    p.add_argument("--topk", type=int, default=2)
    p.add_argument("--transfer-mode", default="adapt", choices=["adapt", "eval"])
    p.add_argument("--inputs", nargs="*", default=[])
    a, opts = p.parse_known_args(argv)
    opts = [o for o in opts if o != "--"]
    bad = [o for o in opts[0::2] if o.startswith("-")]
    if bad or len(opts) % 2:
        p.error(f"unknown option(s) {bad} or an odd number of KEY VALUE pairs: {opts}")
    tasks = [t for t in a.tasks.split(",") if t]
    cf = ([] if not a.config_file else []) + opts
    common = recipe.Common(root=a.root, backbone=a.backbone, pretrained=a.weights, shots=a.shots, nctx=a.nctx, opts=cf)

    def spec_files(s):
        s.config_file, s.dataset_config_file = a.config_file, a.dataset_config_file
        return s

    orig = common.spec
    common.spec = lambda *x, **k: spec_files(orig(*x, **k))  # config files for every run
    if a.stage == "average":
        print(select_source(a.inputs, a.out, mode=a.mode))
    elif a.stage == "source":
        print(recipe.source_stage(a.out, tasks, a.method, a.seeds, common, mode=a.mode))
    elif a.stage == "target":
        for s in a.seeds:
            for t in tasks:
                r = recipe.target_single(a.out, t, a.method, s, common, source=a.source)
                print(t, s, r["status"], (r.get("best") or {}).get("accuracy"))
    elif a.stage == "group":
        if a.groups:
            groups = load_groups(a.groups)
        elif a.matrix:
            mt, m = read_matrix_csv(a.matrix)
            groups = {f"{t}+top{a.topk}": g for t, g in topk_groups(m, mt, a.topk, targets=tasks or None).items()}
        else:
            p.error("group: pass --groups FILE or --matrix CSV")
        if tasks and a.groups:
            groups = {g: ts for g, ts in groups.items() if set(ts) & set(tasks)}
        for s in a.seeds:
            for g, r in recipe.target_groups(a.out, groups, a.method, s, common, source=a.source).items():
                print(g, s, r["status"])
    elif a.stage == "zeroshot":
        for s in a.seeds:
            for t in tasks:
                recipe.zeroshot(a.out, t, s, common)
    elif a.stage == "linprobe":
        for s in a.seeds:
            for t in tasks:
                recipe.linear_probe(a.out, t, s, common)
    elif a.stage == "transfer":
        recipe.transferability(a.out, tasks, a.method, a.seeds[0], common, mode=a.transfer_mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The MVLPT recipe as functions (used by ``python -m mvlpt.multitask``, the demo and the scripts).

Output layout under ``OUT`` (every stage skips runs that already finished)::

    OUT/source/<METHOD>/seed<N>/              multitask source runs (one per seed)
    OUT/source/<METHOD>/avg/                  averaged (or single-seed) source prompt
    OUT/target/M<METHOD>/<task>/seed<N>/      single-task adaptation initialised from the source prompt
    OUT/target/M<METHOD>-group/<group>/seed<N>/   grouped multitask adaptation (one run per group)
    OUT/target/<METHOD>/<task>/seed<N>/       baseline: same method, no source init
    OUT/target/ZS-CLIP/<task>/seed<N>/        zero-shot CLIP
    OUT/target/LinearProbe/<task>/seed<N>/    linear probe on frozen features
"""
import os
from typing import Dict, List, Optional, Sequence

from .averaging import select_source
from .runner import BASELINES, METHODS, RunSpec, canonical_method, run

__all__ = ["Common", "source_stage", "target_single", "target_groups", "baseline", "zeroshot", "linear_probe",
           "multitask_name"]


class Common:
    """Settings shared by every run of a recipe (backbone, weights, data root, shots, engine opts)."""

    def __init__(self, root="", backbone="ViT-B/16", pretrained="openai", shots=None, nctx=None, opts=(),
                 source_opts=(), target_opts=(), quiet=False):
        self.root, self.backbone, self.pretrained = root, backbone, pretrained
        self.shots, self.nctx, self.opts = shots, nctx, list(opts)
        self.source_opts, self.target_opts, self.quiet = list(source_opts), list(target_opts), quiet

    def spec(self, out, datasets, method, seed, extra=(), **kw) -> RunSpec:
        return RunSpec(output_dir=out, datasets=list(datasets), method=method, seed=seed, nctx=self.nctx,
                       root=self.root, backbone=self.backbone, pretrained=self.pretrained, shots=self.shots,
                       opts=self.opts + list(extra), **kw)


def multitask_name(method: str) -> str:
    """MCoOp / MVPT / MUPT, ``M<name>`` for any other transferable method (MMaPLe), baselines as they are."""
    m = canonical_method(method, transfer=False)
    if m in METHODS:
        return METHODS[m]["multitask_name"]
    return m if m in BASELINES else "M" + m


def is_transferable(method: str) -> bool:
    """Whether ``method`` can be an MVLPT source/target (its prompt state moves between tasks)."""
    from mvlpt.errors import ConfigError

    try:
        canonical_method(method)
        return True
    except ConfigError:
        canonical_method(method, transfer=False)  # unknown names still raise
        return False


def source_stage(out: str, tasks: Sequence[str], method: str, seeds: Sequence[int], common: Common,
                 mode: str = "average", shots: Optional[int] = None) -> str:
    """Multitask training on ``tasks`` for every seed, then the source prompt (``mode``: average |
    single | seed<N>). Returns the source prompt folder (``--model-dir`` / ``init_from`` for targets)."""
    method = canonical_method(method)
    base = os.path.join(out, "source", method)
    runs = []
    for s in seeds:
        d = os.path.join(base, f"seed{s}")
        spec = common.spec(d, tasks, method, s, extra=["TEST.NO_TEST", "True", "TEST.FINAL_MODEL", "last_step"]
                           + common.source_opts, label=f"source-{method}")
        if shots is not None:
            spec.shots = shots
        run(spec, quiet=common.quiet)
        runs.append(d)
    dst = os.path.join(base, "avg" if mode == "average" else mode)
    if not os.path.isfile(os.path.join(dst, "source.json")):
        select_source(runs, dst, mode=mode)
    return dst


def target_single(out, task, method, seed, common: Common, source: str = "") -> Dict:
    """Single-task adaptation; with ``source`` the prompt starts from it (verified). Without ``source``
    (a baseline) any registered method runs, transferable or not (Tip-Adapter)."""
    method = canonical_method(method, transfer=bool(source))
    label = multitask_name(method) if source else method
    d = os.path.join(out, "target", label, task, f"seed{seed}")
    return run(common.spec(d, [task], method, seed, extra=common.target_opts, init_from=source, label=label),
               quiet=common.quiet)


def target_groups(out, groups: Dict[str, List[str]], method, seed, common: Common, source: str = "") -> Dict:
    """One multitask adaptation per group (tasks merged, per-task scores reported)."""
    method = canonical_method(method)
    label = (multitask_name(method) if source else method) + "-group"
    res = {}
    for g, tasks in groups.items():
        d = os.path.join(out, "target", label, g, f"seed{seed}")
        res[g] = run(common.spec(d, tasks, method, seed, extra=common.target_opts, init_from=source, label=label,
                                 group=g), quiet=common.quiet)
    return res


def baseline(out, task, method, seed, common: Common) -> Dict:
    return target_single(out, task, method, seed, common, source="")


def zeroshot(out, task, seed, common: Common) -> Dict:
    d = os.path.join(out, "target", "ZS-CLIP", task, f"seed{seed}")
    return run(common.spec(d, [task], "ZeroshotCLIP", seed, eval_only=True, label="ZS-CLIP"), quiet=common.quiet)


def linear_probe(out, task, seed, common: Common) -> Dict:
    from .linear_probe import run_linear_probe

    d = os.path.join(out, "target", "LinearProbe", task, f"seed{seed}")
    return run_linear_probe(d, [task], seed=seed, root=common.root, backbone=common.backbone,
                            pretrained=common.pretrained, shots=common.shots, opts=common.opts, label="LinearProbe")


def transfer_pair_score(result: Dict, task: str) -> float:
    best = (result or {}).get("best") or {}
    return float(best.get(f"task/{task}", best.get("accuracy", float("nan"))))


def transferability(out, tasks, method, seed, common: Common, mode: str = "adapt", title: str = "",
                    png_name: str = "transferability.png"):
    """N x N study: source prompt on A (single task), then B adapted from it (``adapt``) or evaluated
    with it directly (``eval``). Returns the matrix; CSV and heatmap land in ``OUT/transfer/<METHOD>``."""
    from .transfer import run_matrix

    method = canonical_method(method)
    base = os.path.join(out, "transfer", method)

    def src_dir(a):
        return os.path.join(base, "sources", a, f"seed{seed}")

    def source_fn(a):
        run(common.spec(src_dir(a), [a], method, seed, extra=["TEST.NO_TEST", "True", "TEST.FINAL_MODEL", "last_step"]
                        + common.source_opts, label=f"transfer-source-{method}"), quiet=common.quiet)

    def pair_fn(a, b):
        d = os.path.join(base, "pairs_runs", f"{a}__{b}", f"seed{seed}")
        spec = common.spec(d, [b], method, seed, extra=list(common.target_opts), init_from=src_dir(a),
                           label=f"transfer-{method}", eval_only=(mode == "eval"))
        return transfer_pair_score(run(spec, quiet=common.quiet), b)

    return run_matrix(tasks, base, pair_fn, source_fn=source_fn, png_name=png_name,
                      title=title or f"{method}: prompt trained on source, {mode} on target")

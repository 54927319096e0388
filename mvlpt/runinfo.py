"""A run's identity, written next to its results: ``OUTPUT_DIR/run.json``.

``mvlpt.results`` reads a run's method, task(s), shots, protocol, seed and split from this file instead of
guessing them from folder names. Written at train / eval time by the engine (after the config is merged)
and, with more keys (``label``, ``group``, ``init_from`` ...), by the MVLPT recipe runner.

Keys written by :func:`write_run_info` (all always present)::

    method            CoOp | CoCoOp | VPT | UPT | MaPLe | IVLP | ZeroshotCLIP ... (the MVLPT trainer's
                      learner is named from TRAINER.MVLPT.*.N_CTX, as the official code chooses it)
    trainer           TRAINER.NAME
    tasks             [task, ...]  (DATASET.DATASET when set, else DATASET.NAME; comma lists split)
    shots             DATASET.NUM_SHOTS (-1: all)
    protocol          fewshot | base2new | cross_dataset | dg | multitask | full, or $MVLPT_PROTOCOL /
                      ``extra["protocol"]`` when the caller knows better (the scripts set it)
    seed              SEED
    split             TEST.SPLIT (test | val)
    subsample_classes DATASET.SUBSAMPLE_CLASSES (all | base | new)
    backbone          MODEL.BACKBONE.NAME
    config_file       the --config-file given (``extra["config_file"]``), "" if none
    model_selection   TEST.FINAL_MODEL (last_step | best_val)
    epochs            OPTIM.MAX_EPOCH
    eval_only         bool; with ``model_dir`` (the trained run evaluated) and ``source_tasks`` (its tasks,
                      read from its run.json) for transfer evaluations

    >>> from mvlpt.config import get_cfg_default
    >>> cfg = get_cfg_default(); cfg.TRAINER.NAME = "CoOp"; cfg.DATASET.NAME = "OxfordPets"
    >>> cfg.DATASET.NUM_SHOTS = 16; cfg.SEED = 1
    >>> import tempfile; d = tempfile.mkdtemp()
    >>> info = write_run_info(cfg, d, extra={"config_file": "configs/trainers/CoOp/vit_b16.yaml"})
    >>> read_run_info(d)["tasks"], read_run_info(d)["protocol"]
    (['OxfordPets'], 'fewshot')

This module imports only json / os / yacs / :mod:`mvlpt.utils` (any layer may call it).
"""
import json
import os
from typing import Optional

from yacs.config import CfgNode  # noqa: F401  (the cfg type this module reads)

from mvlpt.utils import atomic_write_json

__all__ = ["RUN_INFO", "write_run_info", "read_run_info", "method_of", "infer_protocol", "DG_TARGETS"]

RUN_INFO = "run.json"
#: ImageNet variants: evaluating an ImageNet prompt on these is domain generalisation (CoCoOp / MaPLe).
DG_TARGETS = ("ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR")
PROTOCOLS = ("fewshot", "base2new", "cross_dataset", "dg", "multitask", "full", "transfer", "source", "zeroshot")


def _get(cfg, dotted, default=None):
    node = cfg
    for p in dotted.split("."):
        try:
            node = node[p]
        except (KeyError, TypeError):
            return default
    return node


def _tasks(cfg):
    names = str(_get(cfg, "DATASET.DATASET", "") or "") or str(_get(cfg, "DATASET.NAME", "") or "")
    return [t.strip() for t in names.split(",") if t.strip()]


def method_of(cfg) -> str:
    """The method a config trains: the trainer name, or for ``MVLPT`` the learner its N_CTX keys choose."""
    name = str(_get(cfg, "TRAINER.NAME", "") or "")
    if name != "MVLPT":
        return name
    coop, vpt = _get(cfg, "TRAINER.MVLPT.COOP.N_CTX", 0) or 0, _get(cfg, "TRAINER.MVLPT.VPT.N_CTX", 0) or 0
    if (_get(cfg, "TRAINER.MVLPT.COCOOP.N_CTX", 0) or 0) > 0:
        return "CoCoOp"
    return {(True, True): "UPT", (True, False): "CoOp", (False, True): "VPT"}.get((coop > 0, vpt > 0), "MVLPT")


def infer_protocol(tasks, shots, subsample, eval_only=False, source_tasks=()) -> str:
    """The evaluation protocol a run belongs to, from what it trains / evaluates on."""
    if subsample in ("base", "new"):
        return "base2new"
    if eval_only and source_tasks and list(source_tasks) != list(tasks):
        return "dg" if all(t in DG_TARGETS for t in tasks) else "cross_dataset"
    if len(tasks) > 1:
        return "multitask"
    return "fewshot" if shots is not None and int(shots) > 0 else "full"


def write_run_info(cfg, output_dir: str, extra: Optional[dict] = None) -> dict:
    """Write ``output_dir/run.json`` (atomically) from a merged config; returns the dict written.

    ``extra`` adds or overrides keys (the CLI passes ``config_file``, ``eval_only``, ``model_dir``; the
    recipe runner passes its ``label`` / ``group`` / ``init_from``). Keys already in an existing run.json
    that are not recomputed are kept (a later eval-only pass does not erase the recipe's label).
    """
    extra = dict(extra or {})
    tasks = _tasks(cfg)
    shots = _get(cfg, "DATASET.NUM_SHOTS", -1)
    subsample = str(_get(cfg, "DATASET.SUBSAMPLE_CLASSES", "all") or "all")
    eval_only = bool(extra.get("eval_only", False))
    model_dir = str(extra.get("model_dir", "") or "")
    source = list(extra.get("source_tasks") or [])
    if model_dir and not source:
        src = read_run_info(model_dir)
        source = list(src.get("tasks") or []) if src else []
    info = {
        "method": method_of(cfg),
        "trainer": str(_get(cfg, "TRAINER.NAME", "") or ""),
        "tasks": tasks,
        "shots": int(shots) if shots is not None else -1,
        "protocol": "",
        "seed": int(_get(cfg, "SEED", -1)),
        "split": str(_get(cfg, "TEST.SPLIT", "test")),
        "subsample_classes": subsample,
        "backbone": str(_get(cfg, "MODEL.BACKBONE.NAME", "") or ""),
        "config_file": str(extra.pop("config_file", "") or ""),
        "model_selection": str(_get(cfg, "TEST.FINAL_MODEL", "last_step")),
        "epochs": int(_get(cfg, "OPTIM.MAX_EPOCH", 0) or 0),
        "eval_only": eval_only,
    }
    if model_dir:
        info["model_dir"] = os.path.abspath(model_dir)
    if source:
        info["source_tasks"] = source
    info["protocol"] = (extra.pop("protocol", "") or os.environ.get("MVLPT_PROTOCOL", "")
                        or infer_protocol(tasks, shots, subsample, eval_only, source))
    old = read_run_info(output_dir, normalise=False) or {}
    out = {**old, **info, **{k: v for k, v in extra.items() if k not in ("model_dir",)}}
    os.makedirs(output_dir, exist_ok=True)
    atomic_write_json(os.path.join(output_dir, RUN_INFO), out)
    return out


def read_run_info(run_dir: str, normalise: bool = True) -> Optional[dict]:
    """``run_dir/run.json`` as a dict, or ``None`` (missing or unreadable).

    With ``normalise`` the recipe runner's older spellings are mapped: ``datasets`` -> ``tasks``,
    ``final_model`` -> ``model_selection``; ``tasks`` is always a list.
    """
    try:
        with open(os.path.join(run_dir, RUN_INFO), encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    if not normalise:
        return info
    info = dict(info)
    if not info.get("tasks") and info.get("datasets"):
        info["tasks"] = info["datasets"]
    if isinstance(info.get("tasks"), str):
        info["tasks"] = [t.strip() for t in info["tasks"].split(",") if t.strip()]
    if not info.get("model_selection") and info.get("final_model"):
        info["model_selection"] = info["final_model"]
    return info

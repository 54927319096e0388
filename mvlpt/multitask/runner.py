"""Run one training / evaluation of the engine from Python, the way ``python -m mvlpt`` does, plus
what the recipe needs on top:

* **skip finished runs**: a run whose ``OUTPUT_DIR/results_best.json`` (or ``results.json``) exists is not rerun;
  an unfinished one resumes from its last checkpoint (the engine's resume);
* **verified initialisation**: with ``init_from`` (a source prompt: run folder or checkpoint file) the
  prompt tensors are loaded before training and compared, tensor by tensor, with the source file;
  ``OUTPUT_DIR/init_check.json`` records the result, and a hook re-checks right before the first
  optimisation step. A mismatch raises :class:`InitError` (the official MCoOp target runs silently
  trained from scratch; this cannot);
* **best-val and last-epoch** test results: ``results_best.json`` and ``results_last.json``.

    >>> from mvlpt.multitask.runner import RunSpec, run
    >>> spec = RunSpec(output_dir="out/t", datasets=["DemoTextures"], method="CoOp", seed=1,
    ...                init_from="out/source/avg", opts=["OPTIM.MAX_EPOCH", "2"])   # doctest: +SKIP
    >>> run(spec)                                                                       # doctest: +SKIP
"""
import contextlib
import contextvars
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mvlpt.utils import atomic_write_json, atomic_write_text

__all__ = ["METHODS", "RunSpec", "run", "is_finished", "read_result", "InitError", "method_opts", "canonical_method",
           "trainer_name", "using_resources"]

log = logging.getLogger("mvlpt.recipe")

#: The three prompt families of the paper, in the official MVLPT trainer layout (``--trainer MVLPT``).
#: ``nctx``: M in the paper (16 for CoOp/VPT, 4 for UPT). Baselines and multitask variants use the same
#: trainer, so "with / without source init" is the only difference between e.g. CoOp and MCoOp.
#: Every other registered method with ``transferable = True`` (MaPLe, IVLP, plug-ins) runs under its
#: own trainer name and ``TRAINER.<NODE>`` (``nctx`` sets its ``N_CTX`` / ``N_CTX_TEXT`` / ``N_CTX_VISION``).
METHODS = {
    "CoOp": {"multitask_name": "MCoOp", "nctx": 16,
             "opts": lambda n: ["TRAINER.MVLPT.COOP.N_CTX", n, "TRAINER.MVLPT.VPT.N_CTX", 0,
                                "TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION", "middle", "TRAINER.MVLPT.COOP.CSC", False]},
    "VPT": {"multitask_name": "MVPT", "nctx": 16,
            "opts": lambda n: ["TRAINER.MVLPT.COOP.N_CTX", 0, "TRAINER.MVLPT.VPT.N_CTX", n]},
    "UPT": {"multitask_name": "MUPT", "nctx": 4,
            "opts": lambda n: ["TRAINER.MVLPT.COOP.N_CTX", n, "TRAINER.MVLPT.VPT.N_CTX", n,
                               "TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION", "middle", "TRAINER.MVLPT.COOP.CSC", False]},
}
ALIASES = {"MCoOp": "CoOp", "MVPT": "VPT", "MUPT": "UPT", "coop": "CoOp", "vpt": "VPT", "upt": "UPT"}
BASELINES = ("ZeroshotCLIP", "LinearProbe")  # evaluated next to the recipe, not transferable


class InitError(RuntimeError):
    """The target prompt does not equal the source prompt before the first step."""


def _registered():
    import mvlpt.prompts  # noqa: F401
    from mvlpt.prompts.registry import METHODS as REGISTERED

    return REGISTERED


def canonical_method(name: str, transfer: bool = True) -> str:
    """The method a recipe name means: CoOp/VPT/UPT (MVLPT layout), ``M<name>`` → ``<name>``, or any
    registered method with ``transferable = True``. ``transfer=False`` (a plain single-task baseline run,
    no source, no averaging) also accepts registered methods that cannot be transferred (Tip-Adapter),
    except under their ``M<name>``. Anything else is one :class:`ConfigError` line."""
    from mvlpt.errors import ConfigError

    m = ALIASES.get(name, name)
    if m in METHODS or m in BASELINES:
        return m
    registered = _registered()
    multitask = m not in registered and m.startswith("M") and m[1:] in registered
    if multitask:
        m = m[1:]
    if m in registered:
        if (transfer or multitask) and not getattr(registered[m].learner, "transferable", True):
            raise ConfigError(f"method {m} cannot be an MVLPT source or target: its state cannot be averaged "
                              f"over runs and moved to other tasks ({registered[m].learner.__name__}."
                              f"transferable is False); evaluate it as a baseline instead")
        return m
    ok = [*METHODS, *(n for n, s in registered.items() if getattr(s.learner, "transferable", True) and n not in METHODS)]
    raise ConfigError(f"unknown method {name!r}; use one of {', '.join(ok)} (or M<method>, e.g. MCoOp, MMaPLe)")


def trainer_name(method: str) -> str:
    """``MVLPT`` for the paper's three families, else the method's own trainer name."""
    m = canonical_method(method, transfer=False)
    return "MVLPT" if m in METHODS else m


def method_opts(method: str, nctx: Optional[int] = None) -> List[str]:
    m = canonical_method(method, transfer=False)
    if m in METHODS:
        return [str(x) for x in METHODS[m]["opts"](int(nctx or METHODS[m]["nctx"]))]
    if m in BASELINES or not nctx:
        return []
    spec = _registered()[m]
    keys = [k for k in ("N_CTX", "N_CTX_TEXT", "N_CTX_VISION") if k in spec.defaults]
    return [x for k in keys for x in (f"TRAINER.{spec.cfg_node}.{k}", str(int(nctx)))]


@dataclass
class RunSpec:
    """One engine run. ``datasets``: one name = single task, several = multitask (merged label space)."""

    output_dir: str
    datasets: Sequence[str]
    method: str = "CoOp"              # CoOp | VPT | UPT (MVLPT trainer) | any transferable method | ZeroshotCLIP
    seed: int = 1
    nctx: Optional[int] = None
    root: str = ""
    backbone: str = "ViT-B/16"
    pretrained: str = "openai"
    shots: Optional[int] = None
    config_file: str = ""
    dataset_config_file: str = ""
    init_from: str = ""               # source prompt (run dir or file) -> verified init
    eval_only: bool = False
    opts: List[str] = field(default_factory=list)
    best_and_last: bool = True        # also evaluate the last epoch when FINAL_MODEL is best_val
    label: str = ""                   # table column for mvlpt.results (default: from the path)
    group: str = ""                   # group name of a grouped run (dropped from the default label)

    def argv(self) -> List[str]:
        method = canonical_method(self.method, transfer=bool(self.init_from))
        a = ["--output-dir", self.output_dir, "--seed", str(self.seed), "--backbone", self.backbone]
        if self.root:
            a += ["--root", self.root]
        if self.config_file:
            a += ["--config-file", self.config_file]
        if self.dataset_config_file:
            a += ["--dataset-config-file", self.dataset_config_file]
        a += ["--trainer", trainer_name(method)]
        if self.eval_only:
            a.append("--eval-only")
        opts = ["DATASET.NAME", ",".join(self.datasets), "MODEL.BACKBONE.PRETRAINED", str(self.pretrained)]
        if self.shots is not None:
            opts += ["DATASET.NUM_SHOTS", str(self.shots)]
        opts += method_opts(method, self.nctx)
        return a + opts + [str(o) for o in self.opts]


def read_result(output_dir: str, which: str = "best") -> Optional[Dict]:
    """The test result of a finished run (``which``: best | last | final), or None."""
    names = {"best": ["results_best.json", "results.json"], "last": ["results_last.json", "results.json"],
             "final": ["results.json"]}[which]
    for n in names:
        p = os.path.join(output_dir, n)
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)
    return None


def is_finished(output_dir: str) -> bool:
    """A run is finished when it wrote ``DONE`` (the last thing :func:`run` writes) or ``results_best.json``."""
    return any(os.path.isfile(os.path.join(output_dir, n)) for n in ("DONE", "results_best.json"))


def _compare(learner, sd) -> Dict:
    own = dict(learner.trainable_named_parameters())
    norm = learner._normalise_keys(sd) if hasattr(learner, "_normalise_keys") else sd
    keys, diffs, skipped = [], {}, []
    for k, v in norm.items():
        if k in ("token_prefix", "token_suffix"):
            continue
        if k not in own:
            skipped.append(k)
            continue
        if tuple(v.shape) != tuple(own[k].shape):
            skipped.append(k)
            continue
        keys.append(k)
        diffs[k] = float((own[k].detach().cpu().float() - v.cpu().float()).abs().max()) if v.numel() else 0.0
    return {"keys": sorted(keys), "skipped": sorted(skipped), "max_abs_diff": max(diffs.values()) if diffs else None,
            "equal": bool(keys) and all(d == 0.0 for d in diffs.values()),
            "n_trainable": len(own), "n_checked": len(keys)}


_CURRENT = contextvars.ContextVar("mvlpt_recipe_resources", default=None)


@contextlib.contextmanager
def using_resources(resources):
    """Make ``resources`` (``{"clip_provider": ..., "feature_store": ...}``) the default of :func:`run`
    inside the block (:func:`mvlpt.multitask.shared.shared_resources` uses it)."""
    token = _CURRENT.set(resources)
    try:
        yield resources
    finally:
        _CURRENT.reset(token)


def run(spec: RunSpec, force: bool = False, quiet: bool = False, resources: Optional[dict] = None) -> Dict:
    """Run ``spec`` unless finished; returns ``{"status": "done"|"skipped", "best": {...}, "last": {...}}``.

    ``resources``: ``clip_provider`` / ``feature_store`` for the trainer (default: those of an enclosing
    :func:`using_resources` block, else private ones)."""
    from mvlpt.launch import build_parser
    from mvlpt.engine.hooks import HookBase
    from mvlpt.launch import launch, teardown_logging

    out = spec.output_dir
    if not force and is_finished(out):
        return {"status": "skipped", "best": read_result(out, "best"), "last": read_result(out, "last"),
                "output_dir": out}
    res_kw = dict(resources if resources is not None else (_CURRENT.get() or {}))
    args = build_parser().parse_args(spec.argv())
    check, src_file = None, ""
    if spec.init_from:
        from mvlpt.multitask.averaging import load_prompt_checkpoint

        src_file, src = load_prompt_checkpoint(spec.init_from)
        source_sd = {k: v.clone() for k, v in src["state_dict"].items()}

    def prepare(trainer):
        nonlocal check
        if not spec.init_from:
            return
        check = _compare(trainer.learner, source_sd)
        check["source"] = os.path.abspath(src_file)
        if not check["equal"]:
            raise InitError(f"target prompt differs from the source prompt {src_file} after loading: {check}")

        class InitCheckHook(HookBase):
            """Right before the first step of a fresh run: the prompt must still equal the source."""

            def before_train(self):
                t = self.trainer
                if t.start_epoch > 0:  # resumed: the checkpoint, not the source, is the state
                    check["before_first_step"] = "resumed"
                    return
                c = _compare(t.learner, source_sd)
                check["before_first_step"] = c["equal"]
                if not c["equal"]:
                    raise InitError(f"prompt changed between initialisation and the first step: {c}")
                atomic_write_json(os.path.join(out, "init_check.json"), check)

        trainer.register_hooks([InitCheckHook()])
        os.makedirs(out, exist_ok=True)
        atomic_write_json(os.path.join(out, "init_check.json"), check)

    try:
        cfg, trainer = launch(args, init_from=src_file, prepare=prepare, quiet=quiet, **res_kw)
        res = {"status": "done", "output_dir": out}
        if spec.eval_only:
            best = last = dict(trainer.final_results or {})
        else:
            final = dict(trainer.final_results or {})
            best = last = final
            if cfg.TEST.FINAL_MODEL == "best_val" and spec.best_and_last and not cfg.TEST.NO_TEST:
                trainer.load_model(out, epoch=trainer.max_epoch)
                trainer.test()
                last = dict(trainer.final_results or {})
        trainer.feature_store.drop(trainer._store_token)
        if check is not None:
            atomic_write_json(os.path.join(out, "init_check.json"), check)
        meta = {"datasets": list(spec.datasets), "method": canonical_method(spec.method, transfer=False), "seed": spec.seed,
                "init_from": os.path.abspath(spec.init_from) if spec.init_from else "",
                "final_model": cfg.TEST.FINAL_MODEL, "epochs": cfg.OPTIM.MAX_EPOCH}
        if spec.label:
            meta["label"] = spec.label
        if spec.group:
            meta["group"] = spec.group
        if not cfg.TEST.NO_TEST:
            atomic_write_json(os.path.join(out, "results_last.json"), {"which": "last", **meta, **last})
            atomic_write_json(os.path.join(out, "results_best.json"),
                              {"which": "best" if cfg.TEST.FINAL_MODEL == "best_val" else "last", **meta, **best})
        from mvlpt.runinfo import write_run_info

        write_run_info(cfg, out, extra=meta)
        atomic_write_text(os.path.join(out, "DONE"), "ok\n")
        res.update(best=best, last=last, init_check=check)
        return res
    finally:
        teardown_logging()

"""Source prompt = element-wise average of several seeds' checkpoints (what MVLPT's ``avg_ckpt.py`` does).

    >>> from mvlpt.multitask import average_checkpoints
    >>> average_checkpoints(["out/src/seed1", "out/src/seed2", "out/src/seed3"], "out/src/avg")  # doctest: +SKIP

Inputs may be run folders (``OUTPUT_DIR``, holding ``<model>/model.pth.tar-N`` and a ``checkpoint`` tag),
model folders (``OUTPUT_DIR/<model>``) or checkpoint files. The output is written in the same Dassl
layout (``out/<model>/model.pth.tar-<epoch>`` + ``checkpoint`` tag), so ``--model-dir out`` initialises a
target run from it.

Every floating-point tensor is averaged (in float64, cast back to its dtype); integer tensors must be
equal across inputs. For UPT this averages **independently initialised coupling transformers**
(each seed draws its own projection weights), exactly as the official script does: the average of
two unrelated networks is not in general a good network, so compare against ``--mode single`` (one
seed's checkpoint) when in doubt. CoOp contexts and VPT tokens are plain vectors and average cleanly.
"""
import json
import os
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

import torch

from mvlpt.utils import atomic_write_json

__all__ = ["resolve_checkpoint", "load_prompt_checkpoint", "average_state_dicts", "average_checkpoints",
           "select_source", "AveragingError"]


class AveragingError(ValueError):
    """Checkpoints that cannot be averaged (different keys, shapes or methods); the message says which."""


def resolve_checkpoint(path: str, epoch: Optional[int] = None, prefer_best: bool = False) -> str:
    """A checkpoint file from a file, a model folder or a run folder (first model folder found), by the
    engine's one resolver (:func:`mvlpt.engine.checkpoint.resolve_checkpoint`); ``FileNotFoundError`` if none.

    ``epoch``: ``model.pth.tar-<epoch>``; ``prefer_best``: ``model-best.pth.tar`` when present;
    otherwise the file named by the ``checkpoint`` tag (else the highest epoch)."""
    from mvlpt.engine.checkpoint import resolve_checkpoint as resolve

    f = resolve(path, epoch=epoch, prefer_best=prefer_best)
    if f is None:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no checkpoint at {path}")
        what = f"model.pth.tar-{epoch}" if epoch is not None else "model.pth.tar-N / checkpoint tag"
        raise FileNotFoundError(f"no checkpoint ({what}) under {path}")
    return f


def load_prompt_checkpoint(path: str, epoch: Optional[int] = None, prefer_best: bool = False) -> Tuple[str, dict]:
    """``(file, checkpoint dict)``; a bare state dict is wrapped as ``{"state_dict": sd}``."""
    from mvlpt.engine.checkpoint import read_checkpoint  # never runs code from the file

    f = resolve_checkpoint(path, epoch=epoch, prefer_best=prefer_best)
    ckpt = read_checkpoint(f)
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict)):
        ckpt = {"state_dict": ckpt}
    return f, ckpt


def average_state_dicts(state_dicts: Sequence[Dict[str, torch.Tensor]],
                        names: Optional[Sequence[str]] = None) -> "OrderedDict[str, torch.Tensor]":
    """Element-wise mean of float tensors; integer/bool tensors must agree. Raises :class:`AveragingError`."""
    if not state_dicts:
        raise AveragingError("nothing to average: no checkpoints given")
    names = list(names or [f"#{i}" for i in range(len(state_dicts))])
    ref = state_dicts[0]
    for n, sd in zip(names[1:], state_dicts[1:]):
        if set(sd) != set(ref):
            extra, missing = sorted(set(sd) - set(ref)), sorted(set(ref) - set(sd))
            raise AveragingError(f"{n} has other prompt tensors than {names[0]}: extra {extra}, missing {missing} "
                                 f"(different methods or settings)")
        for k in ref:
            if tuple(sd[k].shape) != tuple(ref[k].shape):
                raise AveragingError(f"{k}: shape {tuple(sd[k].shape)} in {n} vs {tuple(ref[k].shape)} in {names[0]}")
    out = OrderedDict()
    for k, v in ref.items():
        vals = [sd[k] for sd in state_dicts]
        if torch.is_floating_point(v) or torch.is_complex(v):
            acc = torch.zeros(v.shape, dtype=torch.float64)
            for t in vals:
                acc += t.detach().to("cpu", torch.float64)
            out[k] = (acc / len(vals)).to(v.dtype)
        else:
            for n, t in zip(names[1:], vals[1:]):
                if not torch.equal(t.cpu(), v.cpu()):
                    raise AveragingError(f"{k}: non-float tensor differs between {names[0]} and {n}")
            out[k] = v.detach().cpu().clone()
    return out


def _write(out: str, ckpt: dict, model_name: str) -> str:
    d = os.path.join(out, model_name)
    os.makedirs(d, exist_ok=True)
    fname = f"model.pth.tar-{int(ckpt.get('epoch') or 1)}"
    path = os.path.join(d, fname)
    from mvlpt.engine.checkpoint import write_tag
    from mvlpt.utils import atomic_torch_save

    atomic_torch_save(ckpt, path)
    write_tag(d, fname)
    return path


def _model_name(file: str, ckpt: dict) -> str:
    parent = os.path.basename(os.path.dirname(os.path.abspath(file)))
    return parent or "prompt_learner"


def average_checkpoints(paths: Sequence[str], out: str, epoch: Optional[int] = None,
                        prefer_best: bool = False, model_name: Optional[str] = None) -> str:
    """Average the prompt tensors of ``paths`` and write ``out/<model>/model.pth.tar-<epoch>``.

    Returns the written file. The file keeps the first input's ``trainer``/``learner``/``classnames``
    (so a target run's trainer check passes), has no optimizer/scheduler state (a target run starts a
    fresh schedule), and records ``averaged_from``. ``out/source.json`` lists the inputs."""
    if not paths:
        raise AveragingError("nothing to average: no checkpoints given")
    files, ckpts = [], []
    for p in paths:
        f, c = load_prompt_checkpoint(p, epoch=epoch, prefer_best=prefer_best)
        files.append(f)
        ckpts.append(c)
    trainers = {c.get("trainer") for c in ckpts if c.get("trainer")}
    if len(trainers) > 1:
        raise AveragingError(f"checkpoints come from different trainers {sorted(trainers)}: {files}")
    sds = [{k: v for k, v in c["state_dict"].items() if k not in ("token_prefix", "token_suffix")} for c in ckpts]
    avg = average_state_dicts(sds, files)
    first = ckpts[0]
    ckpt = {
        "state_dict": avg,
        "epoch": int(first.get("epoch") or 1),
        "optimizer": None,
        "scheduler": None,
        "val_result": None,
        "format": first.get("format", "mvlpt-checkpoint-1"),
        "trainer": first.get("trainer"),
        "learner": first.get("learner"),
        "classnames": first.get("classnames"),
        "averaged_from": [os.path.abspath(f) for f in files],
        "seed": None,
    }
    ckpt = {k: v for k, v in ckpt.items() if v is not None or k in ("optimizer", "scheduler", "val_result")}
    name = model_name or _model_name(files[0], first)
    written = _write(out, ckpt, name)
    atomic_write_json(os.path.join(out, "source.json"),
                      {"mode": "average", "inputs": [os.path.abspath(f) for f in files], "file": os.path.abspath(written),
                       "learner": first.get("learner"), "trainer": first.get("trainer")})
    return written


def select_source(paths: Sequence[str], out: str, mode: str = "average", epoch: Optional[int] = None,
                  prefer_best: bool = False) -> str:
    """``mode``: ``"average"`` (all of ``paths``) or ``"single"``/``"seed<N>"``/``"<index>"`` (one input, copied)."""
    paths = list(paths)
    if mode == "average":
        return average_checkpoints(paths, out, epoch=epoch, prefer_best=prefer_best)
    if mode == "single":
        pick = paths[0]
    elif mode.startswith("seed"):
        tag = mode
        hits = [p for p in paths if os.path.basename(os.path.normpath(p)) == tag or f"/{tag}/" in p + "/"]
        if not hits:
            raise AveragingError(f"--mode {mode}: no input path names {tag} ({paths})")
        pick = hits[0]
    elif mode.isdigit():
        pick = paths[int(mode)]
    else:
        raise AveragingError(f"unknown source mode {mode!r}: use average, single, seed<N> or an index")
    written = average_checkpoints([pick], out, epoch=epoch, prefer_best=prefer_best)
    with open(os.path.join(out, "source.json"), encoding="utf-8") as f:
        meta = json.load(f)
    meta["mode"] = mode
    atomic_write_json(os.path.join(out, "source.json"), meta)
    return written

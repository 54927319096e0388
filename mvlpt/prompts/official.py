"""Official checkpoints and configs ↔ ours, in one place.

Names. The official trainers save the prompt parameters under the attribute names of their prompt
learner; ours use the same attribute names, so the mapping is:

=================  ===========================  =========================================
official trainer   key in the official file     ours
=================  ===========================  =========================================
CoOp, CoCoOp       ``ctx``, ``meta_net.*``       same (file holds the prompt learner only)
MVLPT              ``ctx``, ``vpt_embeddings``,  same; old files' ``upt_proj*`` →
                   ``mvlpt_proj*``               ``mvlpt_proj*``
MaPLe              ``prompt_learner.<name>``     ``<name>`` (release files also hold every
                                                 frozen CLIP weight: ignored)
=================  ===========================  =========================================

``token_prefix``/``token_suffix`` (class-dependent buffers) are always dropped and rebuilt from the
current class names. Everything else must match exactly (see ``PromptLearner.load_prompt_state``).
"""
import logging
import os
import pickle
from collections import OrderedDict
from typing import Dict, Tuple

import torch

log = logging.getLogger(__name__)

#: keys of official files that are not prompt parameters
_IGNORED_SUFFIXES = ("token_prefix", "token_suffix", "tokenized_prompts")
_IGNORED_PREFIXES = ("image_encoder.", "text_encoder.", "logit_scale", "clip_model.", "clip.")


class OfficialCheckpointError(ValueError):
    pass


def read_checkpoint(path: str) -> dict:
    """Read a checkpoint file (ours or an official Dassl one) without running code from it.

    ``torch.load(weights_only=True)`` for ours; official Dassl files, which pickle scheduler objects,
    through :func:`mvlpt.safeload.safe_torch_load`'s allow-list (other classes become inert
    placeholders; a file that would call anything else is refused, naming the global)."""
    from mvlpt.safeload import UnsafeCheckpointError, safe_torch_load

    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with open(path, "rb") as f:
            return safe_torch_load(f)
    except UnsafeCheckpointError as e:
        raise OfficialCheckpointError(f"refusing to load {path}: {str(e).splitlines()[0]} (mvlpt never "
                                      f"runs code from a checkpoint; see README 'Security')") from None
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise OfficialCheckpointError(f"cannot read checkpoint {path}: {str(e).splitlines()[0] if str(e) else e.__class__.__name__}") from None


def prompt_state_from_checkpoint(ckpt) -> Dict[str, torch.Tensor]:
    """The state dict inside a Dassl-layout checkpoint dict (or the dict itself if it is one)."""
    if isinstance(ckpt, dict) and "state_dict" in ckpt and isinstance(ckpt["state_dict"], dict):
        return ckpt["state_dict"]
    if isinstance(ckpt, dict) and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise OfficialCheckpointError("not a prompt checkpoint: expected a dict with a 'state_dict' entry")


def normalise_official_keys(sd: Dict[str, torch.Tensor], aliases: Dict[str, str] = None) -> "OrderedDict":
    """Official names → ours: strip ``module.``/``prompt_learner.``, apply aliases, drop buffers/CLIP."""
    out = OrderedDict()
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if k.startswith(_IGNORED_PREFIXES) or k.split(".")[-1] in _IGNORED_SUFFIXES:
            continue
        if k.startswith("prompt_learner."):
            k = k[len("prompt_learner."):]
        for old, new in (aliases or {}).items():
            if k.startswith(old):
                k = new + k[len(old):]
        out[k] = v
    return out


def save_official(learner, path: str, epoch: int = 1):
    """Write ``learner`` as the official trainer would (Dassl layout, official names)."""
    from mvlpt.utils import atomic_torch_save

    atomic_torch_save({"state_dict": learner.export_official(), "epoch": epoch, "optimizer": None,
                 "scheduler": None, "val_result": None}, path)


# --------------------------------------------------------------------------- configs
def _get(cfg: dict, dotted: str, default=None):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


# MVLPT's PROJECT_METHOD -> our UPT coupling ("transformer" is the official per-token block)
MVLPT_COUPLING = {"transformer": "tokenwise", "tokenwise": "tokenwise", "attention": "attention",
                  "mlp": "mlp", "identity": "identity", "none": "identity", "": "identity"}


def learner_from_official_config(trainer: str, cfg: dict) -> Tuple[str, dict]:
    """(learner name, constructor kwargs) for an official trainer and its (full) config dict.

    ``cfg`` is the official config as a nested dict (``yaml.safe_load`` of a Dassl ``config.yaml``
    or a yacs ``CfgNode``). Any registered method (:mod:`mvlpt.prompts.registry`): its node
    ``TRAINER.<NODE>`` with the method's official ``renames`` (the one table), or the learner's own
    ``official_kwargs(cfg)`` where its official config is laid out differently (KgCoOp under
    ``TRAINER.COOP``, the MaPLe repo's VPT); missing keys take the constructor's defaults. ``MVLPT``: the official
    layout below (the learner is chosen by the context lengths).
    """
    from .registry import get_method

    if trainer == "MVLPT":
        return _mvlpt_learner(cfg)
    try:
        spec = get_method(trainer)
    except KeyError:
        raise OfficialCheckpointError(f"no official mapping for trainer {trainer!r}") from None
    return spec.name, spec.learner.official_kwargs(cfg)


def _mvlpt_learner(cfg) -> Tuple[str, dict]:
    """The official MVLPT trainer: CoCoOp if COCOOP.N_CTX, UPT if text and vision contexts, else CoOp / VPT."""
    g = lambda k, d=None: _get(cfg, k, d)  # noqa: E731
    m = "TRAINER.MVLPT."
    n_text, n_vis, n_co = g(m + "COOP.N_CTX", 0), g(m + "VPT.N_CTX", 0), g(m + "COCOOP.N_CTX", 0)
    if n_co:
        return "CoCoOp", dict(n_ctx=n_co, ctx_init=g(m + "COCOOP.CTX_INIT", "") or "")
    if n_text and n_vis:
        method = str(g(m + "PROJECT_METHOD", "transformer")).lower()
        if method not in MVLPT_COUPLING:
            raise OfficialCheckpointError(f"unknown TRAINER.MVLPT.PROJECT_METHOD {method!r}; use one of "
                                          f"{', '.join(k for k in MVLPT_COUPLING if k)}")
        return "UPT", dict(n_ctx_text=n_text, n_ctx_vision=n_vis, deep=bool(g(m + "VPT.DEEP", True)),
                           coupling=MVLPT_COUPLING[method],
                           proj_dim=g(m + "PROJECT_DIM", 128),
                           position=g(m + "COOP.CLASS_TOKEN_POSITION", "middle"),
                           ctx_init=g(m + "COOP.CTX_INIT", "") or "",
                           dropout=g(m + "VPT.DROPOUT", 0.0))
    if n_vis:
        return "VPT", dict(n_ctx=n_vis, deep=bool(g(m + "VPT.DEEP", True)), position="after_cls",
                           dropout=g(m + "VPT.DROPOUT", 0.0), proj_dim=max(0, g(m + "VPT.PROJECT", -1)))
    if n_text:
        return "CoOp", dict(n_ctx=n_text, ctx_init=g(m + "COOP.CTX_INIT", "") or "",
                            csc=bool(g(m + "COOP.CSC", False)),
                            position=g(m + "COOP.CLASS_TOKEN_POSITION", "end"))
    raise OfficialCheckpointError("TRAINER.MVLPT: set COOP.N_CTX and/or VPT.N_CTX (or COCOOP.N_CTX) > 0")

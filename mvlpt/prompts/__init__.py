"""Prompt learners: plain ``nn.Module``s around a frozen CLIP, usable without the engine.

    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import CoOp, build_learner
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = build_learner("CoOp", clip, ["cat", "dog"], n_ctx=4)
"""
from .base import CheckpointMismatch, PromptLearner
from .clip_adapter import CLIPAdapter
from .cocoop import CoCoOp
from .coop import CoOp
from .kgcoop import KgCoOp
from .maple import IVLP, MaPLe
from .prograd import ProGrad
from .promptsrc import PromptSRC
from .tip_adapter import TipAdapter, TipAdapterF
from .upt import UPT
from .vpt import VPT
from .zsclip import ZeroshotCLIP

LEARNERS = {c.__name__: c for c in (ZeroshotCLIP, CoOp, CoCoOp, VPT, UPT, MaPLe, IVLP,
                                            KgCoOp, CLIPAdapter, TipAdapter, TipAdapterF, PromptSRC, ProGrad)}


def build_learner(name: str, clip, classnames, **kwargs) -> PromptLearner:
    """``LEARNERS[name](clip, classnames, **kwargs)`` with a did-you-mean error for unknown names."""
    if name not in LEARNERS:
        import difflib

        lowered = {k.lower(): k for k in LEARNERS}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=2, cutoff=0.4)
        close = [lowered[c] for c in close]
        raise KeyError(f"unknown prompt learner {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                       + f" (available: {', '.join(LEARNERS)})")
    return LEARNERS[name](clip, classnames, **kwargs)


__all__ = ["PromptLearner", "CheckpointMismatch", "LEARNERS", "build_learner",
           "ZeroshotCLIP", "CoOp", "CoCoOp", "VPT", "UPT", "MaPLe", "IVLP",
           "KgCoOp", "CLIPAdapter", "TipAdapter", "TipAdapterF", "PromptSRC", "ProGrad"]

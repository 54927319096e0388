"""Prompt learners: plain ``nn.Module``s around a frozen CLIP, usable without the engine.

    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import CoOp, build_learner
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = build_learner("CoOp", clip, ["cat", "dog"], n_ctx=4)

Every method is one class registered with :func:`~mvlpt.prompts.registry.register_method` in one
module of this package (imported with it; see docs/ADDING_A_METHOD.md); :data:`LEARNERS` and
:func:`build_learner` are views of that registry (:data:`METHODS`).
"""
from collections.abc import Mapping

from .base import CheckpointMismatch, PromptLearner
from .registry import METHODS, MethodSpec, get_method, method_names, register_method
# import order = registration order = the order of the config nodes and of listings
from .zsclip import ZeroshotCLIP
from .coop import CoOp
from .cocoop import CoCoOp
from .vpt import VPT
from .upt import UPT
from .maple import IVLP, MaPLe
from .kgcoop import KgCoOp
from .clip_adapter import CLIPAdapter
from .tip_adapter import TipAdapter, TipAdapterF
from .promptsrc import PromptSRC
from .prograd import ProGrad


def _import_plugins():
    """Every other module of this package (a method is one file dropped here), then the modules named in
    ``MVLPT_PLUGINS`` (comma-separated, e.g. ``my_pkg.my_method``): importing them registers them."""
    import importlib
    import os
    import pkgutil

    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not m.name.startswith("_"):
            importlib.import_module(f"{__name__}.{m.name}")
    for name in filter(None, (n.strip() for n in os.environ.get("MVLPT_PLUGINS", "").split(","))):
        importlib.import_module(name)


_import_plugins()


class _LearnerView(Mapping):
    """``{method name: learner class}``, live over :data:`METHODS` (methods registered later appear)."""

    def __getitem__(self, name):
        if name not in METHODS:
            raise KeyError(name)
        return METHODS[name].learner

    def __iter__(self):
        return iter(list(METHODS))

    def __len__(self):
        return len(METHODS)

    def __repr__(self):
        return f"LEARNERS({', '.join(METHODS)})"


LEARNERS = _LearnerView()


def build_learner(name: str, clip, classnames, **kwargs) -> PromptLearner:
    """``METHODS[name].learner(clip, classnames, **kwargs)``; unknown names: ``KeyError`` with a did-you-mean."""
    return get_method(name).learner(clip, classnames, **kwargs)


__all__ = ["PromptLearner", "CheckpointMismatch", "LEARNERS", "METHODS", "MethodSpec", "build_learner",
           "register_method", "get_method", "method_names",
           "ZeroshotCLIP", "CoOp", "CoCoOp", "VPT", "UPT", "MaPLe", "IVLP",
           "KgCoOp", "CLIPAdapter", "TipAdapter", "TipAdapterF", "PromptSRC", "ProGrad"]

"""Frozen CLIP through open_clip: :func:`load_clip` and :class:`FrozenCLIP`.

Importing this package also registers ``mvlpt-tiny`` with open_clip: a 3-layer, 64-wide CLIP on
32x32 images with CLIP's real tokenizer, for tests and smoke runs (random weights only).
"""
import os as _os

import open_clip as _open_clip

from .load import CLIPLoadError, load_clip, open_clip_name
from .model import FrozenCLIP, PromptNotSupported

_CONFIGS = _os.path.join(_os.path.dirname(__file__), "model_configs")
if "mvlpt-tiny" not in _open_clip.list_models():
    _open_clip.add_model_config(_CONFIGS)

__all__ = ["load_clip", "open_clip_name", "FrozenCLIP", "CLIPLoadError", "PromptNotSupported"]

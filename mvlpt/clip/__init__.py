"""Frozen CLIP through open_clip: :func:`load_clip` and :class:`FrozenCLIP`."""
from .load import CLIPLoadError, load_clip, open_clip_name
from .model import FrozenCLIP, PromptNotSupported

__all__ = ["load_clip", "open_clip_name", "FrozenCLIP", "CLIPLoadError", "PromptNotSupported"]

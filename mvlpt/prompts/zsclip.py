"""Zero-shot CLIP: fixed hand-written prompts, nothing trains.

Text side: each class name is put into every template (``"a photo of a {}."`` by default); with
several templates the normalised features are averaged and normalised again (the "prompt
ensemble" of the CLIP paper). Image side: untouched. Text features are computed once per class list
and cached (``text_trainable = False``); image features may be cached by the caller.

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import ZeroshotCLIP
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> zs = ZeroshotCLIP(clip, ["cat", "dog"], templates=["a photo of a {}.", "a drawing of a {}."])
    >>> zs(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 2])
"""
from typing import Sequence

import torch.nn.functional as F

from .base import PromptLearner
from .registry import register_method


def fixed_text_features(learner: PromptLearner, classnames, templates: Sequence[str]):
    """Features of ``template.format(class)``; averaged over normalised templates when several."""
    feats = []
    for t in templates:
        ids = learner.tokenize([t.format(c) for c in classnames])
        # fixed text is encoded without gradients: chunks of 256 prompts cap memory for huge class lists
        f = learner.clip.encode_text_chunked(learner.clip.token_embedding(ids), ids.argmax(-1),
                                             chunk=learner.text_chunk or 256)
        feats.append(f)
    if len(feats) == 1:
        return feats[0]
    return sum(F.normalize(f, dim=-1) for f in feats) / len(feats)


@register_method("ZeroshotCLIP", cfg_node="ZSCLIP", prec="fp32")
class ZeroshotCLIP(PromptLearner):
    """Zero-shot CLIP with one template or a template ensemble (``templates`` empty: ``"a photo of a {}."``;
    through the engine: the dataset's own template, as CoOp's zero-shot baseline does)."""

    text_trainable = False
    transferable = False  # nothing trains: there is no prompt to carry from a source to a target

    def __init__(self, clip, classnames, templates: Sequence[str] = (), **kw):
        super().__init__(clip, classnames, **kw)
        self.templates = [templates] if isinstance(templates, str) else list(templates or ("a photo of a {}.",))
        self.set_classnames(classnames)

    @classmethod
    def config_kwargs(cls, kwargs, dataset=None, num_tasks=1):
        """No ``TEMPLATES`` configured: the dataset's template (e.g. "a photo of a {}, a type of pet.")."""
        if not kwargs.get("templates"):
            template = getattr(dataset, "template", None) if num_tasks <= 1 else None
            kwargs = dict(kwargs, templates=(template or "a photo of a {}.",))
        return kwargs

    def _build_text(self, classnames):
        pass

    def compute_text_features(self, state, image_features):
        return fixed_text_features(self, self.classnames, self.templates)

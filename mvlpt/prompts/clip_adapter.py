"""CLIP-Adapter: a residual bottleneck adapter on the image feature (Gao et al., IJCV 2023).

No prompt tokens at all: both encoders run unchanged. The frozen image feature ``f (B, D)`` (not
normalised, the output of the frozen encoder, so a feature cache still applies) goes through::

    A(f)  = ReLU(fc.2(ReLU(fc.0(f))))        fc.0: Linear(D → D/reduction, no bias)
                                             fc.2: Linear(D/reduction → D, no bias)
    f'    = ratio · A(f) + (1 − ratio) · f   (ratio 0.2, reduction 4: the official values)
    logits = exp(logit_scale) · normalize(f') · normalize(t)ᵀ

``t (n_cls, D)``: the frozen text features of ``template.format(class)`` (the data set's CoOp
template, ImageNet ``"a photo of a {}."``), computed once per class list and cached. Only the
adapter trains: ``fc.0.weight (D/r, D)``, ``fc.2.weight (D, D/r)`` (131,072 scalars for D = 512).
The adapter lives in :meth:`adapt_image_features`, between the (cacheable) frozen features and the
logits, so ``vision_trainable = False``. Loss: CE only (no extra terms).

Official behaviour (gaopengcuhk/CLIP-Adapter ``08d07f8``, run inside CoOp's Dassl trainer):

* The official checkpoint (folder ``clip_adapter``) holds ``fc.0.weight``, ``fc.2.weight`` with no
  prefix: the same names as ours; ``adapter.fc.*`` (the names inside the whole model) load too.
* Differs from the official file: it hard-codes the adapter width to 1024 (RN50's embedding size)
  and crashes with ViT backbones; here the width is the backbone's embedding size.
* ``ratio`` is hard-coded in the official code (0.2); here it is an option with that default.
* The official text features are re-encoded in every forward; here they are cached (same values).

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import CLIPAdapter
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = CLIPAdapter(clip, ["cat", "dog"])
    >>> feats = model.encode_images(torch.randn(2, 3, 224, 224))   # frozen: cache these
    >>> model(image_features=feats).shape, model.count_parameters()
    (torch.Size([2, 2]), 131072)
"""
from typing import Sequence

import torch.nn as nn

from .base import PromptLearner
from .registry import register_method
from .templates import dataset_template
from .zsclip import fixed_text_features


@register_method("CLIP_Adapter", cfg_node="CLIP_ADAPTER", prec="fp16", aliases=("CLIPAdapter",))
class CLIPAdapter(PromptLearner):
    """Residual bottleneck adapter on the frozen image feature. See the module docstring."""

    text_trainable = False
    vision_trainable = False
    official_model_name = "clip_adapter"
    official_aliases = {"adapter.fc.": "fc."}

    def __init__(self, clip, classnames: Sequence[str], reduction: int = 4, ratio: float = 0.2,
                 template: str = "a photo of a {}.", **kw):
        super().__init__(clip, classnames, **kw)
        if reduction < 1 or not 0.0 <= ratio <= 1.0:
            raise ValueError(f"CLIP-Adapter needs reduction >= 1 and 0 <= ratio <= 1, got {reduction}, {ratio}")
        self.template, self.ratio, self.reduction = template, float(ratio), reduction
        d = clip.embed_dim
        self.fc = nn.Sequential(nn.Linear(d, d // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(d // reduction, d, bias=False), nn.ReLU(inplace=True))
        self.set_classnames(classnames)

    def _build_text(self, classnames):
        pass

    def compute_text_features(self, state, image_features):
        return fixed_text_features(self, self.classnames, [self.template])

    def adapt_image_features(self, image_features):
        f = image_features.to(self.fc[0].weight.dtype)
        return self.ratio * self.fc(f) + (1.0 - self.ratio) * f

    @classmethod
    def official_kwargs(cls, cfg: dict) -> dict:
        """Constructor kwargs from the official config (CoOp's yaml; only ``DATASET.NAME`` matters)."""
        return dict(template=dataset_template((cfg.get("DATASET") or {}).get("NAME", "ImageNet")))

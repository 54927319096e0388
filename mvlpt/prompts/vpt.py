"""VPT on CLIP's image encoder (Jia et al., ECCV 2022), as MVLPT's MVPT and MaPLe's VPT baseline.

Where the prompts go (image encoder only; the text side is the fixed prompt ``template``, whose
features are computed once per class list and cached)::

    position="after_cls"     (VPT / MVLPT)  after ln_pre:  [cls, p_1..p_k, patch_1..patch_N]
    position="after_patches" (MaPLe repo)  before ln_pre: [cls, patch_1..patch_N, p_1..p_k]

``vpt_embeddings (1, k, w)`` enter before block 0. With ``deep=True``, before each block
``i = 1 .. depth-1`` the prompt positions are **replaced** by ``vpt_embeddings_deep[i-1]``
(``(depth-1, k, w)``); after block ``depth-1`` the prompt tokens are carried forward unchanged.
``depth=0`` means every layer (12 for ViT-B). ``dropout`` is applied to every prompt (VPT's prompt
dropout); with ``proj_dim > 0`` prompts live in ``proj_dim`` and a trainable ``Linear(proj_dim → w)``
maps them (VPT's ``prompt_proj``). Init: uniform Xavier over (patch fan-in + prompt dim), as VPT.

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import VPT
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = VPT(clip, ["cat", "dog"], n_ctx=8, deep=True)
    >>> model(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 2])
    >>> model.count_parameters()   # 12 layers x 8 tokens x 768
    73728
"""
import math

import torch
import torch.nn as nn

from .base import PromptLearner
from .registry import register_method
from .zsclip import fixed_text_features


def require_vit(clip, method: str):
    if not clip.is_vit:
        raise ValueError(f"{method} puts prompts into the image encoder and needs a ViT backbone; "
                         f"{clip.name} is a ResNet (use CoOp, CoCoOp or ZeroshotCLIP with ResNets)")


def vpt_init_(t: torch.Tensor, clip, dim: int):
    patch = clip.model.visual.conv1.kernel_size
    val = math.sqrt(6.0 / float(3 * patch[0] * patch[1] + dim))
    nn.init.uniform_(t, -val, val)
    return t


def resolve_depth(depth: int, deep: bool, layers: int) -> int:
    depth = layers if (deep and depth <= 0) else (depth if deep else 1)
    if not 1 <= depth <= layers:
        raise ValueError(f"prompt depth must be in 1..{layers}, got {depth}")
    return depth


@register_method("VPT", cfg_node="VPT", prec="fp32",
                 renames={"N_CTX_VISION": "N_CTX", "PROMPT_DEPTH_VISION": "DEPTH"})  # MaPLe repo spellings
class VPT(PromptLearner):
    """Visual Prompt Tuning with a fixed text template."""

    text_trainable = False
    vision_trainable = True

    @classmethod
    def official_kwargs(cls, cfg):
        """The MaPLe repository's ``TRAINER.VPT``: tokens after the patches, deep when the depth > 1, its
        ``CTX_INIT`` is the text prompt's prefix; its defaults are 2 tokens, depth 1."""
        kwargs = super().official_kwargs(cfg)
        node = ((cfg or {}).get("TRAINER") or {}).get("VPT") or {}
        depth = kwargs.get("depth", 1)
        return dict(kwargs, n_ctx=kwargs.get("n_ctx", 2), depth=depth, deep=depth > 1, position="after_patches",
                    template=(node.get("CTX_INIT") or "a photo of a") + " {}.")

    def __init__(self, clip, classnames, n_ctx: int = 16, deep: bool = True, depth: int = 0,
                 position: str = "after_cls", dropout: float = 0.0, proj_dim: int = 0,
                 template: str = "a photo of a {}.", **kw):
        super().__init__(clip, classnames, **kw)
        require_vit(clip, "VPT")
        if position not in ("after_cls", "after_patches"):
            raise ValueError(f"position must be after_cls or after_patches, got {position!r}")
        self.n_ctx, self.position, self.template = n_ctx, position, template
        self.depth = resolve_depth(depth, deep, clip.vision_layers)
        w = clip.vision_width
        dim = proj_dim if proj_dim > 0 else w
        self.vpt_embeddings = nn.Parameter(vpt_init_(torch.empty(1, n_ctx, dim), clip, dim))
        if self.depth > 1:
            self.vpt_embeddings_deep = nn.Parameter(vpt_init_(torch.empty(self.depth - 1, n_ctx, dim), clip, dim))
        else:
            self.vpt_embeddings_deep = None
        self.prompt_proj = nn.Linear(proj_dim, w) if proj_dim > 0 else nn.Identity()
        if proj_dim > 0:
            nn.init.kaiming_normal_(self.prompt_proj.weight, a=0, mode="fan_out")
        self.prompt_dropout = nn.Dropout(dropout)
        self.set_classnames(classnames)

    def _build_text(self, classnames):
        pass

    def make_prompts(self):
        f = lambda p: self.prompt_dropout(self.prompt_proj(p))  # noqa: E731
        deep = [None] * self.clip.vision_layers
        if self.vpt_embeddings_deep is not None:
            for i in range(1, self.depth):
                deep[i] = f(self.vpt_embeddings_deep[i - 1])
        return {"vision": dict(shallow=f(self.vpt_embeddings[0]), position=self.position, deep=deep)}

    def compute_text_features(self, state, image_features):
        return fixed_text_features(self, self.classnames, [self.template])

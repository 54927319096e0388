"""MaPLe (Khattak et al., CVPR 2023) and the MaPLe repo's independent V-L prompting (IVLP).

MaPLe - coupled deep prompts in both encoders, depth ``J`` (``depth``):

* text, layer 0: prompt ``"<ctx_init> <class>."`` (default ``"a photo of a"``); its first ``n_ctx``
  token positions after SOT are the learnable ``ctx (n_ctx, d_t)`` (initialised from those words),
  the rest stays fixed: ``[SOT, ctx, "of a", <class>, ".", EOT]``.
* vision, layer 0: ``proj(ctx)`` (``Linear(d_t → w)``) appended **after the patch tokens**, after
  the positional embedding and before ``ln_pre`` (sequence ``1 + N + n_ctx``).
* layers ``i = 1 .. J-1``: ``compound_prompts_text[i-1] (n_ctx, d_t)`` **replace** text positions
  ``1..n_ctx``; ``compound_prompt_projections[i-1](compound_prompts_text[i-1])`` **replace** the last
  ``n_ctx`` visual tokens. From layer ``J`` on, prompt tokens are carried forward.

Parameters for ViT-B/16, J=9, n_ctx=2: 3,555,072. Widths are read from the backbone (ViT-L works).

IVLP - the same places, but text and vision prompts are independent parameters (no projection):
``ctx`` + ``compound_prompts_text`` on the text side (depth ``depth_text``), ``vpt_embeddings
(1, n_v, w)`` + ``vpt_embeddings_deep (depth_vision-1, n_v, w)`` on the vision side (after the
patches, replaced per layer). ``depth_vision=0`` gives the deep language-only prompting baseline.

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import MaPLe
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = MaPLe(clip, ["cat", "dog"], n_ctx=2, depth=9)
    >>> model(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 2])
"""
import copy

import torch
import torch.nn as nn

from .base import PromptLearner
from .registry import register_method
from .coop import context_prompts, register_context_tokens
from .vpt import require_vit


class _DeepTextPrompts(PromptLearner):
    """Shared text side of MaPLe/IVLP: ``ctx`` at layer 0 and ``compound_prompts_text`` deeper."""

    vision_trainable = True

    def _setup_text(self, classnames, n_ctx, ctx_init, depth_text, init_std=0.02):
        self.n_ctx, self.ctx_init, self.depth_text = n_ctx, ctx_init, depth_text
        if not 0 <= depth_text <= self.clip.text_layers:
            raise ValueError(f"text prompt depth must be in 0..{self.clip.text_layers}, got {depth_text}")
        self.set_classnames(classnames)
        d = self.clip.text_width
        ctx = self._init.clone().float() if self._init is not None else nn.init.normal_(torch.empty(n_ctx, d), std=init_std)
        self.ctx = nn.Parameter(ctx)
        self.compound_prompts_text = nn.ParameterList(
            [nn.Parameter(nn.init.normal_(torch.empty(n_ctx, d), std=init_std)) for _ in range(max(depth_text - 1, 0))])

    def _build_text(self, classnames):
        self._init = register_context_tokens(self, classnames, self.n_ctx, self.ctx_init)

    def compute_text_features(self, state, image_features):
        deep = [None] + list(self.compound_prompts_text)
        return self.encode_text_embeddings(context_prompts(self, self.ctx), self.eot, deep)


@register_method("MaPLe", cfg_node="MAPLE", prec="fp16", renames={"PROMPT_DEPTH": "DEPTH"})
class MaPLe(_DeepTextPrompts):
    """Multi-modal prompt learning with coupled (projected) vision prompts."""

    official_prefix = "prompt_learner."
    official_model_name = "MultiModalPromptLearner"

    def __init__(self, clip, classnames, n_ctx: int = 2, ctx_init: str = "a photo of a", depth: int = 9, **kw):
        super().__init__(clip, classnames, **kw)
        require_vit(clip, "MaPLe")
        if depth < 1:
            raise ValueError("MaPLe needs depth >= 1")
        self.depth = depth
        self._setup_text(classnames, n_ctx, ctx_init, depth)
        if depth > clip.vision_layers:
            raise ValueError(f"MaPLe depth {depth} exceeds the {clip.vision_layers} vision layers")
        self.proj = nn.Linear(clip.text_width, clip.vision_width)
        one = nn.Linear(clip.text_width, clip.vision_width)
        self.compound_prompt_projections = nn.ModuleList([copy.deepcopy(one) for _ in range(depth - 1)])

    def make_prompts(self):
        deep = [None] + [f(p) for f, p in zip(self.compound_prompt_projections, self.compound_prompts_text)]
        return {"vision": dict(shallow=self.proj(self.ctx), position="after_patches", deep=deep)}


@register_method("IVLP", cfg_node="IVLP", prec="fp16",
                 renames={"PROMPT_DEPTH_TEXT": "DEPTH_TEXT", "PROMPT_DEPTH_VISION": "DEPTH_VISION"})
class IVLP(_DeepTextPrompts):
    """Independent vision-language deep prompts (MaPLe repo's IVLP baseline)."""

    official_model_name = "VLPromptLearner"

    def __init__(self, clip, classnames, n_ctx_text: int = 2, n_ctx_vision: int = 2, ctx_init: str = "a photo of a",
                 depth_text: int = 9, depth_vision: int = 9, **kw):
        super().__init__(clip, classnames, **kw)
        if depth_text < 1:
            raise ValueError("IVLP needs depth_text >= 1 (the layer-0 context)")
        self._setup_text(classnames, n_ctx_text, ctx_init, depth_text)
        self.depth_vision = depth_vision
        if depth_vision > 0:
            require_vit(clip, "IVLP with vision prompts")
            w = clip.vision_width
            self.vpt_embeddings = nn.Parameter(nn.init.normal_(torch.empty(1, n_ctx_vision, w), std=0.02))
            self.vpt_embeddings_deep = (nn.Parameter(nn.init.normal_(torch.empty(depth_vision - 1, n_ctx_vision, w), std=0.02))
                                        if depth_vision > 1 else None)
        else:
            self.vision_trainable = False

    def _normalise_keys(self, sd):
        """The MaPLe repo stores IVLP's prompts inside the encoders; map them to our names first."""
        out, deep_v = {}, {}
        for k, v in sd.items():
            k = k[len("module."):] if k.startswith("module.") else k
            if k == "image_encoder.VPT":
                out["vpt_embeddings"] = v.unsqueeze(0)
            elif k.startswith("image_encoder.transformer.resblocks.") and k.endswith(".VPT_shallow"):
                deep_v[int(k.split(".")[3])] = v
            elif k.startswith("text_encoder.transformer.resblocks.") and k.endswith(".VPT_shallow"):
                out[f"compound_prompts_text.{int(k.split('.')[3]) - 1}"] = v
            else:
                out[k] = v
        if deep_v:
            out["vpt_embeddings_deep"] = torch.stack([deep_v[i] for i in sorted(deep_v)])
        return super()._normalise_keys(out)

    def make_prompts(self):
        if self.depth_vision <= 0:
            return {}
        deep = [None] * self.clip.vision_layers
        for i in range(1, self.depth_vision):
            deep[i] = self.vpt_embeddings_deep[i - 1]
        return {"vision": dict(shallow=self.vpt_embeddings[0], position="after_patches", deep=deep)}

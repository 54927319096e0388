"""CoCoOp: CoOp context shifted per image by a meta-net (Zhou et al., CVPR 2022).

Where the prompts go: text encoder input, ``[SOT, ctx_1+π, ..., ctx_n+π, <class tokens>, ".", EOT]``
with ``π = meta_net(normalize(image_feature))``: ``Linear(D → D/16) → ReLU → Linear(D/16 → d_t)``
(``D`` = joint embedding width, ``d_t`` = text width). ``ctx (n_ctx, d_t)`` is shared by all
classes; ``π (B, d_t)`` is added to every context vector. The text encoder then encodes
``B × n_cls`` prompts **in one batched pass**, not in a loop over images as the official code does:
in chunks of ``text_chunk`` rows (``"auto"``: sized to the memory budget) whose token embeddings are
built per chunk and rebuilt in the backward pass, so memory stays bounded at 1000 classes and batch
32. The image side is frozen (image features cacheable).

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import CoCoOp
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = CoCoOp(clip, ["cat", "dog", "cow"], n_ctx=4)
    >>> model(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 3])
"""
from collections import OrderedDict

import torch
import torch.nn as nn

from .base import PromptLearner
from .registry import register_method
from .coop import register_context_tokens


@register_method("CoCoOp", cfg_node="COCOOP", prec="fp16")
class CoCoOp(PromptLearner):
    """Conditional Context Optimization (image-conditioned text prompts)."""

    image_conditioned = True

    def __init__(self, clip, classnames, n_ctx: int = 16, ctx_init: str = "", meta_hidden: int = 0,
                 init_std: float = 0.02, **kw):
        super().__init__(clip, classnames, **kw)
        if ctx_init:
            n_ctx = len(ctx_init.replace("_", " ").split())
        self.n_ctx, self.ctx_init = n_ctx, ctx_init
        self.set_classnames(classnames)
        d, D = clip.text_width, clip.embed_dim
        hidden = meta_hidden or D // 16
        if self._init is not None:
            ctx = self._init.clone().float()
        else:
            ctx = torch.empty(n_ctx, d)
            nn.init.normal_(ctx, std=init_std)
        self.ctx = nn.Parameter(ctx)
        self.meta_net = nn.Sequential(OrderedDict([
            ("linear1", nn.Linear(D, hidden)), ("relu", nn.ReLU(inplace=True)), ("linear2", nn.Linear(hidden, d))]))

    def _build_text(self, classnames):
        self._init = register_context_tokens(self, classnames, self.n_ctx, self.ctx_init)

    def compute_text_features(self, state, image_features):
        B, n = image_features.shape[0], self.num_classes
        bias = self.meta_net(image_features.to(self.ctx.dtype))          # (B, d_t)
        ctx = self.ctx.unsqueeze(0) + bias.unsqueeze(1)                 # (B, n_ctx, d_t)
        dt = self.token_prefix.dtype
        ctx = ctx.to(dt)

        def rows(s, e):  # prompts s..e-1 of the (B * n_cls) image-major list, built per chunk
            i = torch.arange(s, e, device=ctx.device)
            img, cls = torch.div(i, n, rounding_mode="floor"), i % n
            return torch.cat([self.token_prefix[cls], ctx[img], self.token_suffix[cls]], dim=1)

        L = self.token_prefix.shape[1] + ctx.shape[1] + self.token_suffix.shape[1]
        eot = self.eot.repeat(B)
        if "encode_text_embeddings" in vars(self) or \
                type(self).encode_text_embeddings is not PromptLearner.encode_text_embeddings:
            # a subclass (or a benchmark) intercepts the embeddings: give it the full tensor
            return self.encode_text_embeddings(rows(0, B * n), eot).view(B, n, -1)
        return self.clip.encode_text_rows(rows, B * n, L, eot, chunk=self.text_chunk,
                                          device=ctx.device).view(B, n, -1)

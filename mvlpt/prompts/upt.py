"""UPT: unified text + visual prompts coupled by a small transformer (MVLPT's MUPT).

Raw parameters: text context ``ctx (n_t, d_t)``, visual prompts ``vpt_embeddings (1, n_v, w)`` and
(``deep=True``) ``vpt_embeddings_deep (L-1, n_v, w)``. Each forward maps them into one space::

    t = mvlpt_proj_ctx_coop_pre(ctx)                     (n_t, p)      d_t → p
    v = mvlpt_proj_ctx_vpt_pre([shallow; deep...])       (n_v·L, p)    w → p
    [t'; v'] = coupling([t; v])                          (n_t + n_v·L, p)
    text ctx = mvlpt_proj_ctx_coop_post(t')              used as CoOp context (``position``)
    visual   = mvlpt_proj_ctx_vpt_post(v')               used as VPT prompts, after the class token

Text side: CoOp with that context (``middle`` by default, as the MVLPT scripts). Image side: VPT
after the class token, shallow + deep, **replacing** positions ``1..n_v`` before every block.

``coupling``:
  * ``"tokenwise"`` (default) - the official code: a one-layer CLIP residual block ``mvlpt_proj``
    (width ``p``, 1 head) that, because the official tensor is fed sequence-first, sees sequences
    of length 1: every prompt vector is transformed on its own (no cross-token attention). This is
    what the paper's numbers were produced with and what the parity test checks.
  * ``"attention"`` - the same block over the whole sequence of ``n_t + n_v·L`` prompt tokens: all
    prompt tokens attend to each other (what the paper describes).
  * ``"mlp"`` - per-token residual MLP ``p → 4p → p`` (the official ``mlp`` option crashes).
  * ``"identity"`` - no coupling and no pre/post projections: independent CoOp + VPT prompts.

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import UPT
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = UPT(clip, ["cat", "dog"], n_ctx_text=4, n_ctx_vision=4, coupling="attention")
    >>> model(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 2])
"""
from collections import OrderedDict

import torch
import torch.nn as nn

from .base import PromptLearner
from .registry import register_method
from .coop import context_prompts, register_context_tokens
from .vpt import require_vit, resolve_depth, vpt_init_


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualBlock(nn.Module):
    """CLIP's residual attention block (names as in CLIP: attn, ln_1, mlp.c_fc, mlp.c_proj, ln_2)."""

    def __init__(self, width: int, heads: int = 1):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):  # (batch, seq, width)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Coupler(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.resblocks = nn.Sequential(ResidualBlock(width))

    def forward(self, x):
        return self.resblocks(x)


@register_method("UPT", cfg_node="UPT", prec="fp32")
class UPT(PromptLearner):
    """Unified prompt tuning (coupled text + visual prompts)."""

    vision_trainable = True

    def __init__(self, clip, classnames, n_ctx_text: int = 4, n_ctx_vision: int = 4, deep: bool = True,
                 depth: int = 0, coupling: str = "tokenwise", proj_dim: int = 128, position: str = "middle",
                 ctx_init: str = "", dropout: float = 0.0, init_std: float = 0.02, **kw):
        super().__init__(clip, classnames, **kw)
        require_vit(clip, "UPT")
        if coupling not in ("tokenwise", "attention", "mlp", "identity"):
            raise ValueError(f"coupling must be tokenwise, attention, mlp or identity, got {coupling!r}")
        if ctx_init:
            n_ctx_text = len(ctx_init.replace("_", " ").split())
        self.n_ctx, self.n_ctx_vision, self.coupling = n_ctx_text, n_ctx_vision, coupling
        self.position, self.ctx_init = position, ctx_init
        self.depth = resolve_depth(depth, deep, clip.vision_layers)
        self.set_classnames(classnames)
        d, w = clip.text_width, clip.vision_width
        ctx = self._init.clone().float() if self._init is not None else nn.init.normal_(torch.empty(n_ctx_text, d), std=init_std)
        self.ctx = nn.Parameter(ctx)
        self.vpt_embeddings = nn.Parameter(vpt_init_(torch.empty(1, n_ctx_vision, w), clip, w))
        self.vpt_embeddings_deep = (nn.Parameter(vpt_init_(torch.empty(self.depth - 1, n_ctx_vision, w), clip, w))
                                    if self.depth > 1 else None)
        if coupling != "identity":
            self.mvlpt_proj_ctx_coop_pre = nn.Linear(d, proj_dim)
            self.mvlpt_proj_ctx_coop_post = nn.Linear(proj_dim, d)
            self.mvlpt_proj_ctx_vpt_pre = nn.Linear(w, proj_dim)
            self.mvlpt_proj_ctx_vpt_post = nn.Linear(proj_dim, w)
            if coupling == "mlp":
                self.mvlpt_proj = nn.Sequential(OrderedDict([("c_fc", nn.Linear(proj_dim, 4 * proj_dim)),
                                                             ("gelu", QuickGELU()),
                                                             ("c_proj", nn.Linear(4 * proj_dim, proj_dim))]))
            else:
                self.mvlpt_proj = Coupler(proj_dim)
        self.prompt_dropout = nn.Dropout(dropout)

    # MVLPT's first public checkpoints called the coupling modules upt_proj*
    official_aliases = {"upt_proj": "mvlpt_proj"}

    def _build_text(self, classnames):
        self._init = register_context_tokens(self, classnames, self.n_ctx, self.ctx_init, self.position)

    def make_prompts(self):
        vis = self.vpt_embeddings[0]
        if self.vpt_embeddings_deep is not None:
            vis = torch.cat([vis, self.vpt_embeddings_deep.flatten(0, 1)])      # (n_v·depth, w)
        ctx = self.ctx
        if self.coupling != "identity":
            t = self.mvlpt_proj_ctx_coop_pre(ctx)
            v = self.mvlpt_proj_ctx_vpt_pre(vis)
            seq = torch.cat([t, v])                                              # (n_t + n_v·depth, p)
            if self.coupling == "tokenwise":
                seq = self.mvlpt_proj(seq.unsqueeze(1)).squeeze(1)               # each token alone
            elif self.coupling == "attention":
                seq = self.mvlpt_proj(seq.unsqueeze(0)).squeeze(0)               # one sequence
            else:
                seq = seq + self.mvlpt_proj(seq)
            ctx = self.mvlpt_proj_ctx_coop_post(seq[: self.n_ctx])
            vis = self.mvlpt_proj_ctx_vpt_post(seq[self.n_ctx:])
        vis = self.prompt_dropout(vis).view(self.depth, self.n_ctx_vision, -1)
        deep = [None] + [vis[i] for i in range(1, self.depth)] + [None] * (self.clip.vision_layers - self.depth)
        return {"vision": dict(shallow=vis[0], position="after_cls", deep=deep), "ctx": ctx}

    def compute_text_features(self, state, image_features):
        ctx = state["ctx"] if "ctx" in state else self.make_prompts()["ctx"]
        return self.encode_text_embeddings(context_prompts(self, ctx), self.eot)

"""CoOp: learned context vectors in the text prompt (Zhou et al., IJCV 2022), and MVLPT's MCoOp.

Where the prompts go (text encoder input only; image encoder untouched)::

    prompt string "X X ... X <class>."   (n_ctx X's, or ``ctx_init`` words)
    position="end"    [SOT, ctx_1..ctx_n, <class tokens>, ".", EOT, pad]
    position="middle" [SOT, ctx_1..ctx_n/2, <class tokens>, ctx_n/2+1..ctx_n, ".", EOT, pad]
    position="front"  [SOT, <class tokens>, ctx_1..ctx_n, ".", EOT, pad]

``ctx`` is ``(n_ctx, d_t)`` shared by all classes, or ``(n_cls, n_ctx, d_t)`` with ``csc=True``
(class-specific context). Initialised from the token embeddings of ``ctx_init`` (then
``n_ctx = len(ctx_init.split())``, as the official code) or from N(0, ``init_std``²). Prompts are
trimmed to the longest class prompt (identical features: causal mask). The image side is frozen, so
image features can be cached (``vision_trainable = False``).

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import CoOp
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = CoOp(clip, ["cat", "dog"], n_ctx=16, position="middle")
    >>> model(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 2])
    >>> model.count_parameters()
    8192
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from .base import PromptLearner
from .registry import register_method


def context_tokens(learner: PromptLearner, classnames: List[str], n_ctx: int, ctx_init: str = "",
                   template: str = "{ctx} {cls}."):
    """Tokenise ``"<ctx words> <class>."`` for every class.

    Returns ``(embedding (n_cls, L, d), eot (n_cls,), name_lens [int], init (n_ctx, d) or None)``
    where ``init`` are the embeddings of the first ``n_ctx`` tokens after SOT when ``ctx_init`` is set.
    """
    ctx_words = ctx_init.replace("_", " ").strip() if ctx_init else " ".join(["X"] * n_ctx)
    texts = [template.format(ctx=ctx_words, cls=c) for c in classnames]
    ids = learner.tokenize(texts)
    with torch.no_grad():
        emb = learner.clip.token_embedding(ids)
    init = emb[0, 1:1 + n_ctx].clone() if ctx_init else None
    name_lens = [learner.clip.bpe_length(c) for c in classnames]
    return emb, ids.argmax(-1), name_lens, init


def register_context_tokens(learner: PromptLearner, classnames: List[str], n_ctx: int, ctx_init: str = "",
                            position: str = "end"):
    """Register ``token_prefix (n_cls, 1, d)``, ``token_suffix (n_cls, S, d)``, ``eot`` and ``order``
    (empty for ``end``) on ``learner``; return the ``ctx_init`` embeddings (or ``None``)."""
    emb, eot, lens, init = context_tokens(learner, classnames, n_ctx, ctx_init)
    learner._register_tokens("token_prefix", emb[:, :1])
    learner._register_tokens("token_suffix", emb[:, 1 + n_ctx:])
    learner._register_tokens("eot", eot)
    order = position_order(lens, n_ctx, emb.shape[1], position)
    learner._register_tokens("order", order if order is not None else torch.empty(0, dtype=torch.long))
    return init


def context_prompts(learner: PromptLearner, ctx: torch.Tensor) -> torch.Tensor:
    """Token embeddings of every class prompt with context ``ctx`` placed as registered."""
    order = learner.order if learner.order.numel() else None
    return assemble(learner.token_prefix, ctx, learner.token_suffix, order)


def position_order(name_lens: Sequence[int], n_ctx: int, length: int, position: str) -> Optional[torch.Tensor]:
    """Index ``(n_cls, L)`` that reorders ``[SOT, ctx, class, rest]`` for the class-token position."""
    if position == "end":
        return None
    if position not in ("middle", "front"):
        raise ValueError(f"class token position must be end, middle or front, got {position!r}")
    rows = []
    for nl in name_lens:
        cls = list(range(n_ctx + 1, n_ctx + 1 + nl))
        rest = list(range(n_ctx + 1 + nl, length))
        if position == "middle":
            half = n_ctx // 2
            rows.append([0] + list(range(1, half + 1)) + cls + list(range(half + 1, n_ctx + 1)) + rest)
        else:
            rows.append([0] + cls + list(range(1, n_ctx + 1)) + rest)
    return torch.tensor(rows, dtype=torch.long)


def assemble(prefix: torch.Tensor, ctx: torch.Tensor, suffix: torch.Tensor, order: Optional[torch.Tensor] = None):
    """``[prefix, ctx, suffix]`` along the token axis, reordered by ``order``.

    ``prefix (n, 1, d)``, ``suffix (n, S, d)``; ``ctx (k, d)``, ``(n, k, d)`` or per image ``(B, k, d)``
    with ``batched=True`` shapes ``(B, n, L, d)`` handled by the caller via broadcasting.
    """
    n = prefix.shape[0]
    if ctx.dim() == 2:
        ctx = ctx.unsqueeze(0).expand(n, -1, -1)
    full = torch.cat([prefix, ctx.to(prefix.dtype), suffix], dim=1)
    if order is None:
        return full
    return full.gather(1, order.to(full.device).unsqueeze(-1).expand(-1, -1, full.shape[-1]))


@register_method("CoOp", cfg_node="COOP", prec="fp16", renames={"CLASS_TOKEN_POSITION": "POSITION"})
class CoOp(PromptLearner):
    """Context Optimization. See the module docstring for where the prompts go and the shapes."""

    def __init__(self, clip, classnames: Sequence[str], n_ctx: int = 16, ctx_init: str = "", csc: bool = False,
                 position: str = "end", init_std: float = 0.02, **kw):
        super().__init__(clip, classnames, **kw)
        if ctx_init:
            n_ctx = len(ctx_init.replace("_", " ").split())
        if n_ctx < 1:
            raise ValueError("CoOp needs n_ctx >= 1")
        self.n_ctx, self.ctx_init, self.csc, self.position, self.init_std = n_ctx, ctx_init, csc, position, init_std
        self.set_classnames(classnames)
        d = clip.text_width
        if self._init is not None:
            ctx = self._init.clone()
            if csc:
                ctx = ctx.unsqueeze(0).repeat(len(classnames), 1, 1)
        else:
            ctx = torch.empty(len(classnames), n_ctx, d) if csc else torch.empty(n_ctx, d)
            nn.init.normal_(ctx, std=init_std)
        self.ctx = nn.Parameter(ctx.float())

    def _build_text(self, classnames):
        if self.csc and hasattr(self, "ctx") and self.ctx.shape[0] != len(classnames):
            raise ValueError(f"class-specific context was learned for {self.ctx.shape[0]} classes, "
                             f"cannot be used with {len(classnames)}")
        self._init = register_context_tokens(self, classnames, self.n_ctx, self.ctx_init, self.position)

    def compute_text_features(self, state, image_features):
        return self.encode_text_embeddings(context_prompts(self, self.ctx), self.eot)

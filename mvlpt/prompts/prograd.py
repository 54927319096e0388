"""ProGrad: prompt-aligned gradient (Zhu et al., ICCV 2023).

Where the prompts go: CoOp's, ``position="end"``, ``n_ctx = 16``::

    [SOT, ctx_1..ctx_16, <class tokens>, ".", EOT]

With ``ctx_init=True`` (official flag) the context starts as ``n_ctx − k`` **zero** vectors followed by
the embeddings of the ``k`` words of the data set's template before ``{}`` (ImageNet ``"a photo of
a {}."`` → ``"a photo of a"``, k = 4); the tokenised string is ``"X ×12 a photo of a <class>."``.

Training. A frozen zero-shot teacher ``t0 = normalize(text features of template.format(c))`` gives
``z0 = exp(logit_scale)·normalize(f)·t0ᵀ``. With the prompted logits ``z`` and ``T = loss_t``::

    xe = CE(z, y)                                   (computed by the training step)
    kl = mean_b Σ_c −softmax(z0/T)·log_softmax(z/T)·T²  (a cross-entropy to the teacher)

They are **not** summed: only ``xe`` is back-propagated, and its gradient is projected per
parameter tensor: with ``u = ∇kl/‖∇kl‖``, if ``cos(∇xe, u) < 0`` the applied gradient is
``∇xe − λ·(∇xe·u)·u`` (``λ = loss_lambda``), else ``∇xe`` (:func:`project_gradient`).
:meth:`forward_train` returns ``(z, {})`` and stashes ``∇kl`` (``torch.autograd.grad`` with
``retain_graph``); :meth:`transform_gradients` (after backward and unscaling) projects ``p.grad``
in place. ``last_projection`` records per tensor whether the projection fired; ``last_kl`` the value.

Official behaviour (BeierZhu/Prompt-align ``1b76203``): config ``LOSS.LAMBDA`` → ``loss_lambda``,
``LOSS.T`` → ``loss_t``, ``TRAINER.COOP.*`` as CoOp. Differs: a zero ``∇kl`` or ``∇xe`` (the official
code divides by its norm and gets NaN) leaves the gradient unprojected. Under DDP ``∇kl`` is the
local rank's (the official code is single-GPU).

Example::

    >>> import torch, torch.nn.functional as F
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import ProGrad
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = ProGrad(clip, ["cat", "dog"])
    >>> logits, terms = model.forward_train(torch.randn(2, 3, 224, 224))
    >>> F.cross_entropy(logits, torch.tensor([0, 1])).backward()
    >>> model.transform_gradients(); model.ctx.grad.shape
    torch.Size([16, 512])
"""
from typing import Sequence

import torch
import torch.nn.functional as F

from .coop import CoOp, context_tokens, position_order
from .registry import register_method
from .templates import dataset_template
from .zsclip import fixed_text_features


def project_gradient(g: torch.Tensor, g_ref: torch.Tensor, lam: float = 1.0):
    """``(applied gradient, fired)``: remove ``lam`` × the component of ``g`` along ``g_ref`` when they conflict."""
    ng, nr = torch.linalg.vector_norm(g), torch.linalg.vector_norm(g_ref)
    if ng == 0 or nr == 0:
        return g, False
    u = (g_ref / nr).flatten()
    if torch.dot((g / ng).flatten(), u) < 0:
        return g - lam * torch.dot(g.flatten(), u) * u.view_as(g), True
    return g, False


@register_method("ProGrad", cfg_node="PROGRAD", prec="fp16", renames={"CLASS_TOKEN_POSITION": "POSITION"})
class ProGrad(CoOp):
    """CoOp whose cross-entropy gradient is projected against the zero-shot KL gradient."""

    def __init__(self, clip, classnames: Sequence[str], n_ctx: int = 16, ctx_init: bool = True, csc: bool = False,
                 position: str = "end", loss_lambda: float = 1.0, loss_t: float = 1.0,
                 template: str = "a photo of a {}.", init_std: float = 0.02, **kw):
        self.template, self.loss_lambda, self.loss_t = template, float(loss_lambda), float(loss_t)
        words = template.split("{}")[0].strip() if ctx_init is True else (ctx_init or "")
        self.init_words = words.replace("_", " ")
        super().__init__(clip, classnames, n_ctx=n_ctx, ctx_init="", csc=csc, position=position, init_std=init_std, **kw)
        self._kl_grads, self.last_projection, self.last_kl = None, [], None

    def _build_text(self, classnames):
        if self.csc and hasattr(self, "ctx") and self.ctx.shape[0] != len(classnames):
            raise ValueError(f"class-specific context was learned for {self.ctx.shape[0]} classes")
        k = len(self.init_words.split())
        if k > self.n_ctx:
            raise ValueError(f"ProGrad: the init words {self.init_words!r} are longer than n_ctx={self.n_ctx}")
        words = " ".join(["X"] * (self.n_ctx - k) + ([self.init_words] if k else []))
        emb, eot, lens, _ = context_tokens(self, classnames, self.n_ctx, words)
        self._register_tokens("token_prefix", emb[:, :1])
        self._register_tokens("token_suffix", emb[:, 1 + self.n_ctx:])
        self._register_tokens("eot", eot)
        order = position_order(lens, self.n_ctx, emb.shape[1], self.position)
        self._register_tokens("order", order if order is not None else torch.empty(0, dtype=torch.long))
        self._init = None
        if k:
            self._init = torch.zeros(self.n_ctx, emb.shape[-1], dtype=emb.dtype, device=emb.device)
            self._init[self.n_ctx - k:] = emb[0, 1 + self.n_ctx - k:1 + self.n_ctx]
        with torch.no_grad():
            teacher = fixed_text_features(self, classnames, [self.template])
        self._register_tokens("teacher_features", F.normalize(teacher.float(), dim=-1))

    def forward_train(self, images=None, image_features=None, labels=None):
        state = self.make_prompts()
        if image_features is None:
            image_features = self.encode_images(images, state)
        logits = self.logits_from_features(state, image_features)
        with torch.no_grad():
            imf = F.normalize(image_features.float(), dim=-1)
            z0 = self.clip.logit_scale.exp().float() * imf @ self.teacher_features.t()
        T = self.loss_t
        kl = (-(F.softmax(z0 / T, dim=-1) * F.log_softmax(logits.float() / T, dim=-1)).sum(-1)).mean() * T * T
        self.last_kl = kl.detach()
        params = [p for _, p in self.trainable_named_parameters()]
        self._kl_grads = None
        if torch.is_grad_enabled() and kl.requires_grad:
            self._kl_grads = torch.autograd.grad(kl, params, retain_graph=True, allow_unused=True)
        return logits, {}

    def transform_gradients(self):
        """Project every ``p.grad`` (the CE gradient) against the stashed KL gradient, in place."""
        if self._kl_grads is None:
            return
        fired = []
        for (_, p), gk in zip(self.trainable_named_parameters(), self._kl_grads):
            if p.grad is None or gk is None:
                fired.append(False)
                continue
            g, f = project_gradient(p.grad, gk.to(p.grad.dtype), self.loss_lambda)
            if f:
                p.grad.copy_(g)
            fired.append(f)
        self.last_projection, self._kl_grads = fired, None

    @classmethod
    def official_kwargs(cls, cfg: dict) -> dict:
        """Constructor kwargs from the official config: ``TRAINER.COOP.*`` and ``LOSS.LAMBDA``/``LOSS.T``."""
        coop, loss = (cfg.get("TRAINER") or {}).get("COOP") or {}, cfg.get("LOSS") or {}
        return dict(n_ctx=coop.get("N_CTX", 16), ctx_init=coop.get("CTX_INIT", True), csc=bool(coop.get("CSC", False)),
                    position=coop.get("CLASS_TOKEN_POSITION", "end"), loss_lambda=loss.get("LAMBDA", 1.0),
                    loss_t=loss.get("T", 1.0), template=dataset_template((cfg.get("DATASET") or {}).get("NAME", "ImageNet")))


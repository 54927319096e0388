"""KgCoOp: CoOp with knowledge-guided context optimization (Yao et al., CVPR 2023).

Where the prompts go: exactly CoOp's (text encoder input only, image encoder untouched)::

    [SOT, ctx_1..ctx_n, <class tokens>, ".", EOT]          (position="end", the official setting)

``ctx (n_ctx, d_t)`` (or ``(n_cls, n_ctx, d_t)`` with ``csc``). What KgCoOp adds is a training term
that keeps the learned class embeddings close to the hand-crafted ones::

    t_c     = normalize(text feature of class c with the learned context)         (n_cls, D)
    t_c^hc  = normalize(text feature of template.format(c)), fixed, no gradient   (n_cls, D)
    kg      = 1 - mean_c cos(t_c, t_c^hc)          (cosine with eps 1e-7, as the official code)
    loss    = CE(logits, y) + w * kg

:meth:`forward_train` returns ``(logits, {"kg": w * kg})``; the training step adds the CE. The
term does not depend on the image. At test time KgCoOp is plain CoOp (the term plays no role).

Official behaviour reproduced by default (htyao89/KgCoOp ``c43ccc3``):

* ``ctx_init=True`` is the official *flag*: the init words are hard-coded to ``"a photo of a"``, so
  ``n_ctx = 4`` whatever ``n_ctx`` says. ``ctx_init=False`` draws ``n_ctx`` vectors from N(0, 0.02²);
  a string (Python API) initialises from those words.
* ``w = 8.0``: the repo's run scripts (its ``train.py`` default is 1.0).
* The hand-crafted target uses the data set's template (``ImageNet`` → ``"a photo of a {}."``), is
  normalised at build and again in the loss (idempotent up to rounding).
* Official checkpoints also hold two unused leftovers, ``bias_vectors`` and ``meta_net.linear1.*``
  (a CoCoOp-style net that forward never calls): they are ignored when loading.
* Differs from the official GPU run: there the hand-crafted CLIP stays in fp16 whatever ``PREC``
  says (a target off by fp16 rounding, ~1e-3 relative); here it is the same CLIP as the prompts use.

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import KgCoOp
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = KgCoOp(clip, ["cat", "dog"], w=8.0)
    >>> logits, terms = model.forward_train(torch.randn(2, 3, 224, 224))
    >>> logits.shape, sorted(terms), model.count_parameters()
    (torch.Size([2, 2]), ['kg'], 2048)
"""
from typing import Sequence, Union

import torch
import torch.nn.functional as F

from .coop import CoOp
from .registry import register_method
from .templates import dataset_template
from .zsclip import fixed_text_features

#: the words the official code initialises the context from when ``CTX_INIT`` is on
OFFICIAL_INIT = "a photo of a"


def init_words(ctx_init: Union[bool, str]) -> str:
    """``True`` → the official hard-coded words, ``False``/``""`` → none (random), a string → itself."""
    if ctx_init is True:
        return OFFICIAL_INIT
    return ctx_init if isinstance(ctx_init, str) else ""


@register_method("KgCoOp", cfg_node="KGCOOP", prec="fp16", renames={"CLASS_TOKEN_POSITION": "POSITION"})
class KgCoOp(CoOp):
    """CoOp + the knowledge-guided term. See the module docstring for semantics and shapes."""

    def __init__(self, clip, classnames: Sequence[str], n_ctx: int = 4, ctx_init: bool = True, csc: bool = False,
                 position: str = "end", w: float = 8.0, template: str = "a photo of a {}.",
                 init_std: float = 0.02, **kw):
        self.template, self.w = template, float(w)
        super().__init__(clip, classnames, n_ctx=n_ctx, ctx_init=init_words(ctx_init), csc=csc, position=position,
                         init_std=init_std, **kw)

    def _build_text(self, classnames):
        super()._build_text(classnames)
        with torch.no_grad():
            hand = fixed_text_features(self, classnames, [self.template])
        self._register_tokens("hand_features", F.normalize(hand.float(), dim=-1))

    def _normalise_keys(self, sd):
        """Drop the official file's unused ``bias_vectors`` and ``meta_net.*`` leftovers."""
        sd = super()._normalise_keys(sd)
        return {k: v for k, v in sd.items() if k != "bias_vectors" and not k.startswith("meta_net.")}

    def forward_train(self, images=None, image_features=None, labels=None):
        state = self.make_prompts()
        if image_features is None:
            image_features = self.encode_images(images, state)
        imf = F.normalize(self.adapt_image_features(image_features), dim=-1)
        tf = F.normalize(self.text_features(state, imf), dim=-1)
        logits = self.clip.logit_scale.exp() * imf @ tf.to(imf.dtype).t()
        hand = F.normalize(self.hand_features, dim=-1)
        cos = F.cosine_similarity(tf.float(), hand, dim=1, eps=1e-7)
        return logits, {"kg": self.w * (1.0 - cos.mean())}

    @classmethod
    def official_kwargs(cls, cfg: dict) -> dict:
        """Constructor kwargs from the official (KgCoOp repo) config: everything is under ``TRAINER.COOP``."""
        coop = (cfg.get("TRAINER") or {}).get("COOP") or {}
        return dict(n_ctx=coop.get("N_CTX", 4), ctx_init=coop.get("CTX_INIT", True), csc=bool(coop.get("CSC", False)),
                    position=coop.get("CLASS_TOKEN_POSITION", "end"), w=coop.get("W", 8.0),
                    template=dataset_template((cfg.get("DATASET") or {}).get("NAME", "ImageNet")))


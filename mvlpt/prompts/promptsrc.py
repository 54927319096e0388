"""PromptSRC: self-regulating prompts (Khattak et al., ICCV 2023).

Where the prompts go: IVLP's places (see :mod:`mvlpt.prompts.maple`), 4 + 4 tokens, depth 9::

    text   layer 0: "a photo of a <class>." with positions 1..4 = ctx (init "a photo of a")
           layers 1..8: compound_prompts_text[i-1] (4, d_t) replace positions 1..4
    vision layer 0: vpt_embeddings (1, 4, w) appended after the patches, before ln_pre
           layers 1..8: vpt_embeddings_deep[i-1] (4, w) replace the last 4 tokens

Self-regulation against the frozen CLIP (``t``/``v``: normalised prompted text/image features,
``t0``: normalised teacher text features, ``v0``: normalised plain-CLIP image features, ``s``:
``exp(logit_scale)``, ``z = s·v·tᵀ`` the logits, ``z0 = s·v0·fp16(t0)ᵀ``)::

    scl_text   = text_loss_weight  · mean |t − t0|        (over n_cls × D; weight 25)
    scl_image  = image_loss_weight · mean |v − v0|        (over B × D;     weight 10)
    scl_logits = Σ softmax(z0)·(log softmax(z0) − log softmax(z)) / (B · n_cls)

:meth:`forward_train` returns ``(z, {"scl_text", "scl_image", "scl_logits"})``, weighted; the step
adds CE. ``t0`` = the **un-normalised** teacher features averaged over the 60 ImageNet templates
(:data:`~mvlpt.prompts.templates.IMAGENET_TEMPLATES_60`; computed at the first training step, once
per class list: evaluation never needs it), normalised. Eval logits: ``z``.

Gaussian prompt aggregation (GPA): with ``N = max_epoch``, ``w_e ∝ exp(−(e−μ)²/2σ²)`` over
``e = 1..N`` (float64, normalised; μ = ``gpa_mean`` 15, σ = ``gpa_std`` 1), :meth:`on_epoch_end`
adds ``w_e·θ_e`` to a running sum of the prompt tensors; after the last epoch the prompts are
replaced by the sum. The running sum is in :meth:`procedure_state`, so a resumed run aggregates the same;
:meth:`on_train_begin` clears it, so a second training run of the same learner object (a notebook, the
learnability test) starts a fresh aggregate (the engine restores a resumed run's sum after ``on_train_begin``).

Official behaviour (muzairkhattak/PromptSRC ``bb95c77``) and what differs:

* The teacher logits use fp16-rounded teacher text features (reproduced: ``fp16(t0)`` above).
* The official forward casts every prompt to fp16 (``.half()``) also in fp32 mode: gradients differ by
  ~1e-3 of their maximum (the parity tolerance covers it); prompts here stay in the model's dtype.
* Official GPA sums the whole ``state_dict`` (frozen CLIP included, which thus changes by fp32
  rounding); here only the prompt tensors are aggregated and the frozen CLIP stays exact.
* The official image teacher is a second CLIP copy in fp16; here it is the same frozen CLIP, no prompts.
* Checkpoint names: ``prompt_learner.ctx``, ``image_encoder.VPT``, ``{image,text}_encoder.transformer.
  resblocks.{i}.VPT_shallow`` (model folder ``VLPromptLearner``); both load, :meth:`export_official` writes them.

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import PromptSRC
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = PromptSRC(clip, ["cat", "dog"], templates=["a photo of a {}.", "art of a {}."])
    >>> logits, terms = model.forward_train(torch.randn(2, 3, 224, 224))
    >>> logits.shape, sorted(terms)
    (torch.Size([2, 2]), ['scl_image', 'scl_logits', 'scl_text'])
"""
import math
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F

from .maple import IVLP
from .registry import register_method
from .templates import IMAGENET_TEMPLATES_60


def gpa_weights(max_epoch: int, mean: float = 15.0, std: float = 1.0):
    """Normalised Gaussian weights ``[w_1 .. w_N]`` (float64), as the official code computes them."""
    g = [math.exp(-((e - mean) ** 2) / (2 * std ** 2)) / (std * math.sqrt(2 * math.pi)) for e in range(1, max_epoch + 1)]
    total = sum(g)
    return [x / total for x in g]


@register_method("PromptSRC", cfg_node="PROMPTSRC", prec="fp16",
                 renames={"PROMPT_DEPTH_TEXT": "DEPTH_TEXT", "PROMPT_DEPTH_VISION": "DEPTH_VISION"})
class PromptSRC(IVLP):
    """IVLP deep prompts + self-regulating terms + Gaussian prompt aggregation. See the module docstring."""

    def __init__(self, clip, classnames: Sequence[str], n_ctx_text: int = 4, n_ctx_vision: int = 4,
                 ctx_init: str = "a photo of a", depth_text: int = 9, depth_vision: int = 9,
                 text_loss_weight: float = 25, image_loss_weight: float = 10, gpa_mean: float = 15,
                 gpa_std: float = 1, templates: Sequence[str] = (), **kw):
        self.templates = list(templates) if templates else list(IMAGENET_TEMPLATES_60)
        super().__init__(clip, classnames, n_ctx_text=n_ctx_text, n_ctx_vision=n_ctx_vision, ctx_init=ctx_init,
                         depth_text=depth_text, depth_vision=depth_vision, **kw)
        if depth_vision < 1:
            raise ValueError("PromptSRC needs vision prompts (depth_vision >= 1)")
        self.text_loss_weight, self.image_loss_weight = float(text_loss_weight), float(image_loss_weight)
        self.gpa_mean, self.gpa_std = float(gpa_mean), float(gpa_std)
        self._gpa_sum, self._gpa_epochs = None, 0

    # ------------------------------------------------------------------ teacher
    def _build_text(self, classnames):
        super()._build_text(classnames)
        self._teacher = None  # computed at the first training step: evaluation never needs it

    def fixed_embeddings(self) -> torch.Tensor:
        """The teacher text features ``(n_cls, D)``: un-normalised, averaged over the templates."""
        dev = self.clip.logit_scale.device
        if self._teacher is None or self._teacher.device != dev:
            feats = []
            with torch.no_grad():
                for t in self.templates:
                    ids = self.tokenize([t.format(c) for c in self.classnames])
                    feats.append(self.clip.encode_text_chunked(self.clip.token_embedding(ids), ids.argmax(-1),
                                                               chunk=self.text_chunk or 256).float())
            self._teacher = torch.stack(feats, dim=1).mean(dim=1)
        return self._teacher

    def forward_train(self, images=None, image_features=None, labels=None):
        if images is None:
            raise ValueError("PromptSRC trains its visual prompts: forward_train needs images, not cached features")
        state = self.make_prompts()
        v = F.normalize(self.encode_images(images, state), dim=-1)
        t = F.normalize(self.text_features(state, v), dim=-1).to(v.dtype)
        s = self.clip.logit_scale.exp()
        z = s * v @ t.t()
        with torch.no_grad():
            v0 = F.normalize(self.clip.encode_image(images), dim=-1).to(v.dtype)
        t0 = F.normalize(self.fixed_embeddings(), dim=-1).to(v.dtype)
        z0 = s * v0 @ t0.half().to(v.dtype).t()
        kl = F.kl_div(F.log_softmax(z, dim=1), F.log_softmax(z0, dim=1), reduction="sum", log_target=True)
        return z, {"scl_text": self.text_loss_weight * F.l1_loss(t, t0),
                   "scl_image": self.image_loss_weight * F.l1_loss(v, v0),
                   "scl_logits": kl / z.numel()}

    # ------------------------------------------------------------------ GPA
    def on_train_begin(self, train_features=None, val_features=None):
        """A new training run: clear the running aggregate (a resumed run gets its own back afterwards)."""
        self._gpa_sum, self._gpa_epochs = None, 0

    def on_epoch_end(self, epoch: int, max_epoch: int):
        """Add ``w_{epoch+1} · θ`` to the running sum; after the last epoch load the sum into the prompts."""
        w = gpa_weights(max_epoch, self.gpa_mean, self.gpa_std)[epoch]
        cur = self.prompt_state_dict()
        if self._gpa_sum is None:
            self._gpa_sum = OrderedDict((n, p * w) for n, p in cur.items())
        else:
            self._gpa_sum = OrderedDict((n, self._gpa_sum[n] + p * w) for n, p in cur.items())
        self._gpa_epochs = epoch + 1
        if epoch + 1 == max_epoch:
            self.load_prompt_state(self._gpa_sum)

    def procedure_state(self) -> dict:
        return {"gpa_sum": dict(self._gpa_sum) if self._gpa_sum is not None else None, "gpa_epochs": self._gpa_epochs}

    def load_procedure_state(self, state: dict):
        s = state.get("gpa_sum")
        self._gpa_sum = OrderedDict(s) if s is not None else None
        self._gpa_epochs = int(state.get("gpa_epochs", 0))

    # ------------------------------------------------------------------ official names
    def export_official(self):
        sd, out = self.prompt_state_dict(), OrderedDict()
        out["prompt_learner.ctx"] = sd["ctx"]
        for i, p in enumerate(self.compound_prompts_text):
            out[f"text_encoder.transformer.resblocks.{i + 1}.VPT_shallow"] = p.detach().clone()
        out["image_encoder.VPT"] = sd["vpt_embeddings"][0]
        for i in range(self.depth_vision - 1):
            out[f"image_encoder.transformer.resblocks.{i + 1}.VPT_shallow"] = sd["vpt_embeddings_deep"][i]
        return out

    @classmethod
    def official_kwargs(cls, cfg: dict) -> dict:
        node = (cfg.get("TRAINER") or {}).get("PROMPTSRC") or {}
        return dict(n_ctx_text=node.get("N_CTX_TEXT", 4), n_ctx_vision=node.get("N_CTX_VISION", 4),
                    ctx_init=node.get("CTX_INIT", "a photo of a"), depth_text=node.get("PROMPT_DEPTH_TEXT", 9),
                    depth_vision=node.get("PROMPT_DEPTH_VISION", 9),
                    text_loss_weight=node.get("TEXT_LOSS_WEIGHT", 25), image_loss_weight=node.get("IMAGE_LOSS_WEIGHT", 10),
                    gpa_mean=node.get("GPA_MEAN", 15), gpa_std=node.get("GPA_STD", 1))

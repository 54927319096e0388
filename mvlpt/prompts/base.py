"""The prompt-learner interface shared by every method.

A prompt learner is an ``nn.Module`` around a :class:`~mvlpt.clip.FrozenCLIP` and a class list.
It owns the trainable tensors and, on each forward, decides *what to insert* into the two frozen
encoders; this base class runs the encoders, caches what is frozen, and produces logits::

    logits = exp(logit_scale) * normalize(image_features) @ normalize(text_features).T

Subclasses implement

* ``_build_text(classnames)`` - tokenise the class prompts, register class-dependent buffers;
* ``make_prompts()`` - one dict per forward: ``{"vision": {...encode_image kwargs...}, ...}``;
  shared work (MaPLe's projections, UPT's coupling) happens here once per forward;
* ``compute_text_features(state, image_features)`` - ``(n_cls, D)`` or, when image-conditioned,
  ``(B, n_cls, D)``.

Caching (exact, never approximate):

* fixed text (``text_trainable = False``: ZS-CLIP, VPT): text features are computed once per class
  list, under ``no_grad``, and reused until :meth:`set_classnames` or a device/dtype change;
* learned text, not image-conditioned (CoOp, MaPLe, UPT): in eval mode without grad the text
  features are computed once and reused while no parameter changed (tracked by tensor versions,
  which every in-place optimiser update bumps) - i.e. once per evaluation pass, not per batch;
* frozen vision (``vision_trainable = False``: ZS-CLIP, CoOp, CoCoOp): callers may compute
  :meth:`encode_images` once per image and pass ``image_features=`` to :meth:`forward`.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..clip.model import parse_text_chunk


class CheckpointMismatch(ValueError):
    """A prompt checkpoint does not fit this learner; the message names the keys."""


class PromptLearner(nn.Module):
    #: does a text prompt train? (False: text features of a class list are constant)
    text_trainable = True
    #: does a visual prompt train? (False: image features of an image are constant)
    vision_trainable = False
    #: do the text features depend on the image (CoCoOp)?
    image_conditioned = False
    #: how the official trainer's checkpoint prefixes the prompt parameters, and its model folder
    official_prefix = ""
    official_model_name = "prompt_learner"
    #: official key aliases (old name prefix -> ours), e.g. MVLPT's early ``upt_proj``
    official_aliases: Dict[str, str] = {}

    def __init__(self, clip, classnames: Sequence[str], trim_text: bool = True, text_chunk: str = "auto",
                 cache: bool = True):
        """``trim_text``: cut prompts to the longest class prompt (exact); ``text_chunk``: prompts per
        text-encoder pass: ``"auto"`` (as many as the memory budget allows, see
        :meth:`~mvlpt.clip.FrozenCLIP.encode_text_chunked`), ``0``/``"all"`` (one pass) or a number
        (``"512"`` from a config works too; ``TRAINER.<NODE>.TEXT_CHUNK``); the result is the same;
        ``cache``: reuse frozen features (exact)."""
        super().__init__()
        self.clip = clip
        self.trim_text = trim_text
        self.text_chunk = parse_text_chunk(text_chunk)
        self.cache = cache
        self._text_cache = None  # (key, features)

    # ------------------------------------------------------------------ classes
    def set_classnames(self, classnames: Sequence[str]):
        """Use another class list (evaluation on new classes, another task). Rebuilds the token buffers."""
        self.classnames = [str(c).replace("_", " ") for c in classnames]
        self._text_cache = None
        self._build_text(self.classnames)
        return self

    @property
    def num_classes(self) -> int:
        return len(self.classnames)

    def _build_text(self, classnames: List[str]):
        raise NotImplementedError

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids ``(n, L)``; ``L`` = the longest prompt (SOT..EOT) when ``trim_text`` else 77."""
        ids = self.clip.tokenize(texts)
        if self.trim_text:
            ids = ids[:, : int(ids.argmax(-1).max()) + 1]
        return ids

    def _register_tokens(self, name: str, value: torch.Tensor):
        """A class-dependent buffer: not saved (rebuilt from class names), moves with the module."""
        if name in self._buffers:
            del self._buffers[name]
        self.register_buffer(name, value, persistent=False)

    # ------------------------------------------------------------------ forward
    def make_prompts(self) -> dict:
        return {}

    def compute_text_features(self, state: dict, image_features: Optional[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def encode_images(self, images: torch.Tensor, state: Optional[dict] = None) -> torch.Tensor:
        """Image features ``(B, D)`` (not normalised), with this learner's visual prompts."""
        state = self.make_prompts() if state is None else state
        return self.clip.encode_image(images, **state.get("vision", {}))

    def encode_text_embeddings(self, x, eot, deep=None):
        return self.clip.encode_text_chunked(x, eot, deep, chunk=self.text_chunk)

    def _param_versions(self):
        return tuple((p.data_ptr(), p._version) for p in self.parameters() if p.requires_grad)

    def text_features(self, state: dict, image_features: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Text features, from the cache when that is exact (see the module docstring)."""
        if self.image_conditioned or not self.cache:
            return self.compute_text_features(state, image_features)
        if not self.text_trainable:
            key = ("fixed", self.clip.dtype, self.clip.logit_scale.device)
            if self._text_cache is None or self._text_cache[0] != key:
                with torch.no_grad():
                    self._text_cache = (key, self.compute_text_features(state, None).detach())
            return self._text_cache[1]
        if not self.training and not torch.is_grad_enabled():
            key = ("eval", self._param_versions(), self.clip.dtype)
            if self._text_cache is None or self._text_cache[0] != key:
                self._text_cache = (key, self.compute_text_features(state, None).detach())
            return self._text_cache[1]
        self._text_cache = None
        return self.compute_text_features(state, None)

    def forward(self, images: Optional[torch.Tensor] = None, image_features: Optional[torch.Tensor] = None):
        """``images (B, 3, H, W)`` or precomputed ``image_features (B, D)`` → logits ``(B, n_cls)``.

        Precomputed features are those of :meth:`encode_images` (the frozen encoder's output, before
        :meth:`adapt_image_features`), so a feature cache keeps working for adapter methods."""
        state = self.make_prompts()
        if image_features is None:
            image_features = self.encode_images(images, state)
        return self.logits_from_features(state, self.adapt_image_features(image_features))

    def logits_from_features(self, state: dict, image_features: torch.Tensor) -> torch.Tensor:
        """``exp(logit_scale) · normalize(image_features) @ normalize(text_features)ᵀ`` → ``(B, n_cls)``."""
        imf = F.normalize(image_features, dim=-1)
        tf = F.normalize(self.text_features(state, imf), dim=-1)
        scale = self.clip.logit_scale.exp()
        if tf.dim() == 3:  # per-image class features (CoCoOp)
            return scale * torch.einsum("bd,bcd->bc", imf, tf.to(imf.dtype))
        return scale * imf @ tf.to(imf.dtype).t()

    # ------------------------------------------------------------------ plug-in points
    # Every method is one learner class; what a method changes in *training* it says here, never
    # through a trainer subclass. The engine calls these; without the engine they are plain methods.
    #: the engine calls :meth:`on_train_begin` with the training set's frozen image features
    needs_train_features = False
    #: the engine passes ``val_features=(features (M, D), labels (M,))`` of the validation split (frozen image
    #: encoder, encoded once) to :meth:`on_train_begin` and :meth:`on_train_end` (may be set per instance)
    needs_val_features = False
    #: can the prompt state be averaged over runs and moved to another task (MVLPT source -> target)?
    transferable = True

    @classmethod
    def config_kwargs(cls, kwargs: dict, dataset=None, num_tasks: int = 1) -> dict:
        """Constructor kwargs from the config node (already lower-cased) → the kwargs to build with; the
        engine passes the training ``dataset`` (its ``template``, classes ...). Default: unchanged."""
        return kwargs

    @classmethod
    def official_kwargs(cls, cfg: dict) -> dict:
        """Constructor kwargs from a full official config (nested dict or CfgNode). Default: the method's
        ``TRAINER.<NODE>`` with its registered official ``renames``; methods whose official config is laid
        out differently, or whose official *values* mean something else here, override it."""
        from .registry import METHODS, kwargs_from_node

        spec = next(s for s in METHODS.values() if s.learner is cls)
        node = ((cfg or {}).get("TRAINER") or {}).get(spec.cfg_node) or {}
        return kwargs_from_node(spec, {k: ("" if v is None else v) for k, v in dict(node).items()})

    def adapt_image_features(self, image_features: torch.Tensor) -> torch.Tensor:
        """Between the (possibly cached) frozen image features ``(B, D)`` and the logits: adapter
        methods (CLIP-Adapter) transform them here. Default: identity."""
        return image_features

    def forward_train(self, images: Optional[torch.Tensor] = None, image_features: Optional[torch.Tensor] = None,
                      labels: Optional[torch.Tensor] = None):
        """Training forward → ``(logits (B, n_cls), terms)``.

        ``terms`` maps names to **weighted** scalar loss terms that the training step adds to the
        classification loss it computes on ``logits`` (cross-entropy, or the multitask loss); the step
        logs every term (``loss_<name>`` in log.txt, ``train/loss_<name>`` in TensorBoard) and the total,
        and stops on a non-finite one. Default: none."""
        return self(images, image_features=image_features), {}

    def transform_gradients(self):
        """After backward (gradients averaged over ranks and unscaled), before the optimizer step:
        edit ``p.grad`` in place (ProGrad's projection). Default: nothing."""

    def on_train_begin(self, train_features=None, val_features=None):
        """Before the first epoch. ``train_features``: a callable returning ``(features (N, D), labels
        (N,))`` of the training set through the frozen image encoder (given when
        ``needs_train_features``; Tip-Adapter builds its cache from it). ``val_features``: the tuple
        ``(features (M, D), labels (M,))`` of the validation split, passed (as a keyword) only when
        ``needs_val_features`` - so an override without that parameter keeps working."""

    def on_epoch_end(self, epoch: int, max_epoch: int):
        """After the last optimizer and LR-scheduler step of epoch ``epoch`` (0-based) of ``max_epoch``
        (PromptSRC's Gaussian prompt aggregation)."""

    def on_train_end(self, val_features=None):
        """After the last epoch, before the final evaluation and checkpoint. ``val_features``: as in
        :meth:`on_train_begin` (only when ``needs_val_features``; then with ``TEST.FINAL_MODEL best_val`` it
        also runs on the best-val model, whose checkpoint is rewritten)."""

    def procedure_state(self) -> dict:
        """Training-procedure state that must survive a resume (e.g. a running prompt aggregate):
        tensors, numbers, strings and plain containers only (checkpoints load with ``weights_only``)."""
        return {}

    def load_procedure_state(self, state: dict):
        """Inverse of :meth:`procedure_state`."""

    # ------------------------------------------------------------------ state
    def trainable_named_parameters(self):
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad and not n.startswith("clip.")]

    def count_parameters(self) -> int:
        """Number of trainable scalars (the official papers' parameter counts)."""
        return sum(p.numel() for _, p in self.trainable_named_parameters())

    def prompt_state_dict(self) -> "OrderedDict[str, torch.Tensor]":
        """The trainable tensors only (what checkpoints hold), under our names."""
        return OrderedDict((n, p.detach().clone()) for n, p in self.trainable_named_parameters())

    def _normalise_keys(self, sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        from .official import normalise_official_keys

        return normalise_official_keys(sd, self.official_aliases)

    def load_prompt_state(self, state_dict: Dict[str, torch.Tensor], strict: bool = True) -> List[str]:
        """Load prompt tensors saved by us or by the official code (official names are mapped).

        Class-dependent buffers in official files (``token_prefix``/``token_suffix``) and frozen CLIP
        weights in MaPLe release files are ignored (rebuilt / already loaded). Unknown keys, missing
        keys and shape mismatches raise :class:`CheckpointMismatch` naming them. Returns the loaded names.
        """
        sd = self._normalise_keys(state_dict)
        own = dict(self.trainable_named_parameters())
        unknown = sorted(set(sd) - set(own))
        missing = sorted(set(own) - set(sd))
        bad = sorted(f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
                     for k in set(sd) & set(own) if tuple(sd[k].shape) != tuple(own[k].shape))
        problems = []
        if unknown:
            problems.append(f"unexpected keys {unknown}")
        if missing and strict:
            problems.append(f"missing keys {missing}")
        if bad:
            problems.append(f"shape mismatch {bad}")
        if problems:
            raise CheckpointMismatch(f"checkpoint does not fit {type(self).__name__}: " + "; ".join(problems))
        with torch.no_grad():
            for k, v in sd.items():
                own[k].copy_(v.to(own[k].dtype))
        self._text_cache = None
        return sorted(sd)

    def export_official(self) -> "OrderedDict[str, torch.Tensor]":
        """The trainable tensors under the names the official trainer saves them with."""
        return OrderedDict((self.official_prefix + n, p) for n, p in self.prompt_state_dict().items())

    def extra_repr(self) -> str:
        return f"n_cls={self.num_classes}, trainable={self.count_parameters():,}"

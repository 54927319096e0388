"""Tip-Adapter (training-free) and Tip-Adapter-F (fine-tuned keys) (Zhang et al., ECCV 2022).

No prompts: a key-value cache built from the few-shot training set sits next to zero-shot CLIP::

    f          = normalize(frozen image feature)                         (B, D)
    W          = normalize(mean_t normalize(text feature of t.format(c)))  (n_cls, D), fixed
    keys       = normalize(mean over augment passes of the training features)   (N, D)
    values     = one_hot(training labels)                                (N, n_cls)
    A          = f · keysᵀ                                               (B, N)
    logits     = 100 · f·Wᵀ + alpha · exp(−(beta − beta·A)) · values     (B, n_cls)

The zero-shot scale is the official hard-coded 100 (``clip_scale``), not CLIP's logit scale.
:class:`TipAdapter` trains nothing. :class:`TipAdapterF` makes ``cache_keys`` a parameter (the
official ``adapter.weight`` of ``Linear(D, N)``, initialised with the keys) trained with CE;
official optimiser: AdamW(lr 0.001, eps 1e-4, weight decay 0.01), cosine over all steps
(``configs/trainers/TipAdapterF``). Both set ``needs_train_features``: :meth:`on_train_begin` calls
the engine's ``train_features()`` ``augment_epoch`` times (each call one augmented pass) and builds
the cache; in a notebook call :meth:`build_cache` yourself. Before a cache exists the logits are
zero-shot. :func:`search_hp` / :meth:`TipAdapter.search_hp` is the official grid search of
``beta``, ``alpha`` on validation features (``beta_i = i·(scale₀−0.1)/step₀ + 0.1``, i < step₀,
alpha likewise; best accuracy, first best kept); it sets ``alpha``/``beta``.

Hyper-parameter search in the engine (``search_hp=True``, ``TRAINER.TIPADAPTER(F).SEARCH_HP``): the
learner then sets ``needs_val_features``, and the engine passes the validation split's frozen features
``val_features=(features (M, D), labels (M,))`` (encoded once, shared with validation) to
:meth:`on_train_begin` and :meth:`on_train_end`. Tip-Adapter searches in :meth:`on_train_begin`, right
after building the cache (the official ``run_tip_adapter``); Tip-Adapter-F trains with the init values
and searches in :meth:`on_train_end` with its fine-tuned keys (the official ``run_tip_adapter_F``; with
``TEST.FINAL_MODEL best_val`` the engine repeats it on the best-val model and rewrites that checkpoint).
``alpha``/``beta`` are float64 buffers, in :meth:`prompt_state_dict` and ``state_dict()``, so every
checkpoint written after the search (best-val, last, resume) holds the searched values. The search
result is logged on rank 0 only (logger ``mvlpt``).

Not ``transferable`` (neither variant): the keys are this task's training images and the values
its labels, so averaging them over tasks or moving them to another class list has no meaning.
Checkpoints hold the cache (``cache_keys``, ``cache_values``) and ``alpha``/``beta``.

Official behaviour (gaopengcuhk/Tip-Adapter ``d0e2d6f``) and what differs: the values are saved in
fp16 (exact for one-hot; fp32 here); on a GPU the official code runs everything in fp16; its
``search_hp: False`` crashes (here: simply no search); Tip-Adapter-F's weight is a view of the keys,
so fine-tuning mutates the training-free cache too (here one tensor per learner, no aliasing).

Example::

    >>> import torch
    >>> from mvlpt.clip import load_clip
    >>> from mvlpt.prompts import TipAdapter
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> model = TipAdapter(clip, ["cat", "dog"], init_alpha=1.0, init_beta=5.5)
    >>> shots = torch.randn(4, 3, 224, 224)
    >>> model.build_cache(model.encode_images(shots), torch.tensor([0, 0, 1, 1]))
    >>> model(torch.randn(2, 3, 224, 224)).shape
    torch.Size([2, 2])
"""
import logging
import os
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import CheckpointMismatch, PromptLearner
from .registry import register_method
from .zsclip import fixed_text_features


def tip_logits(f, clip_weights, keys, values, alpha, beta, clip_scale=100.0):
    """The official formula on normalised features ``f (B, D)``; ``clip_weights (n_cls, D)``, ``keys (N, D)``."""
    logits = clip_scale * f @ clip_weights.t()
    if keys.numel() == 0:
        return logits
    affinity = f @ keys.t()
    return logits + alpha * torch.exp(-(beta - beta * affinity)) @ values


@torch.no_grad()
def search_hp(learner, features, labels, search_scale=(12, 5), search_step=(200, 20)):
    """Grid search of ``(alpha, beta)`` on validation ``features (M, D)``/``labels (M,)``; returns
    ``(best_alpha, best_beta, best_acc)`` (accuracy in %). Beta is the outer loop, the first best is kept."""
    f = F.normalize(features.float(), dim=-1)
    clip_w = learner.clip_weights().float()
    keys, values = learner.cache_keys.detach().float(), learner.cache_values.float()
    betas = [i * (search_scale[0] - 0.1) / search_step[0] + 0.1 for i in range(search_step[0])]
    alphas = torch.tensor([i * (search_scale[1] - 0.1) / search_step[1] + 0.1 for i in range(search_step[1])],
                          device=f.device)
    labels = labels.to(f.device)
    clip_logits, affinity = learner.clip_scale * f @ clip_w.t(), f @ keys.t()
    best = (0.0, float(learner.alpha), float(learner.beta))
    for beta in betas:
        cache = torch.exp(-(beta - beta * affinity)) @ values
        preds = (clip_logits + alphas.view(-1, 1, 1) * cache).argmax(-1)          # (n_alpha, M)
        acc = (preds == labels.view(1, -1)).float().sum(1) / len(labels) * 100
        i = int(acc.argmax())
        if acc[i].item() > best[0]:
            best = (acc[i].item(), float(alphas[i]), beta)
    return best[1], best[2], best[0]


@register_method("TipAdapter", cfg_node="TIPADAPTER", prec="fp16")
class TipAdapter(PromptLearner):
    """Training-free Tip-Adapter. See the module docstring for the formula and the cache."""

    text_trainable = False
    vision_trainable = False
    needs_train_features = True
    transferable = False
    official_model_name = "cache"
    official_aliases = {"adapter.weight": "cache_keys"}
    fine_tune = False

    def __init__(self, clip, classnames: Sequence[str], templates: Sequence[str] = ("a photo of a {}.",),
                 init_alpha: float = 1.0, init_beta: float = 1.0, augment_epoch: int = 10, search_hp: bool = False,
                 search_scale: Sequence[float] = (12, 5), search_step: Sequence[int] = (200, 20),
                 clip_scale: float = 100.0, **kw):
        super().__init__(clip, classnames, **kw)
        self.templates = [templates] if isinstance(templates, str) else list(templates)
        self.clip_scale = float(clip_scale)
        self.register_buffer("alpha", torch.tensor(float(init_alpha), dtype=torch.float64))
        self.register_buffer("beta", torch.tensor(float(init_beta), dtype=torch.float64))
        self.augment_epoch, self.do_search = int(augment_epoch), bool(search_hp)
        self.needs_val_features = self.do_search  # the engine then passes val_features (see the module docstring)
        self.search_scale, self.search_step = tuple(search_scale), tuple(search_step)
        self.cache_keys = nn.Parameter(torch.zeros(0, clip.embed_dim), requires_grad=self.fine_tune)
        self.register_buffer("cache_values", torch.zeros(0, len(classnames)))
        self.set_classnames(classnames)

    def _build_text(self, classnames):
        if hasattr(self, "cache_values") and self.cache_values.numel() and self.cache_values.shape[1] != len(classnames):
            raise ValueError(f"Tip-Adapter's cache holds {self.cache_values.shape[1]} classes, cannot be used with "
                             f"{len(classnames)}; build a new cache (build_cache) for this class list")

    def compute_text_features(self, state, image_features):
        return fixed_text_features(self, self.classnames, self.templates)

    def clip_weights(self):
        """The zero-shot classifier ``(n_cls, D)``, normalised (the official ``clip_weights``, transposed)."""
        return F.normalize(self.text_features({}), dim=-1)

    def logits_from_features(self, state, image_features):
        f = F.normalize(image_features, dim=-1)
        keys = self.cache_keys.to(f.dtype)
        return tip_logits(f, self.clip_weights().to(f.dtype), keys, self.cache_values.to(f.dtype),
                          self.alpha.to(f.dtype), self.beta.to(f.dtype), self.clip_scale)

    def set_hp(self, alpha: float, beta: float):
        """Set ``alpha``/``beta`` (in place: the buffers stay the same tensors)."""
        self.alpha.fill_(float(alpha))
        self.beta.fill_(float(beta))

    # ------------------------------------------------------------------ cache
    @torch.no_grad()
    def build_cache(self, features, labels):
        """Keys from ``features (N, D)`` or ``(passes, N, D)`` (un-normalised; averaged over passes, then
        normalised), values = one-hot ``labels (N,)``. The ``cache_keys`` parameter object is kept (an
        optimizer built before still updates it)."""
        features = features.float().mean(0) if features.dim() == 3 else features.float()
        self.cache_keys.data = F.normalize(features, dim=-1).to(self.cache_keys.device)
        self.cache_values = F.one_hot(labels.long(), self.num_classes).float().to(self.cache_keys.device)
        self._text_cache = None

    def on_train_begin(self, train_features=None, val_features=None):
        """Build the cache from ``augment_epoch`` calls of ``train_features()``; Tip-Adapter (not -F) with
        ``search_hp`` then searches ``alpha``/``beta`` on ``val_features = (features, labels)``."""
        if train_features is None:
            raise ValueError("Tip-Adapter needs the training features to build its cache (train_features=None)")
        passes = [train_features() for _ in range(max(1, self.augment_epoch))]
        labels = passes[0][1]
        if any(p[1] is not labels and not torch.equal(p[1].cpu(), labels.cpu()) for p in passes[1:]):
            raise ValueError("train_features() returned the samples in a different order on another pass")
        self.build_cache(torch.stack([p[0] for p in passes]), labels)
        if self.do_search and not self.fine_tune:
            self._search_on(val_features)

    def on_train_end(self, val_features=None):
        """Tip-Adapter-F with ``search_hp``: search ``alpha``/``beta`` with the fine-tuned keys on ``val_features``."""
        if self.do_search and self.fine_tune:
            self._search_on(val_features)

    def _search_on(self, val_features):
        if val_features is None:
            raise ValueError(f"{type(self).__name__}(search_hp=True) needs the validation features "
                             "(val_features=(features, labels)); the engine passes them, in a notebook call search_hp")
        init = (float(self.alpha), float(self.beta))
        alpha, beta, acc = self.search_hp(*val_features)
        if not torch.distributed.is_available() or not torch.distributed.is_initialized() \
                or torch.distributed.get_rank() == 0:
            logging.getLogger("mvlpt").info(
                f"{type(self).__name__} hyper-parameter search on {len(val_features[1])} validation images: "
                f"alpha {init[0]:g} -> {alpha:.4f}, beta {init[1]:g} -> {beta:.4f} (val accuracy {acc:.2f}%)")

    def search_hp(self, features, labels):
        """Official grid search on validation features; sets ``alpha``/``beta``; returns ``(alpha, beta, acc)``."""
        alpha, beta, acc = search_hp(self, features, labels, self.search_scale, self.search_step)
        self.set_hp(alpha, beta)
        return alpha, beta, acc

    # ------------------------------------------------------------------ state
    def prompt_state_dict(self):
        return OrderedDict([("cache_keys", self.cache_keys.detach().clone()), ("cache_values", self.cache_values.clone()),
                            ("alpha", self.alpha.detach().clone()), ("beta", self.beta.detach().clone())])

    def load_prompt_state(self, state_dict, strict: bool = True):
        """Load a cache (ours, or the official ``adapter.weight`` = fine-tuned keys); values, alpha and beta
        are optional (the current ones are kept). Mismatches raise :class:`CheckpointMismatch`."""
        sd = self._normalise_keys(state_dict)
        unknown = sorted(set(sd) - {"cache_keys", "cache_values", "alpha", "beta"})
        keys, values = sd.get("cache_keys"), sd.get("cache_values", self.cache_values)
        problem = (f"unexpected keys {unknown}" if unknown else "missing keys ['cache_keys']" if keys is None else
                   f"cache_values {tuple(values.shape)} do not fit {keys.shape[0]} keys and {self.num_classes} classes"
                   if tuple(values.shape) != (keys.shape[0], self.num_classes) else "")
        if problem:
            raise CheckpointMismatch(f"checkpoint does not fit {type(self).__name__}: {problem}")
        self.cache_keys.data = keys.detach().float().to(self.cache_keys.device).clone()
        self.cache_values = values.float().to(self.cache_keys.device)
        self.set_hp(float(sd.get("alpha", self.alpha)), float(sd.get("beta", self.beta)))
        self._text_cache = None
        return sorted(sd)

    def export_official(self):
        return OrderedDict([("adapter.weight", self.cache_keys.detach().clone())])

    def load_official_cache(self, cache_dir: str, shots: int, fine_tuned: bool = None):
        """Load the official ``keys_<shots>shots.pt`` (D, N), ``values_<shots>shots.pt`` (N, n_cls) and, for
        Tip-Adapter-F (``fine_tuned``, default: this class's), ``best_F_<shots>shots.pt`` (N, D). Never unpickles code."""
        path = lambda n: os.path.join(cache_dir, f"{n}_{shots}shots.pt")  # noqa: E731
        keys = torch.load(path("keys"), map_location="cpu", weights_only=True)
        values = torch.load(path("values"), map_location="cpu", weights_only=True)
        sd = {"cache_keys": keys.t(), "cache_values": values.float()}
        if (self.fine_tune if fine_tuned is None else fine_tuned):
            sd["cache_keys"] = torch.load(path("best_F"), map_location="cpu", weights_only=True).detach()
        return self.load_prompt_state(sd)

    @classmethod
    def official_kwargs(cls, cfg: dict) -> dict:
        """Constructor kwargs from an official Tip-Adapter data-set yaml (flat keys)."""
        keys = ("init_alpha", "init_beta", "augment_epoch", "search_hp", "search_scale", "search_step")
        return {k: cfg[k] for k in keys if k in cfg}


@register_method("TipAdapterF", cfg_node="TIPADAPTERF", prec="fp16", aliases=("TipAdapter_F", "Tip-Adapter-F"))
class TipAdapterF(TipAdapter):
    """Tip-Adapter-F: the cache keys are fine-tuned with CE (official AdamW/cosine, see the module docstring)."""

    fine_tune = True

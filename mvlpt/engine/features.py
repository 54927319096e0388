"""What a trainer is given instead of patching the library: a CLIP provider and a feature store.

Both are passed to :class:`~mvlpt.engine.TrainerX` (``TrainerX(cfg, clip_provider=..., feature_store=...)``,
or ``build_trainer(cfg, ...)``), the way detectron2 lets ``build_model`` be overridden; the defaults
give one fresh CLIP and one private store per trainer. A recipe that runs many short trainings in one
process passes the same two objects to every run (:func:`mvlpt.multitask.shared.shared_resources`):
the frozen CLIP is loaded once, and the frozen image features of an image are computed once.

Exactness: the store only ever holds the output of the frozen, prompt-free image encoder, which is a
function of the preprocessed image alone; shared entries are keyed by the encoder's identity and the
digest of the image tensor, so a hit is bit-identical to a recomputation.
"""
import hashlib

import torch

__all__ = ["ClipProvider", "FeatureStore"]


class ClipProvider:
    """``provider(name, pretrained, device) -> FrozenCLIP``. ``share=True``: one model per
    ``(name, pretrained, device)`` for every trainer given this provider (the CLIP is frozen)."""

    def __init__(self, share: bool = False):
        self.share = share
        self.models = {}

    def __call__(self, name, pretrained="openai", device="cpu", **kw):
        from mvlpt.clip import load_clip

        key = (name, str(pretrained), str(device), tuple(sorted(kw.items())))
        if not self.share:
            return load_clip(name, pretrained=pretrained, device=device, **kw)
        if key not in self.models:
            self.models[key] = load_clip(name, pretrained=pretrained, device=device, **kw)
        return self.models[key]


def _digest(t: torch.Tensor) -> str:
    t = t.detach().contiguous().cpu()
    return hashlib.sha1(t.numpy().tobytes()).hexdigest() + str(tuple(t.shape)) + str(t.dtype)


class FeatureStore:
    """Frozen image features: per-trainer tables (the training set by sample index, each evaluation
    split once) and, with ``memo_images > 0``, a cross-run memo by image digest.

    * :meth:`encode` ``(encoder, images)``: features ``(B, D)`` of ``encoder(images)``, from the memo when
      shared; ``encoder`` is the learner's prompt-free ``encode_images`` (only used for learners whose
      image side cannot change).
    * :meth:`table` / :meth:`put_table`: named tables (``("train", owner)``, ``("eval", owner, split)``).
    """

    def __init__(self, memo_images: int = 0):
        self.memo_images = int(memo_images)
        self._memo = {}
        self._tables = {}

    @staticmethod
    def encoder_key(clip):
        """Identity of a frozen encoder (shared models are the same object across runs)."""
        return id(clip)

    def encode(self, encoder, images: torch.Tensor, key=None) -> torch.Tensor:
        if not self.memo_images or key is None:
            return encoder(images)
        rows = [(key, _digest(images[i])) for i in range(images.shape[0])]
        missing = [i for i, r in enumerate(rows) if r not in self._memo]
        out = encoder(images[missing]) if missing else None
        got = {}
        if missing:
            for i, f in zip(missing, out):
                got[i] = f
                if len(self._memo) < self.memo_images:
                    self._memo[rows[i]] = f.detach().clone()
            if len(missing) == len(rows):
                return out
        return torch.stack([got[i] if i in got else self._memo[r] for i, r in enumerate(rows)])

    def table(self, name):
        return self._tables.get(name)

    def put_table(self, name, value):
        self._tables[name] = value
        return value

    def drop(self, owner):
        """Forget the tables of one trainer (``owner`` is the second element of their names)."""
        for k in [k for k in self._tables if len(k) > 1 and k[1] == owner]:
            del self._tables[k]

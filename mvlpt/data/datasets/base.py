"""Shared reader pipeline: read full splits -> few-shot (cached) -> base/new subsample."""
from __future__ import annotations

import logging
import os
import random

from ..datum import DatasetBase, Datum
from ..fewshot import (FewShotCache, default_cache_dir, fingerprint_of, generate_fewshot, subsample_classes)
from ..io import DatasetLayoutError

__all__ = ["FewShotDataset", "resolve_root", "fewshot_seed", "require"]

log = logging.getLogger(__name__)


def resolve_root(cfg):
    root = cfg.DATASET.ROOT
    if not root:
        root = os.environ.get("DATA", "")
    if not root:
        raise DatasetLayoutError("DATASET.ROOT is empty (and $DATA is not set): point it at the folder that holds "
                                 "the datasets, see datasets/README.md")
    return os.path.abspath(os.path.expanduser(root))


def fewshot_seed(cfg, elevater=False):
    """FEWSHOT_SEED if >= 0, else cfg.SEED (CoOp) / RANDOM_SEED_SAMPLING (ELEVATER), else 1."""
    s = int(cfg.DATASET.get("FEWSHOT_SEED", -1))
    if s >= 0:
        return s
    if elevater:
        return int(cfg.DATASET.get("RANDOM_SEED_SAMPLING", 1))
    s = int(cfg.get("SEED", -1))
    return s if s >= 0 else 1


def require(path, what, fetch_hint):
    """Raise :class:`DatasetLayoutError` naming ``path`` and the command that fetches it."""
    if not os.path.exists(path):
        raise DatasetLayoutError(f"{what} not found: {path}\n  -> {fetch_hint}")
    return path


class FewShotDataset(DatasetBase):
    """Base of the registered readers: ``cls(cfg)`` returns a ready :class:`DatasetBase`.

    Subclasses set ``dataset_dir_name``/``image_dir_name`` and implement :meth:`read_splits`,
    returning ``dict(train=[Datum], val=[Datum] or None, test=[Datum], classnames=None or list)``.
    The few-shot subset (``DATASET.NUM_SHOTS``) is drawn once and cached as a small JSON file of
    relative paths; ``DATASET.SUBSAMPLE_CLASSES`` then keeps base or new classes.
    """

    dataset_dir_name = ""
    image_dir_name = ""
    task_metric = "accuracy"
    val_is_test = False      # ImageNet: its val split is its test split
    test_only = False        # ImageNet variants: train_x = test = all images
    sample_val = True        # few-shot also samples val (min(K, 4) per class)
    fetch_hint = "see datasets/README.md"

    def __init__(self, cfg):
        self.cfg = cfg
        self.root = resolve_root(cfg)
        self.dataset_dir = os.path.join(self.root, self.dataset_dir_name) if self.dataset_dir_name else self.root
        self.image_dir = os.path.join(self.dataset_dir, self.image_dir_name) if self.image_dir_name else self.dataset_dir
        self.check_layout()
        sp = self.read_splits(cfg)
        train, val, test, classnames = sp["train"], sp.get("val"), sp["test"], sp.get("classnames")
        if classnames is None:
            classnames = DatasetBase.classnames_from(list(train) + list(val or []) + list(test))
        if self.test_only:
            train, val = list(test), None
        else:
            k = int(cfg.DATASET.NUM_SHOTS)
            if k >= 1:
                train, val = self.fewshot(train, val, k, fewshot_seed(cfg))
        if self.val_is_test:
            val = test
        (train, val, test), selected = subsample_classes(train, val, test, subsample=cfg.DATASET.SUBSAMPLE_CLASSES,
                                                         return_selected=True)
        if selected is not None:
            classnames = [classnames[i] for i in selected]
        super().__init__(train, val, test, classnames=classnames, name=self.registry_name(), metric=self.task_metric)

    # -- hooks --------------------------------------------------------------------------------
    @classmethod
    def registry_name(cls):
        return getattr(cls, "NAME", cls.__name__)

    def check_layout(self):
        require(self.dataset_dir, f"{self.registry_name()} folder", self.fetch_hint)
        require(self.image_dir, f"{self.registry_name()} image folder", self.fetch_hint)

    def read_splits(self, cfg):  # pragma: no cover - abstract
        raise NotImplementedError

    def fewshot(self, train, val, k, seed):
        """Draw (or load from the cache) K shots per class for train and min(K,4) for val."""
        name = self.registry_name()
        cache_dir = default_cache_dir(self.dataset_dir, name, self.cfg.DATASET.get("FEWSHOT_CACHE_DIR", ""))
        fp = fingerprint_of(train, self.image_dir)
        cache = FewShotCache(cache_dir, self.image_dir, name, k, seed, fingerprint=fp)
        hit = cache.load()
        self.fewshot_cache_hit = hit is not None
        if hit is not None:
            log.info("few-shot split loaded from %s", cache.path)
            self.fewshot_cache_path = cache.path
            return hit["train"], hit.get("val") if self.sample_val else val
        rng = random.Random(seed)
        train_k = generate_fewshot(train, k, rng)
        val_k = generate_fewshot(val, min(k, 4), rng) if (val and self.sample_val) else val
        splits = {"train": train_k}
        if self.sample_val and val is not None:
            splits["val"] = val_k
        self.fewshot_cache_path = cache.save(splits)
        if self.fewshot_cache_path:
            log.info("few-shot split saved to %s", self.fewshot_cache_path)
        return train_k, val_k


def read_coop_split(path, image_dir):
    """Read ``split_zhou_<Name>.json`` -> (train, val, test) lists of Datum (paths joined to image_dir)."""
    from ..io import read_json
    obj = read_json(path)

    def conv(rows):
        return [Datum(os.path.join(image_dir, r[0]), int(r[1]), r[2]) for r in rows]

    missing = [k for k in ("train", "val", "test") if k not in obj]
    if missing:
        raise ValueError(f"split file {path} lacks keys {missing} (expected train/val/test)")
    return conv(obj["train"]), conv(obj["val"]), conv(obj["test"])

"""Shared reader pipeline: read full splits -> few-shot (cached) -> base/new subsample."""
from __future__ import annotations

import logging
import os
import random

from ..datum import DatasetBase, Datum
from ..fewshot import (FewShotCache, default_cache_dir, fingerprint_of, generate_fewshot, subsample_classes)
from ..io import ConfigError, DatasetError, DatasetLayoutError

__all__ = ["FewShotDataset", "resolve_root", "fewshot_seed", "num_shots", "require"]

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
    """Seed of the few-shot draw: ``DATASET.FEWSHOT_SEED`` when >= 0; for ELEVATER tasks then
    ``DATASET.RANDOM_SEED_SAMPLING`` when >= 0 (official key; our default -1); else the run seed
    ``SEED`` (the DataManager/trainer put the drawn seed there for ``SEED -1``); else 1 (a dataset built
    directly from a config with ``SEED -1``)."""
    s = int(cfg.DATASET.get("FEWSHOT_SEED", -1))
    if s >= 0:
        return s
    if elevater:
        s = int(cfg.DATASET.get("RANDOM_SEED_SAMPLING", -1))
        if s >= 0:
            return s
    s = int(cfg.get("SEED", -1))
    return s if s >= 0 else 1


def num_shots(value, key="DATASET.NUM_SHOTS"):
    """Validate a shot count: ``-1`` (all images) or ``K >= 1``; anything else is a :class:`ConfigError`."""
    k = int(value)
    if k == 0:
        raise ConfigError(f"{key} 0 is not a shot count: use -1 for all training images or K >= 1 for K per "
                          f"class; for zero-shot evaluation run --trainer ZeroshotCLIP --eval-only")
    if k < -1:
        raise ConfigError(f"{key} must be -1 (all training images) or K >= 1, got {k}")
    return k


def require(path, what, fetch_hint):
    """Raise :class:`DatasetLayoutError` naming ``path`` and the command that fetches it."""
    if not os.path.exists(path):
        raise DatasetLayoutError(f"{what} not found: {path}; {fetch_hint}")
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
        k = num_shots(cfg.DATASET.NUM_SHOTS)
        subsample = cfg.DATASET.SUBSAMPLE_CLASSES
        if self.test_only:
            train, val = list(test), None
            if str(subsample).lower() != "all":
                # the official readers of the test-only variants ignore it (and for ImageNet-A/R the
                # "base half" of their own 200 folders would not even be ImageNet's base classes)
                log.warning("%s is test-only: DATASET.SUBSAMPLE_CLASSES %s is ignored (all %d classes are "
                            "evaluated, as the official readers do)", self.registry_name(), subsample,
                            len(classnames))
                subsample = "all"
        elif k >= 1:
            train, val = self.fewshot(train, val, k, fewshot_seed(cfg))
        if self.val_is_test:
            val = test
        (train, val, test), selected = subsample_classes(train, val, test, subsample=subsample,
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
        raise DatasetError(f"split file {path} lacks keys {missing} (expected train/val/test); download it again")
    return conv(obj["train"]), conv(obj["val"]), conv(obj["test"])

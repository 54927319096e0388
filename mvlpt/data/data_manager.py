"""``build_dataset`` and the Dassl-like :class:`DataManager` (datasets -> transforms -> loaders)."""
from __future__ import annotations

import logging
import os
import warnings

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler

from mvlpt.registry import DATASET_REGISTRY

from .datum import DatasetBase
from .io import read_image
from .multitask import merge_datasets, resolve_task_names
from .samplers import TaskBalancedSampler
from .transforms import build_transform, is_deterministic

__all__ = ["build_dataset", "build_single_dataset", "build_multitask", "DataManager", "DatasetWrapper", "resolve_protocol"]

log = logging.getLogger(__name__)


def build_single_dataset(cfg, name) -> DatasetBase:
    """Instantiate one registered dataset (``DATASET_REGISTRY.get(name)(cfg)``)."""
    ds = DATASET_REGISTRY.get(name)(cfg)
    if not isinstance(ds, DatasetBase):
        raise TypeError(f"dataset {name!r} built a {type(ds).__name__}, not a DatasetBase")
    return ds


def build_dataset(cfg) -> DatasetBase:
    """One dataset from ``DATASET.NAME``, or a merged multitask dataset for a list of names.

    Names come from ``DATASET.DATASET`` (official MVLPT key, wins when non-empty) or
    ``DATASET.NAME``; several names (comma separated) are merged in the given order
    (``DATASET.MULTITASK_SORT_TASKS`` sorts them as MVLPT's ELEVATER merge does).
    """
    names = resolve_task_names(cfg)
    if len(names) == 1:
        return build_single_dataset(cfg, names[0])
    return build_multitask(cfg, names)


def build_multitask(cfg, names) -> DatasetBase:
    """Build each named task from the registry and merge them (one label space)."""
    return merge_datasets([build_single_dataset(cfg, n) for n in names], names)


def resolve_protocol(cfg, dataset) -> str:
    p = str(cfg.INPUT.get("PROTOCOL", "auto")).lower()
    if p == "auto":
        return getattr(dataset, "protocol", "coop")
    if p not in ("coop", "elevater"):
        raise ValueError(f"INPUT.PROTOCOL must be auto|coop|elevater, got {p!r}")
    return p


class DatasetWrapper(Dataset):
    """Map-style dataset over a list of :class:`Datum`; items are dicts (see :class:`DataManager`)."""

    def __init__(self, data_source, transform=None, k_tfm=1, return_img0=False, num_classes=None, multilabel=False):
        self.data_source = data_source
        self.transform = transform
        self.k_tfm = max(1, int(k_tfm))
        self.return_img0 = return_img0
        self.num_classes = num_classes
        self.multilabel = multilabel

    def __len__(self):
        return len(self.data_source)

    def __getitem__(self, idx):
        d = self.data_source[idx]
        img0 = read_image(d.impath)
        out = {"label": d.label, "task": d.task, "domain": d.domain, "index": idx, "impath": d.impath}
        if self.transform is None:
            import torchvision.transforms.functional as TF
            out["img"] = TF.to_tensor(img0)
        elif self.k_tfm > 1:
            out["img"] = [self.transform(img0) for _ in range(self.k_tfm)]
        else:
            out["img"] = self.transform(img0)
        if self.return_img0:
            import torchvision.transforms.functional as TF
            out["img0"] = TF.to_tensor(img0)
        if self.multilabel:
            target = torch.zeros(self.num_classes)
            labs = d.labels if d.labels is not None else ((d.label,) if d.label >= 0 else ())
            for c in labs:
                target[c] = 1.0
            out["multilabel"] = target
        return out


def _seed_worker(worker_id):
    import random

    import numpy as np
    s = torch.initial_seed() % 2 ** 32
    random.seed(s)
    np.random.seed(s)


class DataManager:
    """Datasets, transforms and loaders for a config.

    Args:
        cfg: config with the data keys (:func:`add_data_config`).
        custom_tfm_train / custom_tfm_test: transforms overriding the configured ones.
        is_distributed: use ``DistributedSampler`` for train (and test with ``DATALOADER.TEST.DISTRIBUTED``).
        dataset: an already built dataset (skips :func:`build_dataset`).

    Attributes:
        dataset, train_loader_x, val_loader (None without val), test_loader, num_classes,
        classnames, lab2cname, tasks, protocol, train_transform_is_deterministic.

    Batches are dicts ``{"img": (B,3,H,W), "label": (B,), "task": (B,), "index": (B,), "impath": [str],
    "domain": (B,)}`` (+ ``"multilabel": (B, C)`` when a task is multilabel).

    >>> from mvlpt.data import DataManager, add_data_config          # doctest: +SKIP
    >>> cfg = add_data_config(CN()); cfg.DATASET.NAME = "DemoShapes"  # doctest: +SKIP
    >>> dm = DataManager(cfg); next(iter(dm.train_loader_x))["img"].shape  # doctest: +SKIP
    """

    def __init__(self, cfg, custom_tfm_train=None, custom_tfm_test=None, is_distributed=False, dataset=None):
        self.cfg = cfg
        self.is_distributed = is_distributed
        self.dataset = dataset if dataset is not None else build_dataset(cfg)
        ds = self.dataset
        self.protocol = resolve_protocol(cfg, ds)
        hflip_safe = getattr(ds, "hflip_safe", True)
        choices = list(cfg.INPUT.TRANSFORMS)
        if not hflip_safe:
            choices = [c for c in choices if c != "random_flip"]
        if custom_tfm_train is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.tfm_train = build_transform(cfg, True, self.protocol, choices=choices, hflip_safe=hflip_safe)
            self.train_transform_is_deterministic = is_deterministic(cfg, self.protocol, choices=choices)
        else:
            self.tfm_train = custom_tfm_train
            self.train_transform_is_deterministic = False
        self.tfm_test = custom_tfm_test if custom_tfm_test is not None else build_transform(cfg, False, self.protocol)

        dl = cfg.DATALOADER
        self.train_loader_x = self._loader(ds.train_x, self.tfm_train, dl.TRAIN_X.BATCH_SIZE, is_train=True,
                                           sampler_type=dl.TRAIN_X.SAMPLER)
        self.val_loader = None
        if ds.val:
            self.val_loader = self._loader(ds.val, self.tfm_test, dl.TEST.BATCH_SIZE, is_train=False)
        self.test_loader = self._loader(ds.test, self.tfm_test, dl.TEST.BATCH_SIZE, is_train=False)

    # ----------------------------------------------------------------------------------------
    @property
    def num_classes(self):
        return self.dataset.num_classes

    @property
    def classnames(self):
        return self.dataset.classnames

    @property
    def lab2cname(self):
        return self.dataset.lab2cname

    @property
    def tasks(self):
        return self.dataset.tasks

    @property
    def num_source_domains(self):
        return 1

    def _sampler(self, data, is_train, sampler_type):
        if is_train and self.is_distributed:
            if sampler_type == "TaskBalancedSampler":
                log.warning("TaskBalancedSampler is not distributed-aware; using DistributedSampler")
            return DistributedSampler(data, shuffle=True, seed=max(int(self.cfg.get("SEED", 0)), 0))
        if not is_train:
            if self.is_distributed and self.cfg.DATALOADER.TEST.get("DISTRIBUTED", False):
                return DistributedSampler(data, shuffle=False)
            return SequentialSampler(data)
        if sampler_type == "RandomSampler":
            return RandomSampler(data)
        if sampler_type == "SequentialSampler":
            return SequentialSampler(data)
        if sampler_type == "TaskBalancedSampler":
            return TaskBalancedSampler([d.task for d in data], seed=max(int(self.cfg.get("SEED", 0)), 0))
        raise ValueError(f"unknown sampler {sampler_type!r} (RandomSampler | SequentialSampler | TaskBalancedSampler)")

    def _loader(self, data, tfm, batch_size, is_train, sampler_type="SequentialSampler"):
        dl = self.cfg.DATALOADER
        nw = int(dl.NUM_WORKERS)
        nw = max(0, min(nw, os.cpu_count() or 1))
        pin = dl.get("PIN_MEMORY", "auto")
        pin = torch.cuda.is_available() if pin in ("auto", None) else bool(pin)
        wrapper = DatasetWrapper(data, tfm, k_tfm=dl.K_TRANSFORMS if is_train else 1, return_img0=dl.RETURN_IMG0,
                                 num_classes=self.dataset.num_classes, multilabel=self.dataset.multilabel)
        kw = {}
        if nw > 0:
            # train workers are re-created every epoch so that their RNG (augmentation) derives from
            # the per-epoch seed: a resumed run then sees the same augmentations (exact resume)
            kw.update(persistent_workers=bool(dl.get("PERSISTENT_WORKERS", True)) and not is_train,
                      prefetch_factor=int(dl.get("PREFETCH_FACTOR", 2)), worker_init_fn=_seed_worker)
        bs = int(batch_size)
        return DataLoader(wrapper, batch_size=bs, sampler=self._sampler(data, is_train, sampler_type),
                          num_workers=nw, drop_last=is_train and len(data) >= bs, pin_memory=pin, **kw)

    def show_dataset_summary(self):
        ds = self.dataset
        rows = [("Dataset", ds.name), ("# classes", f"{ds.num_classes:,}"), ("# train_x", f"{len(ds.train_x):,}")]
        if ds.val:
            rows.append(("# val", f"{len(ds.val):,}"))
        rows.append(("# test", f"{len(ds.test):,}"))
        if ds.is_multitask:
            rows.append(("tasks", ", ".join(f"{t.name}[{t.offset}:{t.end}]" for t in ds.tasks)))
        rows.append(("protocol", self.protocol))
        text = "\n".join(f"  {k:<10} {v}" for k, v in rows)
        print(text)
        return text

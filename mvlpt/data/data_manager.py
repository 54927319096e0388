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
from .io import ConfigError, DatasetError, read_image, set_allow_truncated_images
from .multitask import merge_datasets, resolve_task_names
from .samplers import ShardSampler, TaskBalancedSampler, dist_info, rank_seed
from .transforms import build_transform, is_deterministic

__all__ = ["build_dataset", "build_single_dataset", "build_multitask", "DataManager", "DatasetWrapper",
           "resolve_protocol", "resolve_seed", "with_seed"]

log = logging.getLogger(__name__)


def build_single_dataset(cfg, name) -> DatasetBase:
    """Instantiate one registered dataset (``DATASET_REGISTRY.get(name)(cfg)``)."""
    ds = DATASET_REGISTRY.get(name)(cfg)
    if not isinstance(ds, DatasetBase):
        raise TypeError(f"dataset {name!r} built a {type(ds).__name__}, not a DatasetBase")
    return ds


def resolve_seed(cfg, seed=None) -> int:
    """The run's effective seed: ``seed`` when given, else ``SEED`` when >= 0, else the seed torch was
    last seeded with (the trainer seeds torch with the seed it drew for ``SEED -1`` before it builds
    the data, so few-shot sets and samplers follow the drawn seed that the log reports)."""
    if seed is not None:
        return int(seed)
    s = int(cfg.get("SEED", -1))
    return s if s >= 0 else int(torch.initial_seed() % (2 ** 31))


def with_seed(cfg, seed):
    """A copy of ``cfg`` with ``SEED`` set to ``seed`` (what the readers see), or ``cfg`` itself."""
    if int(cfg.get("SEED", -1)) == int(seed):
        return cfg
    cfg = cfg.clone()
    was_frozen = cfg.is_frozen()
    cfg.defrost()
    cfg.SEED = int(seed)
    if was_frozen:
        cfg.freeze()
    return cfg


def build_dataset(cfg, seed=None) -> DatasetBase:
    """One dataset from ``DATASET.NAME``, or a merged multitask dataset for a list of names.

    Names come from ``DATASET.DATASET`` (official MVLPT key, wins when non-empty) or
    ``DATASET.NAME``; several names (comma separated) are merged in the given order
    (``DATASET.MULTITASK_SORT_TASKS`` sorts them as MVLPT's ELEVATER merge does).
    ``seed`` (the run's effective seed) replaces ``SEED`` for the few-shot draws.
    """
    if seed is not None:
        cfg = with_seed(cfg, seed)
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
        raise ConfigError(f"INPUT.PROTOCOL must be auto, coop or elevater, got {p!r}")
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
    s = torch.initial_seed() % 2 ** 32  # the loader's base seed + worker id (see _TrainLoader)
    random.seed(s)
    np.random.seed(s)


def _seed_everything(s):
    import random

    import numpy as np
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


class _TrainLoader(DataLoader):
    """The train loader: refuses to run an epoch of 0 steps, and under DDP seeds each rank's
    augmentations and workers from ``(seed, epoch, rank)``.

    On one process nothing is reseeded here: the engine seeds every epoch from ``(seed, epoch)``.
    With ``world_size > 1``, starting an epoch reseeds python/numpy/torch with
    :func:`~mvlpt.data.samplers.rank_seed` ``(seed, epoch, rank)`` (the epoch is the sampler's, set by
    ``set_epoch``), so the main-process augmentations (``NUM_WORKERS 0``) and the workers' base seed
    (worker ``w`` of rank ``r`` gets ``base + w``) differ between ranks and repeat on a rerun.
    """

    def __init__(self, *args, seed=0, rank=0, world_size=1, zero_step_message="", **kw):
        super().__init__(*args, **kw)
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.zero_step_message = zero_step_message

    def __iter__(self):
        if len(self) == 0:
            raise DatasetError(self.zero_step_message or "the train loader has 0 batches")
        if self.world_size > 1:
            _seed_everything(rank_seed(self.seed, getattr(self.sampler, "epoch", 0), self.rank))
        return super().__iter__()


def _check_loader_cfg(cfg):
    """Loader settings that cannot work: one :class:`ConfigError` line naming the key and a valid value."""
    dl = cfg.DATALOADER
    for key, v in (("DATALOADER.TRAIN_X.BATCH_SIZE", dl.TRAIN_X.BATCH_SIZE),
                   ("DATALOADER.TEST.BATCH_SIZE", dl.TEST.BATCH_SIZE)):
        if int(v) < 1:
            raise ConfigError(f"{key} must be >= 1, got {v}; set it to the number of images per step and "
                              f"process (e.g. 32)")
    if int(dl.NUM_WORKERS) < 0:
        raise ConfigError(f"DATALOADER.NUM_WORKERS must be >= 0, got {dl.NUM_WORKERS}; "
                          f"0 loads images in the main process")
    if int(dl.get("K_TRANSFORMS", 1)) < 1:
        raise ConfigError(f"DATALOADER.K_TRANSFORMS must be >= 1, got {dl.K_TRANSFORMS}")


class DataManager:
    """Datasets, transforms and loaders for a config.

    Args:
        cfg: config with the data keys (:func:`add_data_config`).
        custom_tfm_train / custom_tfm_test: transforms overriding the configured ones.
        is_distributed: use ``DistributedSampler`` for train; val / test: see ``sharded_eval``.
        dataset: an already built dataset (skips :func:`build_dataset`).
        seed: the run's effective seed (default :func:`resolve_seed`: ``SEED``, or the drawn seed
            for ``SEED -1``). It drives the few-shot draws (unless ``DATASET.FEWSHOT_SEED`` is set),
            every train sampler (random, task-balanced, distributed) and, under DDP, the per-rank
            augmentation / worker seeds.
        sharded_eval: under DDP (``is_distributed`` with more than one process), give each rank its
            contiguous block of the val / test split (:class:`~mvlpt.data.samplers.ShardSampler`: no
            padding, every image scored once; the engine then reduces the metrics over the ranks).
            Default: ``TEST.SHARDED_EVAL`` when the config has it, else True. False: every rank loads
            the whole split (``SequentialSampler``), or with ``DATALOADER.TEST.DISTRIBUTED`` a padded
            ``DistributedSampler`` share, as before. Ignored on one process.

    Under DDP (``is_distributed``) the batch count is decided per rank: each rank holds
    ``ceil(N / world_size)`` train items, ``drop_last`` (``DATALOADER.TRAIN_X.DROP_LAST``: ``auto`` =
    drop the last partial batch when a rank holds at least one full batch) applies to that share,
    and a run that would train 0 steps per epoch stops with :class:`~mvlpt.data.io.DatasetError`.

    Attributes:
        dataset, train_loader_x, val_loader (None without val), test_loader, num_classes,
        classnames, lab2cname, tasks, protocol, train_transform_is_deterministic.

    Batches are dicts ``{"img": (B,3,H,W), "label": (B,), "task": (B,), "index": (B,), "impath": [str],
    "domain": (B,)}`` (+ ``"multilabel": (B, C)`` when a task is multilabel).

    >>> from mvlpt.data import DataManager, add_data_config          # doctest: +SKIP
    >>> cfg = add_data_config(CN()); cfg.DATASET.NAME = "DemoShapes"  # doctest: +SKIP
    >>> dm = DataManager(cfg); next(iter(dm.train_loader_x))["img"].shape  # doctest: +SKIP
    """

    def __init__(self, cfg, custom_tfm_train=None, custom_tfm_test=None, is_distributed=False, dataset=None,
                 seed=None, sharded_eval=None):
        self.seed = resolve_seed(cfg, seed)
        if int(cfg.get("SEED", -1)) < 0:
            log.info("SEED -1: the data pipeline uses the drawn seed %d", self.seed)
        cfg = with_seed(cfg, self.seed)
        self.cfg = cfg
        self.is_distributed = is_distributed
        self.rank, self.world_size = dist_info() if is_distributed else (0, 1)
        if sharded_eval is None:
            sharded_eval = (cfg.TEST.get("SHARDED_EVAL", True) if "TEST" in cfg else True)
        #: True when each rank holds only its block of val / test (DDP and ``sharded_eval``)
        self.sharded_eval = bool(sharded_eval) and self.world_size > 1
        _check_loader_cfg(cfg)
        set_allow_truncated_images(cfg.DATASET.get("ALLOW_TRUNCATED_IMAGES", False))
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
                return TaskBalancedSampler([d.task for d in data], seed=self.seed, num_replicas=self.world_size,
                                           rank=self.rank)
            return DistributedSampler(data, num_replicas=self.world_size, rank=self.rank,
                                      shuffle=sampler_type != "SequentialSampler", seed=self.seed)
        if not is_train:
            if self.sharded_eval:
                return ShardSampler(data, num_replicas=self.world_size, rank=self.rank)
            if self.is_distributed and self.cfg.DATALOADER.TEST.get("DISTRIBUTED", False):
                return DistributedSampler(data, shuffle=False)
            return SequentialSampler(data)
        if sampler_type == "RandomSampler":
            return RandomSampler(data)  # its order follows the engine's per-epoch seed of (seed, epoch)
        if sampler_type == "SequentialSampler":
            return SequentialSampler(data)
        if sampler_type == "TaskBalancedSampler":
            return TaskBalancedSampler([d.task for d in data], seed=self.seed)
        raise ConfigError(f"unknown DATALOADER.TRAIN_X.SAMPLER {sampler_type!r}; use RandomSampler, "
                          f"SequentialSampler or TaskBalancedSampler")

    def _loader(self, data, tfm, batch_size, is_train, sampler_type="SequentialSampler"):
        dl = self.cfg.DATALOADER
        nw = min(int(dl.NUM_WORKERS), os.cpu_count() or 1)
        pin = dl.get("PIN_MEMORY", "auto")
        pin = torch.cuda.is_available() if pin in ("auto", None) else bool(pin)
        wrapper = DatasetWrapper(data, tfm, k_tfm=dl.K_TRANSFORMS if is_train else 1, return_img0=dl.RETURN_IMG0,
                                 num_classes=self.dataset.num_classes, multilabel=self.dataset.multilabel)
        kw = {}
        sampler = self._sampler(data, is_train, sampler_type)
        if nw > 0:
            # train workers are re-created every epoch so that their RNG (augmentation) derives from
            # the per-epoch seed: a resumed run then sees the same augmentations (exact resume)
            kw.update(persistent_workers=bool(dl.get("PERSISTENT_WORKERS", True)) and not is_train,
                      prefetch_factor=int(dl.get("PREFETCH_FACTOR", 2)), worker_init_fn=_seed_worker)
        bs = int(batch_size)
        if not is_train:
            return DataLoader(wrapper, batch_size=bs, sampler=sampler, num_workers=nw, drop_last=False,
                              pin_memory=pin, **kw)
        per_rank = len(sampler)  # this rank's share (DistributedSampler / sharded task-balanced: ceil(N/R))
        mode = str(dl.TRAIN_X.get("DROP_LAST", "auto")).strip().lower()
        if mode not in ("auto", "true", "false"):
            raise ConfigError(f"DATALOADER.TRAIN_X.DROP_LAST must be auto, True or False, got {mode!r}")
        drop_last = per_rank >= bs if mode == "auto" else mode == "true"
        steps = per_rank // bs if drop_last else -(-per_rank // bs)
        self.train_steps_per_epoch = steps
        self.train_drop_last = drop_last
        msg = ""
        if steps == 0:
            ddp = self.world_size > 1
            where = f", {per_rank} per rank on {self.world_size} processes" if ddp else ""
            if len(data) == 0:
                msg = (f"no training images in {self.dataset.name} (after few-shot sampling and "
                       f"SUBSAMPLE_CLASSES); check the dataset, DATASET.NUM_SHOTS and DATASET.SUBSAMPLE_CLASSES")
            else:
                msg = (f"training would run 0 steps per epoch: {len(data)} training images{where}, batch size "
                       f"{bs} with drop_last; lower DATALOADER.TRAIN_X.BATCH_SIZE to <= {per_rank}, "
                       f"{'use fewer processes, ' if ddp else ''}or set DATALOADER.TRAIN_X.DROP_LAST False")
        self.zero_step_message = msg
        return _TrainLoader(wrapper, batch_size=bs, sampler=sampler, num_workers=nw, drop_last=drop_last,
                            pin_memory=pin, seed=self.seed, rank=self.rank, world_size=self.world_size,
                            zero_step_message=msg, **kw)

    def check_train_steps(self):
        """Raise :class:`~mvlpt.data.io.DatasetError` when training would run 0 steps per epoch
        (called by the CLI before anything is written; the train loader also refuses to start)."""
        if getattr(self, "train_steps_per_epoch", 1) == 0:
            raise DatasetError(self.zero_step_message)

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

"""Merging tasks into one label space, and the multitask losses.

``DATASET.NAME "OxfordPets,DTD"`` (or the official ``DATASET.DATASET``) builds each task and
concatenates their label spaces in the given order: task i's classes occupy
``offset_i : offset_i + n_i``; every Datum carries ``task=i`` and its global label.
"""
from __future__ import annotations

import logging
from typing import List, Sequence

import torch
import torch.nn.functional as F

from .datum import DatasetBase, TaskInfo
from .io import ConfigError

__all__ = ["resolve_task_names", "merge_datasets", "multitask_loss", "task_class_mask",
           "multitask_loss_mode"]

log = logging.getLogger(__name__)


def resolve_task_names(cfg) -> List[str]:
    """Task list from ``DATASET.DATASET`` (official, wins when set) or ``DATASET.NAME``, comma separated."""
    raw = cfg.DATASET.get("DATASET", "") or cfg.DATASET.NAME
    if isinstance(raw, (list, tuple)):
        names = [str(n).strip() for n in raw]
    else:
        names = [n.strip() for n in str(raw).split(",")]
    names = [n for n in names if n]
    if not names:
        raise ConfigError("no dataset given: pass --dataset-config-file configs/datasets/<name>.yaml or "
                          "DATASET.NAME <Name> (e.g. DATASET.NAME OxfordPets; several tasks: 'OxfordPets,DTD')")
    if len(names) > 1 and cfg.DATASET.get("MULTITASK_SORT_TASKS", False):
        names = sorted(names)
    if len(names) == 1 and cfg.DATASET.get("MULTITASK", False):
        log.warning("DATASET.MULTITASK is set but only one task (%s) is given", names[0])
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"task(s) listed twice in DATASET.NAME: {sorted(dup)}; list each task once")
    return names


def _shift(items, offset, task):
    if items is None:
        return None
    out = []
    for d in items:
        labels = tuple(x + offset for x in d.labels) if d.labels is not None else None
        out.append(d.replace(label=d.label + offset if d.label >= 0 else -1, task=task, labels=labels))
    return out


def merge_datasets(datasets: Sequence[DatasetBase], names: Sequence[str] = None) -> DatasetBase:
    """Concatenate datasets into one label space (order as given).

    >>> from mvlpt.data import Datum
    >>> a = DatasetBase([Datum("a", 0, "cat"), Datum("b", 1, "dog")], name="A")
    >>> b = DatasetBase([Datum("c", 0, "red")], name="B")
    >>> m = merge_datasets([a, b])
    >>> m.classnames, [(t.name, t.offset) for t in m.tasks], m.train_x[2].label, m.train_x[2].task
    (['cat', 'dog', 'red'], [('A', 0), ('B', 2)], 2, 1)
    """
    names = list(names) if names is not None else [d.name for d in datasets]
    train, test, val, classnames, tasks = [], [], [], [], []
    any_val = False
    offset = 0
    for i, (ds, name) in enumerate(zip(datasets, names)):
        if ds.is_multitask:
            raise ValueError(f"cannot nest the multitask dataset {name!r} inside another merge")
        train += _shift(ds.train_x, offset, i)
        test += _shift(ds.test, offset, i)
        if ds.val is not None:
            any_val = True
            val += _shift(ds.val, offset, i)
        t = ds.tasks[0]
        tasks.append(TaskInfo(name, offset, ds.num_classes, t.metric, t.multilabel, list(ds.classnames)))
        classnames += list(ds.classnames)
        offset += ds.num_classes
    merged = DatasetBase(train, val if any_val else None, test, classnames=classnames, name=",".join(names),
                         tasks=tasks)
    protocols = {d.protocol for d in datasets}
    merged.protocol = protocols.pop() if len(protocols) == 1 else "coop"
    if len(set(d.protocol for d in datasets)) > 1:
        log.warning("mixing CoOp and ELEVATER tasks: using the CoOp transforms (set INPUT.PROTOCOL to override)")
    merged.hflip_safe = all(d.hflip_safe for d in datasets)
    merged.datasets = list(datasets)
    merged.templates = [getattr(d, "template", "a photo of a {}.") for d in datasets]
    return merged


def task_class_mask(task_ids: torch.Tensor, tasks: Sequence[TaskInfo], num_classes: int = None) -> torch.Tensor:
    """(B, C) bool: True where column c belongs to sample b's task."""
    num_classes = num_classes or (tasks[-1].offset + tasks[-1].num_classes)
    starts = torch.tensor([t.offset for t in tasks], device=task_ids.device)
    ends = torch.tensor([t.offset + t.num_classes for t in tasks], device=task_ids.device)
    cols = torch.arange(num_classes, device=task_ids.device)
    return (cols[None, :] >= starts[task_ids][:, None]) & (cols[None, :] < ends[task_ids][:, None])


def multitask_loss(logits, labels, task_ids, tasks, mode: str = "union"):
    """Cross-entropy over a merged label space.

    * ``"union"``: CE over all classes of all tasks (official MVLPT default).
    * ``"masked"``: other tasks' logits are set to ``-inf`` before the CE, i.e. a per-task softmax.
      (The official per-task mask multiplies logits by 0, which leaves them in the softmax; we do not.)

    Rows with label ``-1`` (negative images of multilabel tasks) are ignored.
    """
    if mode == "union":
        return F.cross_entropy(logits, labels, ignore_index=-1)
    if mode != "masked":
        raise ValueError(f"multitask loss mode must be 'union' or 'masked', got {mode!r}")
    mask = task_class_mask(task_ids.long(), tasks, logits.shape[1])
    return F.cross_entropy(logits.masked_fill(~mask, float("-inf")), labels, ignore_index=-1)


def multitask_loss_mode(cfg) -> str:
    """``DATASET.MULTITASK_LOSS``; the official ``DATASET.MULTITASK_LABEL_PERTASK True`` means ``"masked"``."""
    mode = str(cfg.DATASET.get("MULTITASK_LOSS", "union"))
    if mode == "union" and cfg.DATASET.get("MULTITASK_LABEL_PERTASK", False):
        return "masked"
    return mode

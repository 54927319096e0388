"""Classification metrics (values in **percent**, 0-100) and per-task evaluation.

Definitions follow the ELEVATER toolkit MVLPT vendors (``datasets/metrics.py``):

* ``accuracy``: top-1, ties to the lowest index.
* ``mean_per_class``: balanced accuracy over the classes present in ``labels``; like the toolkit,
  predictions are the argmax over the *present* classes' columns only (``restrict=True``).
* ``11point_mAP``: per class with >= 1 positive, precision/recall at every distinct score
  threshold plus the point (P=1, R=0); interpolated precision ``max{P : R >= t}`` at
  ``t in numpy.linspace(1, 0, 11)``; mean over those 11 values, then over classes.
* ``macro_f1``: unweighted mean F1 over classes present in labels or predictions.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

__all__ = ["accuracy", "mean_per_class_accuracy", "macro_f1", "classification_metrics", "map_11point", "compute_metric", "evaluate_tasks"]


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


def _preds(logits_or_preds):
    a = _np(logits_or_preds)
    return a.argmax(axis=1) if a.ndim == 2 else a.astype(np.int64)


def accuracy(logits_or_preds, labels) -> float:
    """Top-1 accuracy in percent. ``logits_or_preds``: (N, C) scores or (N,) predicted ids."""
    p, y = _preds(logits_or_preds), _np(labels).astype(np.int64)
    if len(y) == 0:
        return float("nan")
    return float((p == y).mean() * 100.0)


def mean_per_class_accuracy(logits_or_preds, labels, restrict: bool = True) -> float:
    """Mean over present classes of per-class recall, in percent (toolkit semantics, see module doc)."""
    y = _np(labels).astype(np.int64)
    if len(y) == 0:
        return float("nan")
    a = _np(logits_or_preds)
    present = np.unique(y)
    if a.ndim == 2 and restrict:
        p = present[a[:, present].argmax(axis=1)]
    else:
        p = _preds(a)
    return float(np.mean([(p[y == c] == c).mean() for c in present]) * 100.0)


def macro_f1(logits_or_preds, labels, over: str = "union") -> float:
    """Macro-averaged F1 (percent) over the classes present in labels or predictions (``over="union"``,
    the toolkit's), or in labels only (``over="labels"``, Dassl's ``f1_score(labels=unique(gt))``)."""
    p, y = _preds(logits_or_preds), _np(labels).astype(np.int64)
    if len(y) == 0:
        return float("nan")
    f1s = []
    classes = np.unique(y) if over == "labels" else np.union1d(np.unique(y), np.unique(p))
    for c in classes:
        tp = np.sum((p == c) & (y == c))
        fp = np.sum((p == c) & (y != c))
        fn = np.sum((p != c) & (y == c))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s) * 100.0)


def _pr_points(y, s):
    """Precision/recall at each distinct threshold (decreasing), plus (P=1, R=0)."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, len(y) - 1]
    tps = np.cumsum(y)[idx]
    fps = (idx + 1) - tps
    prec = tps / np.maximum(tps + fps, 1)
    rec = tps / max(y.sum(), 1)
    return np.r_[prec, 1.0], np.r_[rec, 0.0]


def map_11point(scores, targets_multihot) -> float:
    """11-point interpolated mAP (percent) over classes with >= 1 positive (toolkit semantics).

    >>> round(map_11point([[0.9], [0.8], [0.3]], [[1], [0], [1]]), 4)
    84.8485
    """
    s = _np(scores).astype(np.float64)
    t = _np(targets_multihot)
    if t.ndim == 1:
        onehot = np.zeros_like(s)
        onehot[np.arange(len(t)), t.astype(np.int64)] = 1
        t = onehot
    t = (t > 0).astype(np.int64)
    thresholds = np.linspace(1, 0, 11)
    aps = []
    for c in range(t.shape[1]):
        if t[:, c].sum() == 0:
            continue
        prec, rec = _pr_points(t[:, c], s[:, c])
        aps.append(np.mean([prec[rec >= th].max() if np.any(rec >= th) else 0.0 for th in thresholds]))
    return float(np.mean(aps) * 100.0) if aps else float("nan")


def classification_metrics(logits_or_preds, labels) -> Dict[str, float]:
    """Dassl's ``Classification`` summary (percent): ``total``, ``correct``, ``accuracy``, ``error_rate``,
    ``macro_f1`` (over classes present in ``labels``) and ``mean_per_class_accuracy`` (plain argmax)."""
    p, y = _preds(logits_or_preds), _np(labels).astype(np.int64)
    total, correct = int(len(y)), int((p == y).sum())
    if not total:
        return {"total": 0, "correct": 0, "accuracy": 0.0, "error_rate": 100.0, "macro_f1": 0.0,
                "mean_per_class_accuracy": 0.0}
    acc = 100.0 * correct / total
    return {"total": total, "correct": correct, "accuracy": acc, "error_rate": 100.0 - acc,
            "macro_f1": macro_f1(p, y, over="labels"), "mean_per_class_accuracy": mean_per_class_accuracy(p, y)}


_METRIC_FNS = {"accuracy": accuracy, "mean_per_class": mean_per_class_accuracy, "11point_mAP": map_11point,
               "macro_f1": macro_f1}


def compute_metric(name, scores, labels) -> float:
    """Dispatch by metric name (``accuracy``, ``mean_per_class``, ``11point_mAP``, ``macro_f1``)."""
    from .datum import normalize_metric
    return _METRIC_FNS[normalize_metric(name)](scores, labels)


def evaluate_tasks(logits, labels, task_ids, tasks: Sequence, average_key: str = "average") -> Dict[str, float]:
    """Each task's own metric on its own rows and its own columns.

    Args:
        logits: (N, C_total) scores in the merged label space.
        labels: (N,) global labels, or (N, C_total) multi-hot targets (multilabel tasks).
        task_ids: (N,) task index per row.
        tasks: list of :class:`TaskInfo` (offset, num_classes, metric).
        average_key: ``"average"`` (official ``MULTITASK_EVALKEY`` default) or a task name. The
            unweighted mean over tasks is always under ``"mean"``; ``"score"`` is the mean, or the
            named task's value when ``average_key`` is a task name (used for model selection).

    Returns ``{task.name: value, ..., "mean": unweighted mean over evaluated tasks, "score": headline}``.
    """
    s = _np(logits)
    y = _np(labels)
    tid = _np(task_ids).astype(np.int64)
    out = {}
    for i, t in enumerate(tasks):
        rows = tid == i
        if not rows.any():
            continue
        sl = slice(t.offset, t.offset + t.num_classes)
        st = s[rows][:, sl]
        if y.ndim == 2:
            yt = y[rows][:, sl]
            if t.metric != "11point_mAP":
                yt = yt.argmax(axis=1)
        else:
            yt = y[rows] - t.offset
            if t.metric == "11point_mAP":
                oh = np.zeros_like(st)
                ok = (yt >= 0) & (yt < t.num_classes)
                oh[np.where(ok)[0], yt[ok]] = 1
                yt = oh
        out[t.name] = compute_metric(t.metric, st, yt)
    vals = [v for v in out.values() if not np.isnan(v)]
    out["mean"] = float(np.mean(vals)) if vals else float("nan")
    out["score"] = out.get(average_key, out["mean"]) if average_key not in ("average", "mean") else out["mean"]
    return out

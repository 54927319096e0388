"""Classification metrics (values in **percent**, 0-100) and per-task evaluation.

Definitions follow the ELEVATER toolkit MVLPT vendors (``datasets/metrics.py``):

* ``accuracy``: top-1, ties to the lowest index.
* ``mean_per_class``: balanced accuracy over the classes present in ``labels``; like the toolkit,
  predictions are the argmax over the *present* classes' columns only (``restrict=True``).
* ``11point_mAP``: per class with >= 1 positive, precision/recall at every distinct score
  threshold plus the point (P=1, R=0); interpolated precision ``max{P : R >= t}`` at
  ``t in numpy.linspace(1, 0, 11)``; mean over those 11 values, then over classes.
* ``macro_f1``: unweighted mean F1 over classes present in labels or predictions.

Reducible forms (sharded evaluation under DDP): :func:`count_table` turns predictions and labels into
per-class counts that add up over disjoint parts of a split (:func:`merge_count_tables`);
:func:`metric_from_counts` and :func:`classification_metrics_from_counts` compute ``accuracy``,
``mean_per_class`` and ``macro_f1`` from them with the same floating-point operations as the
functions above, so the values are identical to the ones on the whole split. ``11point_mAP`` needs
every sample's scores (:func:`task_metric` on the gathered rows of its task).
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

__all__ = ["accuracy", "mean_per_class_accuracy", "macro_f1", "classification_metrics", "map_11point", "compute_metric",
           "evaluate_tasks", "task_metric", "summarise_tasks", "count_table", "merge_count_tables",
           "metric_from_counts", "classification_metrics_from_counts", "COUNTABLE_METRICS"]


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
        out[t.name] = task_metric(t, s[rows][:, sl], y[rows][:, sl] if y.ndim == 2 else y[rows])
    return summarise_tasks(out, average_key)


def task_metric(task, scores, labels) -> float:
    """One task's metric on its rows: ``scores`` (n, task.num_classes) (the task's columns), ``labels``
    (n,) *global* labels or (n, task.num_classes) multi-hot targets (:func:`evaluate_tasks` per task)."""
    st, y = scores, labels
    if y.ndim == 2:
        yt = y
        if task.metric != "11point_mAP":
            yt = yt.argmax(axis=1)
    else:
        yt = y - task.offset
        if task.metric == "11point_mAP":
            oh = np.zeros_like(st)
            ok = (yt >= 0) & (yt < task.num_classes)
            oh[np.where(ok)[0], yt[ok]] = 1
            yt = oh
    return compute_metric(task.metric, st, yt)


def summarise_tasks(out: Dict[str, float], average_key: str = "average") -> Dict[str, float]:
    """Add ``mean`` and ``score`` to ``{task name: value}`` (see :func:`evaluate_tasks`)."""
    vals = [v for v in out.values() if not np.isnan(v)]
    out["mean"] = float(np.mean(vals)) if vals else float("nan")
    out["score"] = out.get(average_key, out["mean"]) if average_key not in ("average", "mean") else out["mean"]
    return out


# ---------------------------------------------------------------------------------------- reducible forms
#: metrics computed from :func:`count_table` counts (the others need every sample's scores)
COUNTABLE_METRICS = ("accuracy", "mean_per_class", "macro_f1")


def count_table(preds, labels) -> Dict[str, np.ndarray]:
    """Per-class counts of predicted ids ``preds`` (n,) against ``labels`` (n,): ``{"cls": every id
    occurring in labels or preds (sorted), "n": rows labelled cls, "pred": rows predicted cls, "tp":
    rows both}`` (int64 arrays). Counts of disjoint parts of a split add up (:func:`merge_count_tables`).

    >>> {k: v.tolist() for k, v in count_table([0, 2, 2], [0, 1, 2]).items()}
    {'cls': [0, 1, 2], 'n': [1, 1, 1], 'pred': [1, 0, 2], 'tp': [1, 0, 1]}
    """
    p, y = _np(preds).astype(np.int64).reshape(-1), _np(labels).astype(np.int64).reshape(-1)
    cls = np.union1d(y, p)

    def count(v):
        return np.bincount(np.searchsorted(cls, v), minlength=len(cls)).astype(np.int64)

    return {"cls": cls, "n": count(y), "pred": count(p), "tp": count(y[p == y])}


def merge_count_tables(tables) -> Dict[str, np.ndarray]:
    """The :func:`count_table` of the union of the parts whose tables are ``tables`` (None: no rows)."""
    tables = [t for t in tables if t is not None]
    if not tables:
        return count_table(np.zeros(0, np.int64), np.zeros(0, np.int64))
    cls = np.unique(np.concatenate([t["cls"] for t in tables]))
    out = {"cls": cls}
    for k in ("n", "pred", "tp"):
        acc = np.zeros(len(cls), np.int64)
        for t in tables:
            np.add.at(acc, np.searchsorted(cls, t["cls"]), t[k])
        out[k] = acc
    return out


def metric_from_counts(name, table, f1_over: str = "union") -> float:
    """``accuracy`` / ``mean_per_class`` / ``macro_f1`` (percent) from a :func:`count_table`, equal to the
    functions above on the rows counted (``mean_per_class``: the predictions counted are the ones it
    scores, i.e. restricted to the present classes' columns for the toolkit semantics)."""
    from .datum import normalize_metric

    name = normalize_metric(name)
    n, tp, npred, cls = table["n"], table["tp"], table["pred"], table["cls"]
    total = int(n.sum())
    if total == 0:
        return float("nan")
    if name == "accuracy":
        return float(np.float64(tp.sum()) / total * 100.0)
    if name == "mean_per_class":
        return float(np.mean([np.float64(tp[i]) / n[i] for i in range(len(cls)) if n[i] > 0]) * 100.0)
    if name == "macro_f1":
        keep = [i for i in range(len(cls)) if n[i] > 0 or (f1_over != "labels" and npred[i] > 0)]
        f1s = []
        for i in keep:
            t, fp, fn = tp[i], npred[i] - tp[i], n[i] - tp[i]
            f1s.append(0.0 if t == 0 else 2 * t / (2 * t + fp + fn))
        return float(np.mean(f1s) * 100.0)
    raise ValueError(f"metric {name!r} is not computed from counts (it needs every sample's scores)")


def classification_metrics_from_counts(table) -> Dict[str, float]:
    """:func:`classification_metrics` from the :func:`count_table` of its (plain argmax) predictions."""
    total, correct = int(table["n"].sum()), int(table["tp"].sum())
    if not total:
        return {"total": 0, "correct": 0, "accuracy": 0.0, "error_rate": 100.0, "macro_f1": 0.0,
                "mean_per_class_accuracy": 0.0}
    acc = 100.0 * correct / total
    return {"total": total, "correct": correct, "accuracy": acc, "error_rate": 100.0 - acc,
            "macro_f1": metric_from_counts("macro_f1", table, f1_over="labels"),
            "mean_per_class_accuracy": metric_from_counts("mean_per_class", table)}

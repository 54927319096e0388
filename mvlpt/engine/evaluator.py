"""Evaluators (Dassl's ``build_evaluator`` / ``Classification`` interface).

``Classification`` reports (in percent, like Dassl) ``accuracy``, ``error_rate``, ``macro_f1`` and
``mean_per_class_accuracy``; with several tasks (MVLPT multitask data) it adds one entry per task
(``<task>``, each task's own metric) and ``mean`` via :func:`mvlpt.data.metrics.evaluate_tasks`.
"""
from collections import OrderedDict, defaultdict

import torch

from mvlpt.registry import EVALUATOR_REGISTRY


def classification_metrics(pred, gt):
    """accuracy, macro-F1 (over classes present in ``gt``, as sklearn in Dassl) and mean per-class accuracy,
    in % - :func:`mvlpt.data.metrics.classification_metrics` (the one metrics module)."""
    from mvlpt.data.metrics import classification_metrics as metrics

    return OrderedDict(metrics(torch.as_tensor(pred).long(), torch.as_tensor(gt).long()))


class EvaluatorBase:
    """Dassl's evaluator interface: ``reset()``, ``process(output, gt)``, ``evaluate()``."""

    def __init__(self, cfg, **kwargs):
        self.cfg = cfg

    def reset(self):
        raise NotImplementedError

    def process(self, mo, gt, **kwargs):
        raise NotImplementedError

    def evaluate(self):
        raise NotImplementedError


@EVALUATOR_REGISTRY.register()
class Classification(EvaluatorBase):
    """Classification evaluator, compatible with Dassl's (same keys, percentages, printed summary)."""

    def __init__(self, cfg, lab2cname=None, tasks=None, log=print, **kwargs):
        super().__init__(cfg)
        self._lab2cname = lab2cname or {}
        self.tasks = list(tasks or [])
        self.log = log
        self.reset()

    def reset(self):
        self._logits, self._gt, self._task, self._index = [], [], [], []

    def process(self, mo, gt, task=None, index=None):
        """``mo``: logits (B, C); ``gt``: labels (B,); optional task ids and sample indices."""
        self._logits.append(mo.detach().float().cpu())
        self._gt.append(gt.detach().long().cpu())
        if task is not None:
            self._task.append(torch.as_tensor(task).long().cpu())
        if index is not None:
            self._index.append(torch.as_tensor(index).long().cpu())

    def state(self):
        """Everything processed so far (to gather across DDP ranks)."""
        cat = lambda xs: torch.cat(xs) if xs else None  # noqa: E731
        return {"logits": cat(self._logits), "gt": cat(self._gt), "task": cat(self._task),
                "index": cat(self._index)}

    def load_state(self, st):
        self.reset()
        for key, dst in (("logits", self._logits), ("gt", self._gt), ("task", self._task),
                         ("index", self._index)):
            if st.get(key) is not None:
                dst.append(st[key])

    def evaluate(self):
        st = self.state()
        logits, gt = st["logits"], st["gt"]
        if logits is None:
            return _empty_results()
        pred = logits.argmax(1)
        res = classification_metrics(pred, gt)
        per_task = None
        if len(self.tasks) > 1 and st["task"] is not None:
            from mvlpt.data.metrics import evaluate_tasks

            per_task = evaluate_tasks(logits, gt, st["task"], self.tasks)
        per = None
        if self.cfg is not None and self.cfg.TEST.PER_CLASS_RESULT:
            per = defaultdict(lambda: [0, 0])
            for p, g in zip(pred.tolist(), gt.tolist()):
                per[g][0] += int(p == g)
                per[g][1] += 1
            per = [(label, per[label][0], per[label][1]) for label in sorted(per)]
        cm = None
        if self._wants_cmat():
            n = logits.shape[1]
            cm = torch.bincount(gt.long() * n + pred.long(), minlength=n * n).reshape(n, n)
        return self._report(res, per_task, per, cm)

    def _wants_cmat(self):
        return self.cfg is not None and bool(self.cfg.TEST.get("COMPUTE_CMAT", False))

    def _report(self, res, per_task, per, cm, save=True):
        """The results dict and the printed summary from the metric values: ``res``
        (:func:`classification_metrics`), ``per_task`` (:func:`mvlpt.data.metrics.evaluate_tasks` or None),
        ``per`` (``[(label, correct, total)]`` sorted, or None), ``cm`` (confusion counts or None)."""
        results = OrderedDict((k, res[k]) for k in ("accuracy", "error_rate", "macro_f1",
                                                    "mean_per_class_accuracy"))
        lines = ["=> result", f"* total: {res['total']:,}", f"* correct: {res['correct']:,}",
                 f"* accuracy: {res['accuracy']:.1f}%", f"* error: {res['error_rate']:.1f}%",
                 f"* macro_f1: {res['macro_f1']:.1f}%",
                 f"* mean_per_class_accuracy: {res['mean_per_class_accuracy']:.1f}%"]
        if per_task is not None:
            for k, v in per_task.items():
                results[f"task/{k}"] = float(v)
                lines.append(f"* task {k}: {float(v):.2f}")
        if per is not None:
            accs = []
            lines.append("=> per-class result")
            for label, c, t in per:
                accs.append(100.0 * c / t)
                name = self._lab2cname.get(label, str(label))
                lines.append(f"* class: {label} ({name})\ttotal: {t:,}\tcorrect: {c:,}\tacc: {accs[-1]:.1f}%")
            results["perclass_accuracy"] = sum(accs) / len(accs)
        if cm is not None:
            self.save_confusion_matrix(cm, lines, save=save)
        if self.log is not None:
            self.log("\n".join(lines))
        return results

    def evaluate_sharded(self):
        """:meth:`evaluate` over the union of the samples processed on every DDP rank, when the ranks
        hold disjoint parts of the split (``TEST.SHARDED_EVAL``: each rank scored its block); every
        rank must call it, and every rank gets the same results.

        No logits travel. Each rank reduces its rows to per-class counts
        (:func:`mvlpt.data.metrics.count_table`: labels, argmax predictions, correct; per task with
        the task's own argmax), which are summed over the ranks; the metrics are computed from the
        sums with the same operations as :meth:`evaluate`, so they are identical to one process
        scoring the whole split. Two exceptions, by need: a task whose metric is ``mean_per_class``
        first learns the classes present in the whole split (its predictions are restricted to their
        columns); a task whose metric needs every sample's scores (``11point_mAP``) gathers its own
        rows' scores (``(n_task, task classes)``, in sample-index order). ``TEST.COMPUTE_CMAT`` sums
        the (C, C) confusion counts (rank 0 writes the file). Multi-hot ``gt`` falls back to gathering
        the evaluator states."""
        import numpy as np

        from mvlpt.data import metrics as M
        from mvlpt.data.datum import normalize_metric
        from mvlpt.engine import dist as du

        st = self.state()
        logits, gt, task, index = st["logits"], st["gt"], st["task"], st["index"]
        multitask = len(self.tasks) > 1
        y = tid = s = None
        if logits is not None:
            s, y = logits.float().numpy(), gt.long().numpy()
            tid = task.long().numpy() if task is not None else None
        # 1. what every rank must know first: columns, label layout, tasks present, classes present
        info = None
        if logits is not None:
            info = {"C": int(logits.shape[1]), "multihot": gt.dim() != 1, "has_task": tid is not None,
                    "tasks": {}, "present": {}}
            if multitask and tid is not None and y.ndim == 1:
                for i, t in enumerate(self.tasks):
                    rows = tid == i
                    if rows.any():
                        info["tasks"][i] = True
                        if normalize_metric(t.metric) == "mean_per_class":
                            info["present"][i] = np.unique(y[rows] - t.offset)
        infos = [x for x in du.all_gather_object(info) if x is not None]
        if not infos:
            return _empty_results()
        if any(x["multihot"] for x in infos):  # not reducible here: the whole split on every rank
            self.load_state(du.merge_eval_states(du.all_gather_object(st)))
            return self.evaluate()
        n_cols = max(x["C"] for x in infos)
        with_tasks = multitask and any(x["has_task"] for x in infos)
        task_ids = sorted({i for x in infos for i in x["tasks"]}) if with_tasks else []
        present = {i: np.unique(np.concatenate([x["present"][i] for x in infos if i in x["present"]]))
                   for i in task_ids if normalize_metric(self.tasks[i].metric) == "mean_per_class"}
        # 2. this rank's counts (and the rows of tasks whose metric needs every score)
        mine = {"all": None, "tasks": {}}
        pred = None
        if logits is not None:
            pred = logits.argmax(1)
            mine["all"] = M.count_table(pred, gt)
            for i in task_ids if tid is not None else []:
                t = self.tasks[i]
                rows = tid == i
                if not rows.any():
                    continue
                sl = slice(t.offset, t.offset + t.num_classes)
                st_i, y_i = s[rows][:, sl], y[rows]
                metric = normalize_metric(t.metric)
                if metric == "mean_per_class":
                    yt, pr = y_i - t.offset, present[i]
                    mine["tasks"][i] = M.count_table(pr[st_i[:, pr].argmax(axis=1)], yt)
                elif metric in M.COUNTABLE_METRICS:
                    mine["tasks"][i] = M.count_table(st_i.argmax(axis=1), y_i - t.offset)
                else:
                    idx = index.long().numpy()[rows] if index is not None and len(index) == len(y) else None
                    mine["tasks"][i] = (idx, st_i, y_i)
        everyone = du.all_gather_object(mine)
        whole = M.merge_count_tables([e["all"] for e in everyone])
        res = M.classification_metrics_from_counts(whole)
        per_task = None
        if with_tasks:
            out = {}
            for i in task_ids:
                t = self.tasks[i]
                parts = [e["tasks"][i] for e in everyone if i in e["tasks"]]
                if normalize_metric(t.metric) in M.COUNTABLE_METRICS:
                    out[t.name] = M.metric_from_counts(t.metric, M.merge_count_tables(parts))
                else:
                    st_i = np.concatenate([p[1] for p in parts])
                    y_i = np.concatenate([p[2] for p in parts])
                    if all(p[0] is not None for p in parts):
                        order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
                        st_i, y_i = st_i[order], y_i[order]
                    out[t.name] = M.task_metric(t, st_i, y_i)
            per_task = M.summarise_tasks(out)
        per = None
        if self.cfg is not None and self.cfg.TEST.PER_CLASS_RESULT:
            per = [(int(c), int(tp), int(n)) for c, tp, n in zip(whole["cls"], whole["tp"], whole["n"]) if n > 0]
        cm = None
        if self._wants_cmat():
            cm = torch.zeros(n_cols * n_cols, dtype=torch.long)
            if pred is not None:
                cm = torch.bincount(gt.long() * n_cols + pred.long(), minlength=n_cols * n_cols)
            cm = du.all_reduce_sum(cm).reshape(n_cols, n_cols)
        return self._report(res, per_task, per, cm, save=du.get_rank() == 0)

    def save_confusion_matrix(self, counts, lines, save=True):
        """``TEST.COMPUTE_CMAT``: the row-normalised confusion matrix of ``counts`` (C, C) (rows: true
        class) to ``OUTPUT_DIR/cmat.pt`` (``{"cmat": (C, C) float tensor}``, as Dassl), atomically."""
        import os

        from mvlpt.utils import atomic_torch_save

        cm = counts.double()
        cm = cm / cm.sum(1, keepdim=True).clamp(min=1)
        path = os.path.join(self.cfg.OUTPUT_DIR, "cmat.pt")
        if save:
            os.makedirs(self.cfg.OUTPUT_DIR, exist_ok=True)
            atomic_torch_save({"cmat": cm.float()}, path)
        lines.append(f"Confusion matrix is saved to {path}")


def _empty_results():
    return OrderedDict(accuracy=0.0, error_rate=100.0, macro_f1=0.0, mean_per_class_accuracy=0.0)


def build_evaluator(cfg, **kwargs):
    """Instantiate ``cfg.TEST.EVALUATOR`` from :data:`EVALUATOR_REGISTRY`."""
    return EVALUATOR_REGISTRY.get(cfg.TEST.EVALUATOR)(cfg, **kwargs)

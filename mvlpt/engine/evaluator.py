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
            return OrderedDict(accuracy=0.0, error_rate=100.0, macro_f1=0.0, mean_per_class_accuracy=0.0)
        pred = logits.argmax(1)
        res = classification_metrics(pred, gt)
        results = OrderedDict((k, res[k]) for k in ("accuracy", "error_rate", "macro_f1",
                                                    "mean_per_class_accuracy"))
        lines = ["=> result", f"* total: {res['total']:,}", f"* correct: {res['correct']:,}",
                 f"* accuracy: {res['accuracy']:.1f}%", f"* error: {res['error_rate']:.1f}%",
                 f"* macro_f1: {res['macro_f1']:.1f}%",
                 f"* mean_per_class_accuracy: {res['mean_per_class_accuracy']:.1f}%"]
        if len(self.tasks) > 1 and st["task"] is not None:
            from mvlpt.data.metrics import evaluate_tasks

            per_task = evaluate_tasks(logits, gt, st["task"], self.tasks)
            for k, v in per_task.items():
                results[f"task/{k}"] = float(v)
                lines.append(f"* task {k}: {float(v):.2f}")
        if self.cfg is not None and self.cfg.TEST.PER_CLASS_RESULT:
            per = defaultdict(lambda: [0, 0])
            for p, g in zip(pred.tolist(), gt.tolist()):
                per[g][0] += int(p == g)
                per[g][1] += 1
            accs = []
            lines.append("=> per-class result")
            for label in sorted(per):
                c, t = per[label]
                accs.append(100.0 * c / t)
                name = self._lab2cname.get(label, str(label))
                lines.append(f"* class: {label} ({name})\ttotal: {t:,}\tcorrect: {c:,}\tacc: {accs[-1]:.1f}%")
            results["perclass_accuracy"] = sum(accs) / len(accs)
        if self.cfg is not None and self.cfg.TEST.get("COMPUTE_CMAT", False):
            self.save_confusion_matrix(pred, gt, logits.shape[1], lines)
        if self.log is not None:
            self.log("\n".join(lines))
        return results


    def save_confusion_matrix(self, pred, gt, n, lines):
        """``TEST.COMPUTE_CMAT``: the row-normalised confusion matrix (rows: true class) to
        ``OUTPUT_DIR/cmat.pt`` (``{"cmat": (C, C) float tensor}``, as Dassl), atomically."""
        import os

        from mvlpt.utils import atomic_torch_save

        cm = torch.bincount(gt.long() * n + pred.long(), minlength=n * n).reshape(n, n).double()
        cm = cm / cm.sum(1, keepdim=True).clamp(min=1)
        path = os.path.join(self.cfg.OUTPUT_DIR, "cmat.pt")
        os.makedirs(self.cfg.OUTPUT_DIR, exist_ok=True)
        atomic_torch_save({"cmat": cm.float()}, path)
        lines.append(f"Confusion matrix is saved to {path}")


def build_evaluator(cfg, **kwargs):
    """Instantiate ``cfg.TEST.EVALUATOR`` from :data:`EVALUATOR_REGISTRY`."""
    return EVALUATOR_REGISTRY.get(cfg.TEST.EVALUATOR)(cfg, **kwargs)

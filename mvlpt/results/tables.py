"""Tables from result records: per task and average, mean ± std over seeds, markdown and CSV.

    >>> from mvlpt.results.tables import build_table, to_markdown
    >>> recs = [{"label": "CoOp", "task": "a", "seed": 1, "best": 50.0, "last": 48.0},
    ...         {"label": "CoOp", "task": "a", "seed": 2, "best": 60.0, "last": 58.0}]
    >>> t = build_table(recs)
    >>> t.cell("a", "CoOp", "best")
    (55.0, 7.0710678118654755, 2)

std is the sample standard deviation (n-1), 0 for a single seed. The "Average" row averages, for each
seed, that seed's per-task scores over the tasks present in every column's row set, then takes mean ± std
over seeds (the paper's convention: the average of the per-task means equals the mean of the averages).
"""
import csv
import io
import math
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence

__all__ = ["Table", "build_table", "to_markdown", "to_csv", "mean_std", "fmt_cell"]

AVG = "Average"


def mean_std(values: Sequence[float]):
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None, 0
    m = sum(vals) / len(vals)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, s, len(vals)


def fmt_cell(m, s, n, digits=1, show_n=False) -> str:
    if m is None:
        return "-"
    txt = f"{m:.{digits}f} ± {s:.{digits}f}"
    return txt + (f" (n={n})" if show_n else "")


class Table:
    """``values[(task, label, which)] = {seed: score}``; rows = tasks (+ Average), columns = labels."""

    def __init__(self, tasks, labels, values):
        self.tasks, self.labels, self.values = list(tasks), list(labels), values

    def seeds(self, task, label, which):
        return self.values.get((task, label, which), {})

    def cell(self, task, label, which="best"):
        if task == AVG:
            return self.average(label, which)
        return mean_std(list(self.seeds(task, label, which).values()))

    def average(self, label, which="best"):
        tasks = [t for t in self.tasks if self.seeds(t, label, which)]
        if not tasks:
            return None, None, 0
        seed_sets = [set(self.seeds(t, label, which)) for t in tasks]
        common = set.intersection(*seed_sets)
        if common:
            per_seed = [sum(self.seeds(t, label, which)[s] for t in tasks) / len(tasks) for s in sorted(common, key=str)]
            return mean_std(per_seed)
        means = [mean_std(list(self.seeds(t, label, which).values()))[0] for t in tasks]
        m = sum(means) / len(means)
        return m, 0.0, 1


def build_table(records: List[Dict], tasks: Optional[Sequence[str]] = None,
                labels: Optional[Sequence[str]] = None) -> Table:
    values = defaultdict(dict)
    seen_t, seen_l = OrderedDict(), OrderedDict()
    for r in records:
        for which in ("best", "last"):
            v = r.get(which)
            if v is None:
                continue
            seed = r.get("seed")
            values[(r["task"], r["label"], which)][seed if seed is not None else r.get("path", "?")] = float(v)
        seen_t[r["task"]] = None
        seen_l[r["label"]] = None
    return Table(tasks or sorted(seen_t), labels or sorted(seen_l), values)


def _rows(table: Table, which: str, digits: int, show_n: bool):
    for t in table.tasks + [AVG]:
        yield t, [fmt_cell(*table.cell(t, l, which), digits=digits, show_n=show_n) for l in table.labels]


def to_markdown(table: Table, digits: int = 1, show_n: bool = True, title: str = "") -> str:
    """Two markdown tables: best-val checkpoint and last epoch."""
    out = []
    if title:
        out.append(f"# {title}\n")
    for which, head in (("best", "best-val checkpoint"), ("last", "last epoch")):
        out.append(f"## Test score, {head} (mean ± std over seeds)\n")
        out.append("| task | " + " | ".join(table.labels) + " |")
        out.append("|---|" + "---|" * len(table.labels))
        for t, cells in _rows(table, which, digits, show_n):
            name = f"**{t}**" if t == AVG else t
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def to_csv(table: Table) -> str:
    """Long CSV: task,label,which,mean,std,n,seeds (``seed:score;...``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "label", "which", "mean", "std", "n", "seeds"])
    for which in ("best", "last"):
        for t in table.tasks + [AVG]:
            for l in table.labels:
                m, s, n = table.cell(t, l, which)
                if m is None:
                    continue
                seeds = "" if t == AVG else ";".join(f"{k}:{v:.4f}" for k, v in
                                                    sorted(table.seeds(t, l, which).items(), key=lambda kv: str(kv[0])))
                w.writerow([t, l, which, f"{m:.4f}", f"{s:.4f}", n, seeds])
    return buf.getvalue()

"""Tables from result records: per task and average, mean ± std over seeds, markdown and CSV.

    >>> from mvlpt.results.tables import build_table, to_markdown
    >>> recs = [{"label": "CoOp", "task": "a", "seed": 1, "best": 50.0, "last": 48.0},
    ...         {"label": "CoOp", "task": "a", "seed": 2, "best": 60.0, "last": 58.0}]
    >>> t = build_table(recs)
    >>> t.cell("a", "CoOp", "best")
    (55.0, 7.0710678118654755, 2)

std is the sample standard deviation (n-1), 0 for a single seed. n (the number of seeds) is stated once in
the table's header; a cell with a different n says so. The "Average" row averages, for each seed, that
seed's per-task scores over the column's tasks, then takes mean ± std over seeds (the paper's convention:
the average of the per-task means equals the mean of the per-seed averages). A column missing some of the
table's tasks says ``(k/N tasks)`` in its Average cell. Rows in ``avg_exclude`` (the source dataset of a
transfer table) are shown but not averaged.

"best" is the score under the run's own model-selection rule (``TEST.FINAL_MODEL``: ``last_step`` = the
last epoch, the CLI default; ``best_val`` = the best validation checkpoint); the header states the rule
the runs actually used. A "last epoch" table follows only when some run tested both.

Base-to-new tables (:func:`build_base2new`): per method base, new and H, the harmonic mean
``2·B·N / (B + N)`` of the mean base and mean new accuracies (row by row; the Average row's H is that of
the average base and average new, as in the CoCoOp / MaPLe papers).
"""
import csv
import io
import math
from collections import Counter, OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence

__all__ = ["Table", "build_table", "to_markdown", "to_csv", "mean_std", "fmt_cell", "harmonic",
           "build_base2new", "base2new_markdown", "disambiguate", "selection_text"]

AVG = "Average"
SELECTION = {"last_step": "last_step (the model after the last epoch)",
             "best_val": "best_val (the checkpoint with the best validation score)",
             "unknown": "unknown (not recorded by the runs; results_best.json / results.json as written)"}


def mean_std(values: Sequence[float]):
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None, 0
    m = sum(vals) / len(vals)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, s, len(vals)


def harmonic(b, n):
    """Harmonic mean of two accuracies (None if either is missing; 0 if both are 0)."""
    if b is None or n is None:
        return None
    return 0.0 if b + n == 0 else 2 * b * n / (b + n)


def fmt_cell(m, s, n, digits=1, show_n=False) -> str:
    if m is None:
        return "-"
    txt = f"{m:.{digits}f} ± {s:.{digits}f}"
    return txt + (f" (n={n})" if show_n else "")


class Table:
    """``values[(task, label, which)] = {seed: score}``; rows = tasks (+ Average), columns = labels."""

    def __init__(self, tasks, labels, values, selection=None, avg_exclude=(), row_names=None):
        self.tasks, self.labels, self.values = list(tasks), list(labels), values
        self.selection = selection or {}
        self.avg_exclude, self.row_names = set(avg_exclude), dict(row_names or {})

    def seeds(self, task, label, which):
        return self.values.get((task, label, which), {})

    def cell(self, task, label, which="best"):
        if task == AVG:
            return self.average(label, which)
        return mean_std(list(self.seeds(task, label, which).values()))

    def avg_tasks(self, label, which="best"):
        return [t for t in self.tasks if t not in self.avg_exclude and self.seeds(t, label, which)]

    def average(self, label, which="best"):
        tasks = self.avg_tasks(label, which)
        if not tasks:
            return None, None, 0
        common = set.intersection(*[set(self.seeds(t, label, which)) for t in tasks])
        if common:
            per_seed = [sum(self.seeds(t, label, which)[s] for t in tasks) / len(tasks) for s in sorted(common, key=str)]
            return mean_std(per_seed)
        means = [mean_std(list(self.seeds(t, label, which).values()))[0] for t in tasks]
        return sum(means) / len(means), 0.0, 1

    def has_distinct_last(self):
        return any(self.seeds(t, l, "best") != self.seeds(t, l, "last") for t in self.tasks for l in self.labels)


KEYS = (("shots", "{}-shot"), ("backbone", "{}"), ("config", "{}"))


def disambiguate(records: List[Dict], keys=KEYS) -> List[Dict]:
    """Runs that share a label but differ in a setting (``keys``: shots, backbone, config file) get the
    differing settings appended to their label, so different settings never share a column."""
    by = defaultdict(list)
    for r in records:
        by[r["label"]].append(r)
    for label, rs in by.items():
        parts = []
        for key, fmt in keys:
            if len({r.get(key) for r in rs}) > 1:
                parts.append((key, fmt))
        for r in rs:
            extra = [fmt.format(r.get(k)) for k, fmt in parts if r.get(k) not in (None, "", -1)]
            if extra:
                r["label"] = f"{label} ({', '.join(extra)})"
    return records


def build_table(records: List[Dict], tasks: Optional[Sequence[str]] = None,
                labels: Optional[Sequence[str]] = None, avg_exclude=(), row_names=None) -> Table:
    values = defaultdict(dict)
    seen_t, seen_l = OrderedDict(), OrderedDict()
    selection = defaultdict(set)
    for r in records:
        for which in ("best", "last"):
            v = r.get(which)
            if v is None:
                continue
            seed = r.get("seed")
            values[(r["task"], r["label"], which)][seed if seed is not None else r.get("path", "?")] = float(v)
        seen_t[r["task"]] = None
        seen_l[r["label"]] = None
        selection[r["label"]].add(r.get("selection", "unknown"))
    if tasks is None:
        src = sorted(t for t in seen_t if t in set(avg_exclude))
        tasks = src + sorted(t for t in seen_t if t not in set(avg_exclude))
    return Table(tasks, labels or sorted(seen_l), values, selection=dict(selection), avg_exclude=avg_exclude,
                 row_names=row_names)


def selection_text(table) -> str:
    rules = {l: sorted(table.selection.get(l, {"unknown"})) for l in table.labels}
    flat = {r for v in rules.values() for r in v}
    if len(flat) == 1:
        return "model selection: " + SELECTION.get(next(iter(flat)), next(iter(flat)))
    return "model selection differs between columns: " + "; ".join(f"{l}: {'/'.join(v)}" for l, v in rules.items())


def _common_n(table, which):
    ns = Counter(table.cell(t, l, which)[2] for t in table.tasks for l in table.labels if table.seeds(t, l, which))
    return max(ns, key=lambda n: (ns[n], n)) if ns else 0


def _avg_note(table, label, which):
    k = len(table.avg_tasks(label, which))
    n = len([t for t in table.tasks if t not in table.avg_exclude])
    return f" ({k}/{n} tasks)" if 0 < k < n else ""


def to_markdown(table: Table, digits: int = 1, show_n: Optional[bool] = None, title: str = "",
                heading: str = "Test score") -> str:
    """The table under the runs' model-selection rule, then the last epoch when some runs differ there."""
    out = [f"# {title}\n"] if title else []
    sel = selection_text(table)
    parts = [("best", sel)]
    if table.has_distinct_last():
        parts.append(("last", "last epoch (the model after the last epoch)"))
    for which, head in parts:
        n0 = _common_n(table, which)
        out.append(f"## {heading}, {head}; mean ± std over {n0} seed{'s' if n0 != 1 else ''}\n")
        out.append("| task | " + " | ".join(table.labels) + " |")
        out.append("|---|" + "---|" * len(table.labels))
        for t in table.tasks + [AVG]:
            cells = []
            for l in table.labels:
                m, s, n = table.cell(t, l, which)
                txt = fmt_cell(m, s, n, digits, show_n=bool(show_n) or (m is not None and n != n0))
                cells.append(txt + (_avg_note(table, l, which) if t == AVG and m is not None else ""))
            name = f"**{t}**" if t == AVG else table.row_names.get(t, t)
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        if table.avg_exclude:
            out.append(f"\n{AVG} over the target rows only ({', '.join(sorted(table.avg_exclude))} not averaged).")
        out.append("")
    return "\n".join(out)


def to_csv(table: Table, protocol: str = "") -> str:
    """Long CSV: task,label,which,mean,std,n,seeds (``seed:score;...``),protocol,selection."""
    buf = io.StringIO()
    _csv_rows(csv.writer(buf), table, protocol, header=True)
    return buf.getvalue()


def _csv_rows(w, table, protocol, header=False, which_names=("best", "last")):
    if header:
        w.writerow(["task", "label", "which", "mean", "std", "n", "seeds", "protocol", "selection"])
    for which in which_names:
        for t in table.tasks + [AVG]:
            for l in table.labels:
                m, s, n = table.cell(t, l, which)
                if m is None:
                    continue
                seeds = "" if t == AVG else ";".join(f"{k}:{v:.4f}" for k, v in
                                                    sorted(table.seeds(t, l, which).items(), key=lambda kv: str(kv[0])))
                w.writerow([t, l, which, f"{m:.4f}", f"{s:.4f}", n, seeds, protocol,
                            "/".join(sorted(table.selection.get(l, {"unknown"})))])


def build_base2new(records: List[Dict], tasks: Optional[Sequence[str]] = None):
    """``(base, new)`` tables (same rows and columns) from base2new records (``subsample`` base | new)."""
    base = [r for r in records if r.get("subsample") == "base"]
    new = [r for r in records if r.get("subsample") == "new"]
    alltasks = tasks or sorted({r["task"] for r in base + new})
    labels = sorted({r["label"] for r in base + new})
    return build_table(base, tasks=alltasks, labels=labels), build_table(new, tasks=alltasks, labels=labels)


def base2new_markdown(base: Table, new: Table, digits: int = 1, title: str = "") -> str:
    out = [f"# {title}\n"] if title else []
    n0 = _common_n(base, "best") or _common_n(new, "best")
    sel = selection_text(Table([], base.labels, {}, selection={l: base.selection.get(l, set()) |
                                                                   new.selection.get(l, set()) for l in base.labels}))
    out.append(f"## Base-to-new generalisation, {sel}; base and new: mean ± std over {n0} seeds; "
               f"H: harmonic mean of the mean base and mean new\n")
    out.append("| task | " + " | ".join(f"{l} base | {l} new | {l} H" for l in base.labels) + " |")
    out.append("|---|" + "---|---|---|" * len(base.labels))
    for t in base.tasks + [AVG]:
        cells = []
        for l in base.labels:
            b, n = base.cell(t, l), new.cell(t, l)
            h = harmonic(b[0], n[0])
            cells += [fmt_cell(*b, digits, show_n=b[0] is not None and b[2] != n0),
                      fmt_cell(*n, digits, show_n=n[0] is not None and n[2] != n0),
                      "-" if h is None else f"{h:.{digits}f}"]
        out.append(f"| {'**Average**' if t == AVG else t} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def base2new_csv_rows(w, base: Table, new: Table):
    _csv_rows(w, base, "base2new:base", which_names=("best",))
    _csv_rows(w, new, "base2new:new", which_names=("best",))
    for t in base.tasks + [AVG]:
        for l in base.labels:
            h = harmonic(base.cell(t, l)[0], new.cell(t, l)[0])
            if h is not None:
                w.writerow([t, l, "H", f"{h:.4f}", "", "", "", "base2new:H", ""])


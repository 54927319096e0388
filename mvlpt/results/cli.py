"""``python -m mvlpt.results OUTPUT_ROOT [--md results.md] [--csv results.csv] [--tasks a,b] [--protocol P]``

Prints one markdown table per protocol found under the root (each run's identity is read from its
``run.json``; see :mod:`mvlpt.results.collect`) and writes them (and one long CSV) when asked:

* few-shot / full-data runs: rows = tasks, one column per method (and per shots / backbone / config
  when those differ), mean ± std over seeds, Average;
* base-to-new: base, new and H per method;
* cross-dataset and domain generalisation: the source row (ImageNet) on top, not averaged;
* MVLPT recipe runs (``run.json`` with a ``label``): one column per label, group runs' helper tasks left out.
"""
import argparse
import csv
import io
import re
import sys
from collections import OrderedDict

from .collect import collect
from .tables import KEYS, base2new_csv_rows, base2new_markdown, build_base2new, build_table, disambiguate, _csv_rows, to_markdown

TITLES = OrderedDict([
    ("recipe", "MVLPT recipe: target tasks (group runs: helper tasks left out)"),
    ("fewshot", "Few-shot classification"),
    ("full", "Full-data classification"),
    ("multitask", "Multitask runs (one row per task)"),
    ("base2new", "Base-to-new generalisation"),
    ("cross_dataset", "Cross-dataset transfer (prompt trained on the source, evaluated on each target)"),
    ("dg", "Domain generalisation (prompt trained on ImageNet, evaluated on its variants)"),
    ("other", "Results"),
])


def section_of(r):
    p = r.get("protocol") or ""
    if p in ("base2new", "cross_dataset", "dg"):
        return p
    if p == "xd_source" or r.get("source"):
        return "xd_source"
    if r.get("explicit_label"):
        return "recipe"
    return p if p in TITLES else "other"


def render(records, tasks=None, digits=1, title="", only=None):
    """``(markdown, csv)`` for all sections found in ``records`` (or only section ``only``)."""
    by = OrderedDict((k, []) for k in list(TITLES) + ["xd_source"])
    for r in records:
        by[section_of(r)].append(dict(r))
    md, buf = ([f"# {title}\n"] if title else []), io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "label", "which", "mean", "std", "n", "seeds", "protocol", "selection"])
    for sec, recs in by.items():
        if sec == "xd_source" or not recs or (only and sec != only):
            continue
        if sec == "base2new":
            disambiguate(recs, keys=KEYS[1:])  # base and new runs of one method share a column
            base, new = build_base2new(recs, tasks=tasks)
            md.append(base2new_markdown(base, new, digits=digits))
            base2new_csv_rows(w, base, new)
            continue
        src = []
        if sec in ("cross_dataset", "dg"):  # the source row: same column as the targets evaluated
            src = [dict(r) for r in by["xd_source"]]
            disambiguate(recs + src, keys=KEYS[1:])
        else:
            disambiguate(recs)
        rows = None
        if tasks:
            rows = [t for t in tasks if any(r["task"] == t for r in recs + src)]
            rows = sorted({r["task"] for r in src}) + [t for t in rows if t not in {r["task"] for r in src}]
        table = build_table(recs + src, tasks=rows, labels=sorted({r["label"] for r in recs}),
                            avg_exclude={r["task"] for r in src}, row_names={r["task"]: f"{r['task']} (source)" for r in src})
        md.append(f"## {TITLES[sec]}\n")
        md.append(re.sub(r"^## ", "### ", to_markdown(table, digits=digits, heading="Test score"), flags=re.M))
        _csv_rows(w, table, sec)
    if only is None and by["xd_source"] and not (by["cross_dataset"] or by["dg"]):
        table = build_table(by["xd_source"])
        md.append("## Source runs of a transfer protocol (no target evaluations found)\n")
        md.append(to_markdown(table, digits=digits))
        _csv_rows(w, table, "xd_source")
    return "\n".join(md), buf.getvalue()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mvlpt.results", description=__doc__.splitlines()[0])
    p.add_argument("root", help="output root to scan for runs")
    p.add_argument("--md", default="", help="write the markdown tables here")
    p.add_argument("--csv", default="", help="write the long CSV here")
    p.add_argument("--label-filter", default="", help="keep columns whose label matches this regex")
    p.add_argument("--tasks", default="", help="comma-separated row order and selection (default: all, sorted)")
    p.add_argument("--protocol", default="", choices=[""] + list(TITLES), help="print only this table")
    p.add_argument("--include-transfer", action="store_true", help="also tabulate transferability-pair runs")
    p.add_argument("--digits", type=int, default=1)
    p.add_argument("--title", default="")
    a = p.parse_args(argv)
    recs = collect(a.root, include_transfer=a.include_transfer)
    if a.label_filter:
        rx = re.compile(a.label_filter)
        recs = [r for r in recs if rx.search(r["label"])]
    tasks = [t for t in a.tasks.split(",") if t] or None
    if tasks:
        recs = [r for r in recs if r["task"] in tasks or r.get("source")]
    if not recs:
        print(f"no finished runs under {a.root}", file=sys.stderr)
        return 1
    md, csv_text = render(recs, tasks=tasks, digits=a.digits, title=a.title, only=a.protocol or None)
    print(md)
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(md + "\n")
    if a.csv:
        with open(a.csv, "w", encoding="utf-8", newline="") as f:
            f.write(csv_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

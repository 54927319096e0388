"""``python -m mvlpt.results OUTPUT_ROOT [--md results.md] [--csv results.csv] [--label-filter RE]``

Prints the markdown table (best-val and last-epoch, per task and average, mean ± std over seeds)
and writes it (and a long CSV) when asked.
"""
import argparse
import re
import sys

from .collect import collect
from .tables import build_table, to_csv, to_markdown


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mvlpt.results", description=__doc__.splitlines()[0])
    p.add_argument("root", help="output root to scan for runs")
    p.add_argument("--md", default="", help="write the markdown tables here")
    p.add_argument("--csv", default="", help="write the long CSV here")
    p.add_argument("--label-filter", default="", help="keep columns whose label matches this regex")
    p.add_argument("--tasks", default="", help="comma-separated row order (default: sorted)")
    p.add_argument("--digits", type=int, default=1)
    p.add_argument("--title", default="")
    a = p.parse_args(argv)
    recs = collect(a.root)
    if a.label_filter:
        rx = re.compile(a.label_filter)
        recs = [r for r in recs if rx.search(r["label"])]
    if not recs:
        print(f"no finished runs under {a.root}", file=sys.stderr)
        return 1
    tasks = [t for t in a.tasks.split(",") if t] or None
    table = build_table(recs, tasks=tasks)
    md = to_markdown(table, digits=a.digits, title=a.title)
    print(md)
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(md + "\n")
    if a.csv:
        with open(a.csv, "w", encoding="utf-8", newline="") as f:
            f.write(to_csv(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

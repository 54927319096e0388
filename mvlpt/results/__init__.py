"""Results tables from output folders: ``python -m mvlpt.results OUTPUT_ROOT [--md F] [--csv F]``.

See :mod:`mvlpt.results.collect` (what is read) and :mod:`mvlpt.results.tables` (mean ± std, md/CSV).
"""
from .collect import collect, find_runs, parse_log
from .tables import Table, build_table, mean_std, to_csv, to_markdown

__all__ = ["collect", "find_runs", "parse_log", "Table", "build_table", "mean_std", "to_csv", "to_markdown"]

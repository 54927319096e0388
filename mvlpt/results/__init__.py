"""Results tables from output folders: ``python -m mvlpt.results OUTPUT_ROOT [--md F] [--csv F]``.

See :mod:`mvlpt.results.collect` (what is read: each run's ``run.json`` identity, see :mod:`mvlpt.runinfo`)
and :mod:`mvlpt.results.tables` (mean ± std over seeds, base→new with H, markdown and CSV).
"""
from .collect import collect, find_runs, identity_from_path, parse_log
from .tables import Table, build_base2new, build_table, harmonic, mean_std, to_csv, to_markdown

__all__ = ["collect", "find_runs", "identity_from_path", "parse_log", "Table", "build_table", "build_base2new",
           "harmonic", "mean_std", "to_csv", "to_markdown"]

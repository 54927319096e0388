"""The MVLPT recipe: multitask source prompt -> (averaged) init -> target / grouped adaptation, and the
task-transferability study. Command line: ``python -m mvlpt.multitask --help``; demo:
``python -m mvlpt.multitask.demo OUT`` (``bash scripts/demo.sh OUT``). See docs/RECIPE.md.
"""
from .averaging import AveragingError, average_checkpoints, average_state_dicts, select_source
from .groups import load_groups, topk_groups
from .transfer import plot_heatmap, read_matrix_csv, run_matrix, write_matrix_csv

__all__ = ["average_checkpoints", "average_state_dicts", "select_source", "AveragingError", "load_groups",
           "topk_groups", "run_matrix", "plot_heatmap", "read_matrix_csv", "write_matrix_csv"]

"""Task transferability: prompt trained on task A, adapted to / evaluated on task B, for every pair.

Resumable by construction: each pair writes ``OUT/pairs/<A>__<B>.json`` when it finishes, and a pair
whose file exists is never rerun; the matrix CSV is rewritten after every pair, the heatmap at the end.

    >>> from mvlpt.multitask.transfer import run_matrix
    >>> m = run_matrix(["A", "B"], "out/tr", lambda a, b: 50.0)   # doctest: +SKIP

Orientation: rows = source task A (where the prompt was trained), columns = target task B.
"""
import csv
import io
import json
import math
import os
from typing import Callable, List, Optional, Sequence

from mvlpt.utils import atomic_write_json, atomic_write_text

__all__ = ["run_matrix", "pair_file", "write_matrix_csv", "read_matrix_csv", "plot_heatmap", "safe_name"]


def safe_name(task: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in task)


def pair_file(out_dir: str, src: str, tgt: str) -> str:
    return os.path.join(out_dir, "pairs", f"{safe_name(src)}__{safe_name(tgt)}.json")


def _load_pair(path: str) -> Optional[float]:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return float(json.load(f)["score"])


def write_matrix_csv(path: str, tasks: Sequence[str], matrix: Sequence[Sequence[Optional[float]]]):
    """``source\\target,B1,B2,...`` header; empty cells for pairs not run yet."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["source\\target"] + list(tasks))
    for t, row in zip(tasks, matrix):
        w.writerow([t] + ["" if v is None else f"{v:.4f}" for v in row])
    atomic_write_text(path, buf.getvalue())


def read_matrix_csv(path: str):
    """``(tasks, matrix)``; missing cells are ``None``."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    tasks = rows[0][1:]
    matrix = [[float(v) if v != "" else None for v in r[1:]] for r in rows[1:]]
    return tasks, matrix


def run_matrix(tasks: Sequence[str], out_dir: str, pair_fn: Callable[[str, str], float],
               source_fn: Optional[Callable[[str], None]] = None, csv_name: str = "transferability.csv",
               png_name: Optional[str] = "transferability.png", title: str = "", progress: bool = True):
    """Fill the N x N matrix. ``source_fn(A)`` (optional) prepares A's prompt once (it should skip
    itself when done); ``pair_fn(A, B)`` returns the score of B from A's prompt. Returns the matrix."""
    from tqdm import tqdm

    tasks = list(tasks)
    os.makedirs(os.path.join(out_dir, "pairs"), exist_ok=True)
    matrix: List[List[Optional[float]]] = [[_load_pair(pair_file(out_dir, a, b)) for b in tasks] for a in tasks]
    todo = [(i, j) for i in range(len(tasks)) for j in range(len(tasks)) if matrix[i][j] is None]
    csv_path = os.path.join(out_dir, csv_name)
    write_matrix_csv(csv_path, tasks, matrix)
    bar = tqdm(total=len(tasks) ** 2, initial=len(tasks) ** 2 - len(todo), desc="transferability",
               disable=not progress, dynamic_ncols=True)
    prepared = set()
    for i, j in todo:
        a, b = tasks[i], tasks[j]
        if source_fn is not None and a not in prepared:
            source_fn(a)
            prepared.add(a)
        score = float(pair_fn(a, b))
        atomic_write_json(pair_file(out_dir, a, b), {"source": a, "target": b, "score": score})
        matrix[i][j] = score
        write_matrix_csv(csv_path, tasks, matrix)
        bar.update(1)
    bar.close()
    if png_name:
        plot_heatmap(matrix, tasks, os.path.join(out_dir, png_name), title=title)
    return matrix


def plot_heatmap(matrix, tasks: Sequence[str], path: str, title: str = "", relative: bool = False,
                 fmt: str = "{:.1f}"):
    """Heatmap PNG (matplotlib, Agg). ``relative``: show each column minus its diagonal entry."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    if relative:
        m = m - np.diag(m)[None, :]
    n = len(tasks)
    size = max(4.0, 0.55 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(m, cmap="viridis")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(tasks, rotation=60, ha="right", fontsize=8)
    ax.set_yticklabels(tasks, fontsize=8)
    ax.set_xlabel("target task (adapted / evaluated on)")
    ax.set_ylabel("source task (prompt trained on)")
    if n <= 25:
        finite = m[np.isfinite(m)]
        mid = (finite.max() + finite.min()) / 2 if finite.size else 0
        for i in range(n):
            for j in range(n):
                if math.isfinite(m[i, j]):
                    ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=7,
                            color="black" if m[i, j] > mid else "white")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

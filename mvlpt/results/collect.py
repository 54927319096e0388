"""Turn output folders into result records: one record per (run, task).

A *run folder* is any folder under the root holding ``results_best.json`` / ``results_last.json``
(written by :mod:`mvlpt.multitask.runner`), ``results.json`` (written by the engine after a test) or,
failing those, a ``log.txt`` with Dassl-style ``=> result`` blocks (parsed; the last test block
is the final result).

Records: ``{"label", "task", "seed", "best", "last", "path"}``. ``label`` (the table column) is
``run.json["label"]`` when present, else the run's path relative to the root with the ``seed<N>``
part and the task / group part removed. Multitask runs (``task/<name>`` keys) give one record per task.
"""
import json
import os
import re
from typing import Dict, List, Optional

__all__ = ["find_runs", "collect", "parse_log", "score_of"]

_SEED = re.compile(r"^seed[_-]?(\d+)$")


def _read(path) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def parse_log(path: str) -> Optional[dict]:
    """The last test ``=> result`` block of a Dassl/mvlpt ``log.txt`` as a dict (accuracy, task/<name> ...)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    result, in_test, cur = None, False, None
    for ln in lines:
        s = ln.strip()
        if s.startswith("Evaluate on the"):
            in_test = "*test*" in s
            continue
        if s == "=> result":
            cur = {} if in_test else None
            if cur is not None:
                result = cur
            continue
        if cur is None:
            continue
        m = re.match(r"^\* task (.+): ([-\d.]+)$", s)
        if m:
            cur[f"task/{m.group(1)}"] = float(m.group(2))
            continue
        m = re.match(r"^\* (accuracy|error|macro_f1|mean_per_class_accuracy): ([-\d.]+)%$", s)
        if m:
            cur["error_rate" if m.group(1) == "error" else m.group(1)] = float(m.group(2))
    return result


def find_runs(root: str) -> List[str]:
    runs = []
    for d, subdirs, files in os.walk(root):
        subdirs[:] = sorted(s for s in subdirs if s not in ("tensorboard", "prompt_learner", "pairs")
                            and not s.startswith("."))
        fs = set(files)
        if fs & {"results_best.json", "results_last.json", "results.json"} or "log.txt" in fs:
            runs.append(d)
    return runs


def score_of(res: dict, task: Optional[str] = None) -> Optional[float]:
    if res is None:
        return None
    if task is not None and f"task/{task}" in res:
        return float(res[f"task/{task}"])
    for k in ("score", "accuracy"):
        if k in res:
            return float(res[k])
    return None


def _label_and_seed(root: str, run: str, meta: dict, tasks: List[str]):
    rel = os.path.relpath(run, root)
    parts = [] if rel == "." else rel.split(os.sep)
    seed = meta.get("seed")
    keep = []
    for p in parts:
        m = _SEED.match(p)
        if m:
            seed = int(m.group(1)) if seed is None else seed
            continue
        if p in tasks or p == meta.get("group"):
            continue
        keep.append(p)
    label = meta.get("label") or "/".join(keep) or "."
    return label, seed


def collect(root: str) -> List[Dict]:
    """All records under ``root`` (see the module docstring)."""
    records = []
    for run in find_runs(root):
        meta = _read(os.path.join(run, "run.json")) or {}
        best = _read(os.path.join(run, "results_best.json"))
        last = _read(os.path.join(run, "results_last.json"))
        final = _read(os.path.join(run, "results.json"))
        if best is None and last is None and final is None:
            final = parse_log(os.path.join(run, "log.txt"))
            if final is None:
                continue
            final["_source"] = "log.txt"
        if best is None and last is None:
            best = last = final
        best = best or last
        last = last or best
        known = set(meta.get("datasets") or [])
        task_keys = sorted(k[5:] for k in best if k.startswith("task/")
                           and (k[5:] in known if known else k[5:] not in ("mean", "score", "average")))
        tasks = task_keys or list(meta.get("datasets") or []) or [meta.get("task") or os.path.basename(run)]
        if not task_keys and len(tasks) > 1:
            tasks = [",".join(tasks)]
        label, seed = _label_and_seed(root, run, meta, tasks + list(meta.get("datasets") or []))
        for t in tasks:
            key = t if task_keys else None
            records.append({"label": label, "task": t, "seed": seed, "best": score_of(best, key),
                            "last": score_of(last, key), "path": run})
    return records

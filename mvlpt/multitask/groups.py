"""Target-task groups for multitask prompt adaptation: from a config file or from a transferability matrix.

Group files (``configs/mvlpt/groups/*.yaml``)::

    name: elevater_paper
    groups:
      objects: [caltech-101, cifar-10, cifar-100, voc-2007-classification]
      ...

Matrix orientation everywhere in :mod:`mvlpt.multitask`: ``M[i][j]`` = score on target task ``j`` of a
prompt trained on source task ``i`` (rows = source, columns = target).
"""
import os
from typing import Dict, List, Optional, Sequence

__all__ = ["load_groups", "topk_groups", "groups_of"]


def load_groups(path: str) -> Dict[str, List[str]]:
    """``{group name: [task, ...]}`` from a yaml file (``groups:`` mapping, or a bare mapping)."""
    import yaml

    if not os.path.isfile(path):
        raise FileNotFoundError(f"group file not found: {path}")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    groups = data.get("groups", data) if isinstance(data, dict) else None
    if not isinstance(groups, dict) or not all(isinstance(v, (list, tuple)) for v in groups.values()):
        raise ValueError(f"{path}: expected 'groups: {{name: [task, ...]}}'")
    return {str(k): [str(t) for t in v] for k, v in groups.items()}


def topk_groups(matrix: Sequence[Sequence[float]], tasks: Sequence[str], k: int,
                targets: Optional[Sequence[str]] = None, relative: bool = True,
                candidates: Optional[Sequence[str]] = None) -> Dict[str, List[str]]:
    """For each target task, a group = the target + its ``k`` most helpful other tasks.

    "Helpful" = how well a prompt trained on task ``i`` does on the target (column of the matrix);
    with ``relative`` the score is taken minus the target's own diagonal entry (gain over training on
    the target alone), which does not change the ranking within a column but is what gets reported.
    Ties are broken by task order. ``candidates`` restricts the tasks that may join a group.
    """
    tasks = list(tasks)
    n = len(tasks)
    if len(matrix) != n or any(len(r) != n for r in matrix):
        raise ValueError(f"matrix must be {n}x{n} for tasks {tasks}")
    if k < 0:
        raise ValueError("k must be >= 0")
    pool = [t for t in (candidates or tasks) if t in tasks]
    out = {}
    for tgt in (targets or tasks):
        if tgt not in tasks:
            raise KeyError(f"target {tgt!r} is not in the matrix tasks {tasks}")
        j = tasks.index(tgt)
        base = matrix[j][j] if relative else 0.0
        scored = []
        for src in pool:
            i = tasks.index(src)
            if i == j:
                continue
            v = matrix[i][j]
            if v is None or v != v:  # missing / NaN
                continue
            scored.append((-(v - base), i, src))
        scored.sort()
        out[tgt] = [tgt] + [s for _, _, s in scored[:k]]
    return out


def groups_of(groups: Dict[str, List[str]], task: str) -> List[str]:
    """Names of the groups that contain ``task``."""
    return [g for g, ts in groups.items() if task in ts]

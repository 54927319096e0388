"""Turn output folders into result records: one record per (run, target task).

A *run folder* is any folder under the root holding ``results_best.json`` / ``results_last.json``
(the MVLPT recipe runner), ``results.json`` (the engine, after its final test) or, failing those, a
``log.txt`` with Dassl-style ``=> result`` blocks (the last *test* block is the result).

**Identity** (method, tasks, shots, protocol, seed, split) comes from the run's own ``run.json``
(:mod:`mvlpt.runinfo`, written at train time). Runs without it (older runs, the official repos' output
trees) fall back to the folder names: the seed from a ``seed<N>`` part, the task from a part naming a
known dataset (else the folder above ``seed<N>``; never a ``seed<N>`` basename), shots from
``shots<K>`` / ``shots_<K>`` / ``<cfg>_<K>shots``, the protocol from ``base2new`` / ``train_base`` /
``test_new`` / ``xd`` / ``fewshot`` parts. Such records carry ``"identity": "path"``.

Record keys: ``label`` (table column), ``task``, ``seed``, ``best`` (score under the run's model
selection rule), ``last`` (last-epoch score; equals ``best`` unless the run used ``best_val`` and also
tested the last epoch), ``selection`` (``last_step`` | ``best_val`` | ``unknown``), ``protocol``,
``method``, ``shots``, ``subsample`` (all | base | new), ``backbone``, ``config``, ``group``,
``source`` (True for the training run of a transfer protocol), ``path``, ``identity`` (run.json | path).

Group runs (recipe, ``run.json`` with ``group``) give records only for their **target** tasks:
``run.json["targets"]`` when present, else the group's name when it is one of its tasks or ``<task>+top<K>``
(top-k groups are named after their target), else every task of the group. Helper tasks are left out. When a task is a
target of several groups under one label, each group keeps its own column (``label [group]``).
Transferability runs (label ``transfer-*`` or protocol ``transfer``) are left out unless asked for: the
matrix has its own CSV.
"""
import json
import os
import re
from collections import defaultdict
from typing import Dict, List, Optional

from mvlpt.runinfo import DG_TARGETS, read_run_info

__all__ = ["find_runs", "collect", "parse_log", "score_of", "identity_from_path"]

_SEED = re.compile(r"^seed[_-]?(\d+)$")
_SHOTS = (re.compile(r"^shots_?(\d+)$"), re.compile(r"^.*_(\d+)shots$"), re.compile(r"^(\d+)[-_]?shots?$"))
_NOT_TASK = re.compile(r"^(seed[_-]?\d+|shots_?\d+|.*_\d+shots|\d+[-_]?shots?|nctx.*|train_base|test_base|"
                       r"test_new|train|eval|evaluation|base2new|xd|fewshot|protocols|target|output|avg)$")
_SKIP_DIRS = ("tensorboard", "prompt_learner", "pairs", "MultiModalPromptLearner", "VLPromptLearner")


def _known_tasks():
    names = set(DG_TARGETS) | {"ImageNet", "Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101",
                               "FGVCAircraft", "SUN397", "DescribableTextures", "DTD", "EuroSAT", "UCF101"}
    try:
        from mvlpt.data import DATASET_NAMES
        names |= {n for n in DATASET_NAMES if n not in ("CSV", "Folder")}
    except Exception:  # pragma: no cover  (results must work without the data package)
        pass
    # official dataset-config spellings (configs/datasets/<name>.yaml) -> registry name
    official = {"imagenet": "ImageNet", "caltech101": "Caltech101", "oxford_pets": "OxfordPets",
                "stanford_cars": "StanfordCars", "oxford_flowers": "OxfordFlowers", "food101": "Food101",
                "fgvc_aircraft": "FGVCAircraft", "sun397": "SUN397", "dtd": "DescribableTextures",
                "eurosat": "EuroSAT", "ucf101": "UCF101", "imagenetv2": "ImageNetV2",
                "imagenet_sketch": "ImageNetSketch", "imagenet_a": "ImageNetA", "imagenet_r": "ImageNetR"}
    return names, official


def _read(path) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return d if isinstance(d, dict) else None
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
        subdirs[:] = sorted(s for s in subdirs if s not in _SKIP_DIRS and not s.startswith("."))
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


def identity_from_path(root: str, run: str) -> dict:
    """Best-effort identity of a run without ``run.json`` (see the module docstring)."""
    rel = os.path.relpath(run, root)
    parts = [] if rel == "." else rel.split(os.sep)
    full = os.path.abspath(run).split(os.sep)
    known, official = _known_tasks()
    seed, shots, task = None, -1, None
    for p in full:
        m = _SEED.match(p)
        if m:
            seed = int(m.group(1))
        for rx in _SHOTS:
            m = rx.match(p)
            if m:
                shots = int(m.group(1))
    for p in reversed(full):  # deepest part naming a known dataset
        if p in known or p in official:
            task = official.get(p, p)
            break
    if task is None:
        cands = [p for p in parts if not _NOT_TASK.match(p)]
        base = os.path.basename(run)
        task = cands[-1] if cands else (base if not _SEED.match(base) else "?")
    lower = [p.lower() for p in full]
    subsample = "all"
    if "train_base" in lower or "test_base" in lower:
        subsample = "base"
    if "test_new" in lower:
        subsample = "new"
    if subsample != "all" or "base2new" in lower:
        protocol = "base2new"
    elif "xd" in lower or "evaluation" in lower:
        protocol = "dg" if task in DG_TARGETS else "cross_dataset"
    else:
        protocol = "fewshot" if shots > 0 else ""
    keep = [p for p in parts if not _SEED.match(p) and p != task and official.get(p) != task
            and p not in ("train_base", "test_base", "test_new", "train", "eval")
            and not any(rx.match(p) for rx in _SHOTS)]  # shots are split off as a setting when they vary
    label = "/".join(keep) or os.path.basename(os.path.abspath(root))
    return {"tasks": [task], "seed": seed, "shots": shots, "protocol": protocol, "subsample_classes": subsample,
            "label": label, "identity": "path"}


def _selection(meta, best, last):
    sel = meta.get("model_selection")
    if sel:
        return sel
    which = (best or {}).get("which")
    if which in ("best", "last"):
        return "best_val" if which == "best" else "last_step"
    return "unknown"


def _targets(meta, tasks):
    if meta.get("targets"):
        return [t for t in meta["targets"]]
    g = str(meta.get("group") or "")
    m = re.match(r"^(.+)\+top\d+$", g)  # `python -m mvlpt.multitask group --matrix ... --topk K` names
    if m and m.group(1) in tasks:
        return [m.group(1)]
    if g and g in tasks:
        return [g]
    return tasks


def collect(root: str, include_transfer: bool = False) -> List[Dict]:
    """All records under ``root`` (see the module docstring)."""
    records = []
    for run in find_runs(root):
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
        meta = read_run_info(run)
        if meta is None:
            meta = identity_from_path(root, run)
        else:  # keys the recipe runner's run.json may lack: from the folder names
            meta.setdefault("identity", "run.json")
            guess = identity_from_path(root, run)
            for k in ("shots", "seed"):
                if meta.get(k) in (None, ""):
                    meta[k] = guess[k]
        label = meta.get("label") or meta.get("method") or identity_from_path(root, run)["label"]
        if not include_transfer and (str(label).startswith("transfer-") or meta.get("protocol") == "transfer"):
            continue
        known = list(meta.get("tasks") or []) if meta.get("identity") != "path" else []
        task_keys = sorted(k[5:] for k in best if k.startswith("task/")
                           and (k[5:] in known if known else k[5:] not in ("mean", "score", "average")))
        if task_keys and meta.get("identity") == "path":  # the folder-name task guess was wrong: keep the path
            rel = os.path.relpath(run, root)
            label = "/".join(p for p in rel.split(os.sep) if not _SEED.match(p) and p != ".") or "."
        tasks = task_keys or list(meta.get("tasks") or []) or ["?"]
        if not task_keys and len(tasks) > 1:
            tasks = [",".join(tasks)]
        elif task_keys:
            tasks = [t for t in _targets(meta, task_keys) if t in task_keys]
        protocol = meta.get("protocol") or ""
        is_source = protocol == "xd_source" or (protocol in ("cross_dataset", "dg") and not meta.get("eval_only"))
        for t in tasks:
            key = t if task_keys else None
            records.append({
                "label": str(label), "task": t, "seed": meta.get("seed"),
                "best": score_of(best, key), "last": score_of(last, key),
                "selection": _selection(meta, best, last), "protocol": protocol,
                "method": meta.get("method", ""), "shots": meta.get("shots", -1),
                "subsample": meta.get("subsample_classes", "all"), "backbone": meta.get("backbone", ""),
                "config": os.path.splitext(os.path.basename(meta.get("config_file") or ""))[0],
                "group": meta.get("group", ""), "source": is_source, "path": run,
                "identity": meta.get("identity", "run.json"),
                "explicit_label": bool(meta.get("label")) and meta.get("identity") != "path"})
    return _split_groups(records)


def _split_groups(records):
    """A task that is a target of several groups under one label: one column per group."""
    groups = defaultdict(set)
    for r in records:
        if r["group"]:
            groups[(r["label"], r["task"], r["seed"])].add(r["group"])
    clash = {k[0] for k, g in groups.items() if len(g) > 1}
    for r in records:
        if r["group"] and r["label"] in clash:
            r["label"] = f"{r['label']} [{r['group']}]"
    return records

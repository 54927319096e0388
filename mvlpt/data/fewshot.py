"""Few-shot sampling, its portable cache, and the base/new class split.

CoOp protocol (:func:`generate_fewshot`): items are grouped by label in order of first appearance
and each group gets ``rng.sample(group, K)`` (all items when a class has fewer than K); val gets
``min(K, 4)`` per class, drawn right after train from the same ``random.Random(seed)`` stream.

ELEVATER protocol (:func:`elevater_sample_kshot`, :func:`elevater_train_val_split`): the
vision-datasets 0.2.x rule (shuffle with ``random.Random(seed)``, walk, keep the first K per class)
followed by the class-balanced 80/20 split of the K-shot set (first ``ceil(0.2 n_c)`` per class to val).

Caches are JSON files keyed by (dataset, K, seed) and hold paths **relative** to the dataset's
image folder, so moving the data root keeps them valid.
"""
from __future__ import annotations

import hashlib
import math
import os
import random
from collections import OrderedDict, defaultdict
from typing import List, Optional, Sequence

from .datum import Datum
from .io import ConfigError
from .io import read_json, write_json_atomic

__all__ = ["generate_fewshot", "split_by_label", "subsample_classes", "FewShotCache",
           "elevater_sample_kshot", "elevater_train_val_split", "CACHE_VERSION"]

CACHE_VERSION = 1


def split_by_label(items: Sequence[Datum]):
    """``OrderedDict label -> [Datum]`` in order of first appearance."""
    out = OrderedDict()
    for d in items:
        out.setdefault(d.label, []).append(d)
    return out


def generate_fewshot(items: Sequence[Datum], num_shots: int, rng: random.Random, repeat: bool = False) -> List[Datum]:
    """K items per class (Dassl ``generate_fewshot_dataset`` semantics, with an explicit RNG)."""
    if num_shots < 1:
        return list(items)
    out = []
    for _, group in split_by_label(items).items():
        if len(group) >= num_shots:
            out.extend(rng.sample(group, num_shots))
        elif repeat:
            out.extend(rng.choices(group, k=num_shots))
        else:
            out.extend(group)
    return out


def subsample_classes(*splits, subsample: str = "all", return_selected: bool = False):
    """CoCoOp base/new split: base = first ``ceil(n/2)`` sorted labels, new = the rest (relabelled from 0).

    Returns the filtered splits (``None`` stays ``None``) in the same order.
    """
    subsample = str(subsample).lower()
    if subsample not in ("all", "base", "new"):
        raise ConfigError(f"DATASET.SUBSAMPLE_CLASSES must be all, base or new, got {subsample!r}")
    if subsample == "all":
        return (list(splits), None) if return_selected else list(splits)
    labels = sorted({d.label for s in splits if s for d in s if d.label >= 0})
    m = math.ceil(len(labels) / 2)
    selected = labels[:m] if subsample == "base" else labels[m:]
    relabel = {y: i for i, y in enumerate(selected)}
    out = []
    for s in splits:
        if s is None:
            out.append(None)
            continue
        out.append([d.replace(label=relabel[d.label]) for d in s if d.label in relabel])
    return (out, selected) if return_selected else out


class FewShotCache:
    """A small JSON file per (dataset, K, seed) with paths relative to ``image_dir``.

    Args:
        cache_dir: folder holding the files (e.g. ``<dataset>/split_fewshot``).
        image_dir: the folder stored paths are relative to.
        name: dataset name (part of the key and stored in the file).
        num_shots, seed: the rest of the key.
        fingerprint: optional string describing the source split; a cache made from a different
            split is ignored (and rewritten).
    """

    def __init__(self, cache_dir, image_dir, name, num_shots, seed, fingerprint=""):
        self.cache_dir = cache_dir
        self.image_dir = image_dir
        self.name = name
        self.num_shots = int(num_shots)
        self.seed = int(seed)
        self.fingerprint = fingerprint

    @property
    def path(self):
        return os.path.join(self.cache_dir, f"shot_{self.num_shots}-seed_{self.seed}.json")

    def _rel(self, p):
        return os.path.relpath(p, self.image_dir).replace(os.sep, "/")

    def _abs(self, r):
        return os.path.join(self.image_dir, r)

    def _encode(self, items):
        if items is None:
            return None
        rows = []
        for d in items:
            row = [self._rel(d.impath), d.label, d.classname]
            if d.domain or d.labels is not None:
                row += [d.domain, list(d.labels) if d.labels is not None else None]
            rows.append(row)
        return rows

    def _decode(self, rows):
        if rows is None:
            return None
        out = []
        for r in rows:
            labels = r[4] if len(r) > 4 else None
            dom = r[3] if len(r) > 3 else 0
            out.append(Datum(self._abs(r[0]), r[1], r[2], domain=dom, labels=labels))
        return out

    def load(self):
        """Return ``dict(split -> [Datum])`` or ``None`` when absent/stale/unreadable."""
        p = self.path
        if not os.path.isfile(p):
            return None
        try:
            obj = read_json(p)
        except Exception:  # noqa: BLE001 - a corrupt cache is regenerated
            return None
        if obj.get("version") != CACHE_VERSION or obj.get("dataset") != self.name \
                or obj.get("num_shots") != self.num_shots or obj.get("seed") != self.seed \
                or obj.get("fingerprint", "") != self.fingerprint:
            return None
        return {k: self._decode(v) for k, v in obj["splits"].items()}

    def save(self, splits: dict) -> Optional[str]:
        """Write the cache; returns the path, or ``None`` when the folder is not writable."""
        obj = {"version": CACHE_VERSION, "dataset": self.name, "num_shots": self.num_shots, "seed": self.seed,
               "fingerprint": self.fingerprint, "relative_to": "image_dir",
               "splits": {k: self._encode(v) for k, v in splits.items()}}
        try:
            write_json_atomic(obj, self.path)
            return self.path
        except OSError:
            return None


def default_cache_dir(dataset_dir, name, override=""):
    """``override/<name>`` when given, ``<dataset_dir>/split_fewshot`` when writable, else ``~/.cache``."""
    if override:
        return os.path.join(os.path.expanduser(override), name)
    d = os.path.join(dataset_dir, "split_fewshot")
    probe = d if os.path.isdir(d) else dataset_dir
    if os.path.isdir(probe) and os.access(probe, os.W_OK):
        return d
    base = os.environ.get("MVLPT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "mvlpt"))
    tag = hashlib.sha1(os.path.abspath(dataset_dir).encode()).hexdigest()[:8]
    return os.path.join(base, "split_fewshot", f"{name}-{tag}")


def fingerprint_of(items: Sequence[Datum], image_dir: str) -> str:
    """Cheap identity of a split: size + hash of its relative paths and labels."""
    h = hashlib.sha1()
    for d in items:
        h.update(os.path.relpath(d.impath, image_dir).replace(os.sep, "/").encode())
        h.update(str(d.label).encode())
    return f"{len(items)}:{h.hexdigest()[:16]}"


# ------------------------------------------------------------------------------------------------
# ELEVATER (vision-datasets 0.2.x semantics)
# ------------------------------------------------------------------------------------------------
def _labels_of(d: Datum):
    if d.labels is not None:
        return list(d.labels)
    return [d.label] if d.label >= 0 else []


def elevater_sample_kshot(items: Sequence[Datum], k: int, seed: int, num_classes: int, multilabel=False) -> List[Datum]:
    """``sample_few_shot_subset(K, seed)``: shuffle, walk, keep the first K per class."""
    if k < 1:
        return list(items)
    order = list(items)
    random.Random(seed).shuffle(order)
    counts = [0] * num_classes
    out = []
    if not multilabel:
        full = 0
        for d in order:
            c = d.label
            if counts[c] < k:
                counts[c] += 1
                out.append(d)
                if counts[c] == k:
                    full += 1
                    if full == num_classes:
                        break
        return out
    n_neg = 0
    for d in order:
        labs = _labels_of(d)
        if not labs:
            if n_neg < k:
                out.append(d)
                n_neg += 1
            continue
        cur = [counts[c] for c in labs]
        if all(x >= k for x in cur):
            continue
        if min(cur) <= k / 2 or max(cur) <= 1.5 * k:
            out.append(d)
            for c in labs:
                counts[c] += 1
        if min(counts) >= k and n_neg >= k:
            break
    return out


def elevater_train_val_split(items: Sequence[Datum], num_classes: int, val_split=0.2, multilabel=False):
    """Class-balanced split of the K-shot set: per class the first ``ceil(val_split*n_c)`` go to val."""
    items = list(items)
    if not multilabel:
        per = defaultdict(int)
        for d in items:
            per[d.label] += 1
        need = {c: math.ceil(val_split * n) for c, n in per.items()}
        taken = defaultdict(int)
        train, val = [], []
        for d in items:
            if taken[d.label] < need[d.label]:
                taken[d.label] += 1
                val.append(d)
            else:
                train.append(d)
        return train, val
    pos = [0] * num_classes
    for d in items:
        for c in _labels_of(d):
            pos[c] += 1
    need = [math.ceil(val_split * p) for p in pos]
    remaining = list(range(len(items)))
    val_idx = set()
    while True:
        c = next((i for i, n in enumerate(need) if n > 0), None)
        if c is None:
            break
        j = next((i for i in remaining if c in _labels_of(items[i])), None)
        if j is None:
            need[c] = 0
            continue
        remaining.remove(j)
        val_idx.add(j)
        for cc in _labels_of(items[j]):
            need[cc] -= 1
    train = [d for i, d in enumerate(items) if i not in val_idx]
    val = [d for i, d in enumerate(items) if i in val_idx]
    return train, val

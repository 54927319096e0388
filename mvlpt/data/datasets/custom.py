"""Custom datasets: a folder tree (``Folder``) or CSV files (``CSV``).

``DATASET.NAME "Folder"``, ``DATASET.CUSTOM.ROOT /data/mine``:
    * ``root/{train,val,test}/<class>/*.jpg`` -> those splits (val optional), or
    * ``root/<class>/*.jpg`` -> split by ``DATASET.CUSTOM.SPLIT_RATIO`` (seeded, per class).

``DATASET.NAME "CSV"``: ``DATASET.CUSTOM.CSV`` (one file, split by ratio) or
``CSV_TRAIN``/``CSV_VAL``/``CSV_TEST``. Rows are ``path,label`` (header optional); ``label`` is
an integer id or a class name. Paths are relative to ``CUSTOM.IMAGE_ROOT`` (default: the CSV's
folder). ``CUSTOM.CLASSNAMES``: optional file, one class name per line, in label order.
Few-shot (``NUM_SHOTS``) and base/new (``SUBSAMPLE_CLASSES``) work as for the CoOp datasets.
"""
from __future__ import annotations

import csv
import os
import random

from mvlpt.registry import DATASET_REGISTRY

from ..datum import Datum
from ..io import ConfigError, DatasetError, DatasetLayoutError, listdir_nohidden
from .base import FewShotDataset

__all__ = ["Folder", "CSV", "ratio_split", "IMAGE_EXTENSIONS", "check_unique_classnames"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def ratio_split(items, ratios, seed):
    """Per-class seeded split into len(ratios) parts (each class keeps >= 1 train item)."""
    ratios = [float(r) for r in ratios]
    if len(ratios) != 3 or min(ratios) < 0 or ratios[0] <= 0:
        raise ConfigError(f"DATASET.CUSTOM.SPLIT_RATIO must be 3 non-negative numbers (train, val, test) with "
                          f"train > 0, got {tuple(ratios)}")
    tot = sum(ratios)
    ratios = [r / tot for r in ratios]
    rng = random.Random(seed)
    by = {}
    for d in items:
        by.setdefault(d.label, []).append(d)
    parts = [[] for _ in ratios]
    for lab in sorted(by):
        group = sorted(by[lab], key=lambda d: d.impath)
        rng.shuffle(group)
        n = len(group)
        counts = [int(round(r * n)) for r in ratios]
        counts[0] = max(1, n - sum(counts[1:]))
        start = 0
        for i, c in enumerate(counts):
            parts[i].extend(group[start:start + c])
            start += c
    return parts


def _read_classnames_file(path):
    if not path:
        return None
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"class-name file not found: {path}; fix DATASET.CUSTOM.CLASSNAMES")
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


def _prompt_key(name):
    # CLIP's tokenizer lower-cases and the trainers turn "_" into spaces: these names give one prompt
    return " ".join(str(name).replace("_", " ").lower().split())


def check_unique_classnames(names, source):
    """Raise :class:`DatasetError` when two classes would get the same prompt text.

    Names are compared as the text encoder sees them: case-folded, ``_`` read as a space, runs of
    whitespace collapsed (``Cat`` / ``cat`` / ``apple_pie`` / ``apple pie`` collide).
    """
    seen = {}
    for i, n in enumerate(names):
        k = _prompt_key(n)
        if k in seen:
            j = seen[k]
            raise DatasetError(f"duplicate class names in {source}: {names[j]!r} (label {j}) and {n!r} (label {i}) "
                               f"give the same prompt text; rename or merge one of them")
        seen[k] = i


class _Custom(FewShotDataset):
    def _cn(self):
        return self.cfg.DATASET.CUSTOM

    @classmethod
    def registry_name(cls):
        return cls.__name__

    def _finish(self, train, val, test, classnames):
        if test is None:
            c = self._cn()
            train, val, test = ratio_split(train, c.SPLIT_RATIO, int(c.SPLIT_SEED))
            if not val:
                val = None
        self.task_metric = self._cn().METRIC
        return dict(train=train, val=val, test=test, classnames=classnames)


@DATASET_REGISTRY.register()
class Folder(_Custom):
    """Image-folder dataset (see module docstring)."""

    def __init__(self, cfg):
        c = cfg.DATASET.CUSTOM
        root = c.ROOT or cfg.DATASET.ROOT
        if not root:
            raise DatasetLayoutError("Folder dataset: set DATASET.CUSTOM.ROOT (or --root) to a folder of "
                                     "root/<class>/*.jpg")
        cfg = cfg.clone()
        cfg.defrost()
        cfg.DATASET.ROOT = root
        self.NAME = c.NAME or "Folder"
        super().__init__(cfg)

    def registry_name(self):  # noqa: D102 - instance-level name (CUSTOM.NAME)
        return getattr(self, "NAME", "Folder")

    def check_layout(self):
        if not os.path.isdir(self.root):
            raise DatasetLayoutError(f"Folder dataset root not found: {self.root}; check DATASET.CUSTOM.ROOT / --root")

    def read_splits(self, cfg):
        explicit = _read_classnames_file(self._cn().CLASSNAMES)
        has_splits = os.path.isdir(os.path.join(self.root, "train")) and os.path.isdir(os.path.join(self.root, "test"))
        if has_splits:
            classes = sorted(d for d in listdir_nohidden(os.path.join(self.root, "train"))
                             if os.path.isdir(os.path.join(self.root, "train", d)))
        else:  # (the few-shot cache folder is not a class)
            classes = sorted(d for d in listdir_nohidden(self.root) if os.path.isdir(os.path.join(self.root, d))
                             and d != "split_fewshot")
        if not classes:
            raise DatasetLayoutError(f"Folder dataset: no class folders in {self.root}; expected "
                                     f"root/<class>/*.jpg or root/{{train,val,test}}/<class>/*.jpg")
        names = explicit or classes
        if len(names) != len(classes):
            raise DatasetError(f"{self._cn().CLASSNAMES} lists {len(names)} names for {len(classes)} class folders; "
                               f"give one name per folder, in sorted folder order")
        check_unique_classnames(names, self._cn().CLASSNAMES or f"the class folders of {self.root}")
        lab = {c: i for i, c in enumerate(classes)}

        def scan(base):
            out = []
            for c in classes:
                d = os.path.join(base, c)
                if not os.path.isdir(d):
                    continue
                n0 = len(out)
                for f in sorted(listdir_nohidden(d)):
                    if f.lower().endswith(IMAGE_EXTENSIONS):
                        out.append(Datum(os.path.join(d, f), lab[c], names[lab[c]]))
                if len(out) == n0:
                    raise DatasetError(f"class folder {d} has no images ({', '.join(IMAGE_EXTENSIONS)}); add images "
                                       f"or remove the folder")
            return out

        if has_splits:
            val_dir = os.path.join(self.root, "val")
            val = scan(val_dir) if os.path.isdir(val_dir) else None
            return self._finish(scan(os.path.join(self.root, "train")), val,
                                scan(os.path.join(self.root, "test")), names)
        return self._finish(scan(self.root), None, None, names)


@DATASET_REGISTRY.register()
class CSV(_Custom):
    """CSV dataset (``path,label`` rows; see module docstring)."""

    def __init__(self, cfg):
        c = cfg.DATASET.CUSTOM
        first = c.CSV or c.CSV_TRAIN
        if not first:
            raise DatasetLayoutError("CSV dataset: set DATASET.CUSTOM.CSV (or CSV_TRAIN/CSV_VAL/CSV_TEST)")
        root = c.IMAGE_ROOT or os.path.dirname(os.path.abspath(os.path.expanduser(first)))
        cfg = cfg.clone()
        cfg.defrost()
        cfg.DATASET.ROOT = root
        self.NAME = c.NAME or "CSV"
        super().__init__(cfg)

    def registry_name(self):  # noqa: D102
        return getattr(self, "NAME", "CSV")

    def check_layout(self):
        c = self._cn()
        for p in (c.CSV, c.CSV_TRAIN, c.CSV_VAL, c.CSV_TEST):
            if p and not os.path.isfile(os.path.expanduser(p)):
                raise DatasetLayoutError(f"CSV file not found: {p}; check DATASET.CUSTOM.CSV*")

    def read_splits(self, cfg):
        c = self._cn()
        explicit = _read_classnames_file(c.CLASSNAMES)
        files = [c.CSV] if c.CSV else [c.CSV_TRAIN, c.CSV_VAL, c.CSV_TEST]
        raw = [self._read(os.path.expanduser(p)) if p else None for p in files]
        # label space: integer ids as given, or class names (sorted) mapped to ids
        all_rows = [r for rows in raw if rows for r in rows]
        if not all_rows:
            raise DatasetError(f"no rows in {', '.join(p for p in files if p)}; expected 'path,label' lines")
        where = c.CLASSNAMES or "the CSV labels"
        numeric = all(str(r[1]).lstrip("-").isdigit() for r in all_rows)
        if numeric:
            n = max(int(r[1]) for r in all_rows) + 1
            names = explicit or [str(i) for i in range(n)]
            bad = next((r for r in all_rows if not 0 <= int(r[1]) < len(names)), None)
            if bad is not None:
                raise DatasetError(f"{bad[2]}: label {bad[1]} is outside the class list (0..{len(names) - 1} from "
                                   f"{where}); fix the row or the class-name file")
            to_lab = lambda s: int(s)  # noqa: E731
        else:
            names = explicit or sorted({r[1] for r in all_rows})
            idx = {nm: i for i, nm in enumerate(names)}
            bad = next((r for r in all_rows if r[1] not in idx), None)
            if bad is not None:
                raise DatasetError(f"{bad[2]}: label {bad[1]!r} is not in the class list ({where}); fix the row or "
                                   f"add the class to DATASET.CUSTOM.CLASSNAMES")
            to_lab = idx.__getitem__
        check_unique_classnames(names, where)

        def conv(rows):
            if rows is None:
                return None
            return [Datum(os.path.join(self.root, r[0]), to_lab(r[1]), names[to_lab(r[1])]) for r in rows]

        if c.CSV:
            return self._finish(conv(raw[0]), None, None, names)
        return self._finish(conv(raw[0]), conv(raw[1]), conv(raw[2]) or [], names)

    @staticmethod
    def _read(path):
        rows = []
        with open(path, newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.reader(f)):
                if not row or not "".join(row).strip():
                    continue
                if i == 0 and [x.strip().lower() for x in row[:2]] in (["path", "label"], ["image", "label"],
                                                                      ["filepath", "label"], ["file", "label"]):
                    continue
                if len(row) < 2 or not row[0].strip() or not row[1].strip():
                    raise DatasetError(f"{path}:{i + 1}: expected 'path,label', got {','.join(row)!r}")
                rows.append((row[0].strip(), row[1].strip(), f"{path}:{i + 1}"))
        return rows

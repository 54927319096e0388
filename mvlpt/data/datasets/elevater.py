"""ELEVATER image-classification tasks, read from the layout the vision-datasets download produces.

Layout (no extraction): ``$ROOT/<root_folder>/{index files, labelmap, *.zip}``, e.g.
``$ROOT/classification/cifar_10_20211007/{train.txt,test.txt,labels.txt,train.zip,val.zip}``.
Index files are iris (``<path> <id[,id...]>``, split at the last space) or COCO JSON; image paths
of the form ``train.zip@member`` are read straight from the zip. A ``vision_datasets.json`` hub
file in ``DATASET.ROOT`` (optional) overrides the built-in table below.

Protocol (MVLPT / ELEVATER): K-shot sampling of the train manifest with a seed
(``DATASET.NUM_SHOTS``, else ``NUM_SAMPLES_PER_CLASS``; seed ``FEWSHOT_SEED``, else
``RANDOM_SEED_SAMPLING`` when >= 0, else the run seed), then the class-balanced 80/20 train/val
split of the K-shot set; test = the full hub test split. Images are resized to 224 with no augmentation.

All shots (``NUM_SHOTS`` and ``NUM_SAMPLES_PER_CLASS`` both -1): by default the same 80/20 rule as
MVLPT, on the whole hub train split shuffled with the seed (``DATASET.ELEVATER_FULL_VAL "train"``);
``"hub"`` trains on the whole hub train split and validates on the hub val split (when the task has one).
"""
from __future__ import annotations

import logging
import os
import random

from mvlpt.registry import DATASET_REGISTRY

from ..classnames import ELEVATER_CLASSNAMES
from ..datum import DatasetBase, Datum
from ..fewshot import (FewShotCache, default_cache_dir, elevater_sample_kshot, elevater_train_val_split,
                       fingerprint_of, subsample_classes)
from ..io import ConfigError, DatasetError, DatasetLayoutError, read_json
from .base import fewshot_seed, num_shots, resolve_root

__all__ = ["ELEVATER_TASKS", "ELEVATER_TASK_NAMES", "ELEVATER_NON_COOP_TASKS", "ELEVATER_TO_COOP", "ElevaterDataset",
           "parse_iris_index", "parse_coco_index"]

log = logging.getLogger(__name__)


def _t(root, metric, train, test, val=None, labelmap="labels.txt", fmt="iris", multilabel=False):
    return dict(root_folder=root, metric=metric, train=train, val=val, test=test,
                labelmap=labelmap if fmt == "iris" else None, format=fmt, multilabel=multilabel)


#: task -> hub facts (root_folder, metric, (index, zip) per usage, labelmap, format, multilabel)
ELEVATER_TASKS = {
    "hateful-memes": _t("classification/hateful_memes_20211014", "accuracy", ("train_meta.json", "img.zip"),
                        ("test_meta.json", "img.zip"), fmt="coco"),
    "cifar-10": _t("classification/cifar_10_20211007", "accuracy", ("train.txt", "train.zip"), ("test.txt", "val.zip")),
    "mnist": _t("classification/mnist_20211008", "accuracy", ("train.txt", "train.zip"), ("test.txt", "val.zip")),
    "oxford-flower-102": _t("classification/oxford_flower_102_20211007", "mean_per_class", ("train.txt", "train.zip"),
                            ("test.txt", "test.zip"), ("val.txt", "val.zip")),
    "oxford-iiit-pets": _t("classification/oxford_iiit_pets_20211007", "mean_per_class", ("train.txt", "train.zip"),
                           ("test.txt", "val.zip")),
    "resisc45_clip": _t("classification/resisc45_clip_20210924", "accuracy", ("train.json", "images.zip"),
                        ("test.json", "images.zip"), ("val.json", "images.zip"), fmt="coco"),
    "country211": _t("classification/country211_20210924", "accuracy", ("train.txt", "train.zip"),
                     ("test.txt", "test.zip"), ("valid.txt", "valid.zip")),
    "food-101": _t("classification/food_101_20211007", "accuracy", ("train.txt", "train.zip"), ("test.txt", "val.zip")),
    "stanford-cars": _t("classification/stanford_cars_20211007", "accuracy", ("train.txt", "train.zip"),
                        ("test.txt", "val.zip")),
    "caltech-101": _t("classification/caltech_101_20211007", "mean_per_class", ("train.txt", "train.zip"),
                      ("test.txt", "test.zip")),
    "dtd": _t("classification/dtd_20211007", "accuracy", ("train.txt", "train.zip"), ("test.txt", "test.zip"),
              ("val.txt", "val.zip")),
    "voc-2007-classification": _t("classification/voc2007_20211007", "11point_mAP", ("train_ic.txt", "train.zip"),
                                  ("test_ic.txt", "test.zip"), ("val_ic.txt", "train.zip"), multilabel=True),
    "cifar-100": _t("classification/cifar100_20200721", "accuracy", ("train_images.txt", "train_images.zip"),
                    ("test_images.txt", "test_images.zip")),
    "fgvc-aircraft-2013b-variants102": _t("classification/fgvc_aircraft_2013b_variants102_20211007", "mean_per_class",
                                          ("train.txt", "train.zip"), ("test.txt", "test.zip"), ("val.txt", "val.zip")),
    "patch-camelyon": _t("classification/patch_camelyon_20211007", "accuracy", ("train.txt", "train.zip"),
                         ("test.txt", "test.zip"), ("val.txt", "validation.zip")),
    "rendered-sst2": _t("classification/rendered_sst2_20210924", "accuracy", ("train.txt", "train.zip"),
                        ("test.txt", "test.zip"), ("valid.txt", "valid.zip")),
    "gtsrb": _t("classification/gtsrb_20210923", "accuracy", ("train.txt", "train.zip"), ("test.txt", "final_test.zip"),
                ("val.txt", "val.zip"), labelmap="labelmap.txt"),
    "eurosat_clip": _t("classification/eurosat_clip_20210930", "accuracy", ("train.txt", "2750.zip"),
                       ("test.txt", "2750.zip"), ("val.txt", "2750.zip")),
    "fer-2013": _t("classification/fer_2013_20211008", "accuracy", ("train.txt", "train.zip"), ("test.txt", "test.zip"),
                   ("val.txt", "val.zip")),
    "kitti-distance": _t("classification/kitti_distance_20210923", "accuracy", ("train_meta.json", "train_images.zip"),
                         ("test_meta.json", "test_images.zip"), ("validation_meta.json", "validation_images.zip"),
                         fmt="coco"),
}

#: MVLPT script order of the 20 tasks
ELEVATER_TASK_NAMES = ["hateful-memes", "cifar-10", "mnist", "oxford-flower-102", "oxford-iiit-pets", "resisc45_clip",
                       "country211", "food-101", "stanford-cars", "caltech-101", "dtd", "voc-2007-classification",
                       "cifar-100", "fgvc-aircraft-2013b-variants102", "patch-camelyon", "rendered-sst2", "gtsrb",
                       "eurosat_clip", "fer-2013", "kitti-distance"]

#: The 12 ELEVATER tasks with no CoOp counterpart (MVLPT's "average over 12 tasks").
ELEVATER_NON_COOP_TASKS = ("hateful-memes", "cifar-10", "mnist", "resisc45_clip", "country211",
                           "voc-2007-classification", "cifar-100", "patch-camelyon", "rendered-sst2", "gtsrb",
                           "fer-2013", "kitti-distance")

ELEVATER_TO_COOP = {"oxford-flower-102": "OxfordFlowers", "oxford-iiit-pets": "OxfordPets", "food-101": "Food101",
                    "stanford-cars": "StanfordCars", "caltech-101": "Caltech101", "dtd": "DescribableTextures",
                    "fgvc-aircraft-2013b-variants102": "FGVCAircraft", "eurosat_clip": "EuroSAT"}

FETCH = ("download the ELEVATER files into {root} (python datasets/download_elevater.py {name} --root {root}; "
         "see datasets/elevater.md)")


def parse_iris_index(path, base_dir):
    """Iris IC index -> list of (abs path, [labels]). Split at the last space; labels comma separated."""
    out = []
    with open(path, encoding="utf-8") as f:
        for ln in f:
            ln = ln.strip()
            if not ln:
                continue
            left, sep, right = ln.rpartition(" ")
            labels = []
            if sep and right and all(p.strip().lstrip("-").isdigit() for p in right.split(",") if p.strip()):
                labels = [int(p) for p in right.split(",") if p.strip()]
                rel = left
            elif sep and not right:
                rel = left
            else:
                rel = ln
            out.append((os.path.join(base_dir, rel), labels))
    return out


def parse_coco_index(path, base_dir):
    """COCO IC JSON -> (list of (abs path, [labels]) ordered by image id, class names by category id)."""
    obj = read_json(path)
    cats = sorted(obj.get("categories", []), key=lambda c: c["id"])
    cid2lab = {c["id"]: i for i, c in enumerate(cats)}
    labels = {}
    for a in obj.get("annotations", []):
        if a.get("category_id") not in cid2lab:
            raise DatasetError(f"{path}: annotation {a.get('id')} has category_id {a.get('category_id')!r}, which is "
                               f"not in 'categories'; fix or re-download the file")
        labels.setdefault(a["image_id"], []).append(cid2lab[a["category_id"]])
    out = []
    for im in sorted(obj["images"], key=lambda x: x["id"]):
        rel = f"{im['zip_file']}@{im['file_name']}" if im.get("zip_file") else im["file_name"]
        out.append((os.path.join(base_dir, rel), labels.get(im["id"], [])))
    return out, [c["name"] for c in cats]


def _read_labelmap(path):
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


class ElevaterDataset(DatasetBase):
    """One ELEVATER task (``cls(cfg)``); the class attribute ``TASK`` names it."""

    TASK = ""
    protocol = "elevater"

    def __init__(self, cfg):
        self.cfg = cfg
        task = self.TASK
        self.root = resolve_root(cfg)
        spec = dict(ELEVATER_TASKS[task])
        spec.update(self._hub_override(task))
        self.spec = spec
        self.dataset_dir = os.path.join(self.root, spec["root_folder"])
        self.image_dir = self.dataset_dir
        hint = FETCH.format(root=self.root, name=task)
        if not os.path.isdir(self.dataset_dir):
            raise DatasetLayoutError(f"ELEVATER task {task!r} folder not found: {self.dataset_dir}; {hint}")
        classnames = list(ELEVATER_CLASSNAMES[task])
        multilabel = spec["multilabel"]

        def load(usage, required=True):
            entry = spec.get(usage)
            if not entry:
                return None
            index = os.path.join(self.dataset_dir, entry[0])
            if not os.path.isfile(index) and not required:
                log.info("%s: no %s index (%s); no validation split", task, usage, index)
                return None
            if not os.path.isfile(index):
                raise DatasetLayoutError(f"ELEVATER {usage} index of {task!r} not found: {index}; {hint}")
            if spec["format"] == "coco":
                rows, _ = parse_coco_index(index, self.dataset_dir)
            else:
                rows = parse_iris_index(index, self.dataset_dir)
            items = []
            bad = next((labs for _, labs in rows if any(not 0 <= c < len(classnames) for c in labs)), None)
            if bad is not None:
                raise DatasetError(f"{index}: label {max(bad)} is outside the {len(classnames)} classes of {task}; the "
                                   f"index does not belong to this task or is damaged: download it again")
            for p, labs in rows:
                if not multilabel and not labs:
                    continue
                items.append(Datum(p, labs[0] if labs else -1, classnames[labs[0]] if labs else "",
                                   labels=labs if multilabel else None))
            return items

        lm = spec.get("labelmap")
        if lm and os.path.isfile(os.path.join(self.dataset_dir, lm)):
            n = len(_read_labelmap(os.path.join(self.dataset_dir, lm)))
            if n != len(classnames):
                log.warning("%s: labelmap has %d classes, class table %d", task, n, len(classnames))
        vs = float(cfg.DATASET.get("ELEVATER_VAL_SPLIT", 0.2))
        if not 0.0 <= vs < 1.0:
            raise ConfigError(f"DATASET.ELEVATER_VAL_SPLIT must be in [0, 1), got {vs}")
        full_val = str(cfg.DATASET.get("ELEVATER_FULL_VAL", "train")).lower()
        if full_val not in ("train", "hub"):
            raise ConfigError(f"DATASET.ELEVATER_FULL_VAL must be train or hub, got {full_val!r}")
        train_full, test = load("train"), load("test")
        k = num_shots(cfg.DATASET.NUM_SHOTS)
        if k < 1:
            k = num_shots(cfg.DATASET.get("NUM_SAMPLES_PER_CLASS", -1), "DATASET.NUM_SAMPLES_PER_CLASS")
        seed = fewshot_seed(cfg, elevater=True)
        if k >= 1:
            train, val = self._fewshot(train_full, k, seed, len(classnames), multilabel)
        elif full_val == "hub":
            train, val = train_full, load("val", required=False)
            log.info("%s: all shots, hub train split for training and hub val split for validation "
                     "(DATASET.ELEVATER_FULL_VAL hub)", task)
        else:
            order = list(train_full)
            random.Random(seed).shuffle(order)
            train, val = elevater_train_val_split(order, len(classnames),
                                                  float(cfg.DATASET.get("ELEVATER_VAL_SPLIT", 0.2)), multilabel)
            log.info("%s: all shots, validation = a class-balanced %.0f%% of the hub train split (seed %d), as MVLPT "
                     "does; DATASET.ELEVATER_FULL_VAL hub uses the hub val split", task,
                     100 * float(cfg.DATASET.get("ELEVATER_VAL_SPLIT", 0.2)), seed)
        (train, val, test), selected = subsample_classes(train, val, test, subsample=cfg.DATASET.SUBSAMPLE_CLASSES,
                                                         return_selected=True)
        if selected is not None:
            classnames = [classnames[i] for i in selected]
        super().__init__(train, val, test, classnames=classnames, name=task, metric=spec["metric"],
                         multilabel=multilabel)

    def _hub_override(self, task):
        hub = os.path.join(self.root, "vision_datasets.json")
        if not os.path.isfile(hub):
            return {}
        entries = [e for e in read_json(hub) if isinstance(e, dict) and e.get("name") == task]
        if not entries:
            return {}
        e = max(entries, key=lambda x: int(x.get("version", 0)))
        out = {"root_folder": e["root_folder"], "format": e.get("format", "iris"),
               "multilabel": e.get("type") == "classification_multilabel", "labelmap": e.get("labelmap")}
        for usage in ("train", "val", "test"):
            if e.get(usage):
                files = e[usage].get("files_for_local_usage") or [None]
                out[usage] = (e[usage]["index_path"], files[0])
        return out

    def _fewshot(self, train_full, k, seed, num_classes, multilabel):
        vs = float(self.cfg.DATASET.get("ELEVATER_VAL_SPLIT", 0.2))
        cache_dir = default_cache_dir(self.dataset_dir, self.TASK, self.cfg.DATASET.get("FEWSHOT_CACHE_DIR", ""))
        cache = FewShotCache(cache_dir, self.image_dir, self.TASK, k, seed,
                             fingerprint=fingerprint_of(train_full, self.image_dir) + f":val{vs}")
        hit = cache.load()
        self.fewshot_cache_hit = hit is not None
        if hit is not None:
            self.fewshot_cache_path = cache.path
            return hit["train"], hit["val"]
        kshot = elevater_sample_kshot(train_full, k, seed, num_classes, multilabel)
        if k == 1:
            train, val = kshot, list(kshot)
        else:
            train, val = elevater_train_val_split(kshot, num_classes, vs, multilabel)
        self.fewshot_cache_path = cache.save({"train": train, "val": val})
        return train, val


def _register(task):
    cls_name = "Elevater_" + "".join(ch if ch.isalnum() else "_" for ch in task)
    cls = type(cls_name, (ElevaterDataset,), {"TASK": task, "NAME": task,
                                              "__doc__": f"ELEVATER task ``{task}`` ({ELEVATER_TASKS[task]['metric']})."})
    cls.__module__ = __name__
    DATASET_REGISTRY.register(cls, name=task)
    return cls


for _task in ELEVATER_TASK_NAMES:
    _register(_task)

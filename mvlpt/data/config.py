"""Dassl-compatible data config keys (``INPUT.*``, ``DATASET.*``, ``DATALOADER.*``) plus ours.

:func:`add_data_config` only adds keys that are missing, so it can be called on a node that
already holds some of them (the engine's ``get_cfg_default`` calls it).

Official MVLPT keys and how they map here
-----------------------------------------
* ``DATASET.NAME``      one dataset, or several separated by commas (``"OxfordPets,DTD"``).
* ``DATASET.DATASET``   official MVLPT list key (comma separated). When non-empty it wins over
  ``DATASET.NAME`` (that is what MVLPT's ``--dataset`` sets).
* ``DATASET.MULTITASK`` official flag. Our merge is driven by the number of names; the flag is
  accepted and only checked for consistency (a warning when it is set with a single name).
* ``DATASET.MULTITASK_EVALKEY``  ``"average"`` or a task name: which value is the headline score.
* ``DATASET.MULTITASK_LABEL_PERTASK``  official name of the masked loss -> ``MULTITASK_LOSS "masked"``.
* ``DATASET.NUM_SAMPLES_PER_CLASS`` / ``DATASET.RANDOM_SEED_SAMPLING``  the ELEVATER shot count /
  seed; used for ELEVATER tasks when ``NUM_SHOTS``/``FEWSHOT_SEED`` are not set.
  ``RANDOM_SEED_SAMPLING -1`` (our default) follows the run seed, as the official ``--seed`` does.

Seeds: the few-shot draw uses ``DATASET.FEWSHOT_SEED`` when >= 0 (ELEVATER: else
``RANDOM_SEED_SAMPLING`` when >= 0), else the run seed (``SEED``; for ``SEED -1`` the seed the
trainer drew and logged). Samplers always use the run seed.
* ``DATASET.CENTER_CROP`` ELEVATER protocol: short-side resize + centre crop instead of squashing.
"""
from yacs.config import CfgNode as CN

__all__ = ["add_data_config", "CLIP_PIXEL_MEAN", "CLIP_PIXEL_STD"]

CLIP_PIXEL_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_PIXEL_STD = [0.26862954, 0.26130258, 0.27577711]


def _node(parent, key):
    if key not in parent:
        parent[key] = CN()
    return parent[key]


def _set(node, key, value):
    if key not in node:
        node[key] = value


def _defaults(node, mapping):
    for k, v in mapping.items():
        if isinstance(v, dict):
            _defaults(_node(node, k), v)
        else:
            _set(node, k, v)


DATA_DEFAULTS = {
    "INPUT": {
        "SIZE": (224, 224),
        "INTERPOLATION": "bicubic",
        "TRANSFORMS": ("random_resized_crop", "random_flip", "normalize"),
        "NO_TRANSFORM": False,
        "PIXEL_MEAN": list(CLIP_PIXEL_MEAN),
        "PIXEL_STD": list(CLIP_PIXEL_STD),
        "CROP_PADDING": 4,
        "RRCROP_SCALE": (0.08, 1.0),
        "CUTOUT_N": 1,
        "CUTOUT_LEN": 16,
        "GN_MEAN": 0.0,
        "GN_STD": 0.15,
        "RANDAUGMENT_N": 2,
        "RANDAUGMENT_M": 10,
        "COLORJITTER_B": 0.4,
        "COLORJITTER_C": 0.4,
        "COLORJITTER_S": 0.4,
        "COLORJITTER_H": 0.1,
        "RGS_P": 0.2,
        "GB_P": 0.5,
        "GB_K": 21,
        # ours: "auto" (ELEVATER tasks -> "elevater", else "coop"), "coop" or "elevater"
        "PROTOCOL": "auto",
    },
    "DATASET": {
        "ROOT": "",
        "SOURCE_DOMAINS": [],
        "TARGET_DOMAINS": [],
        "NAME": "",
        "NUM_LABELED": -1,
        "NUM_SHOTS": -1,
        "VAL_PERCENT": 0.1,
        "STL10_FOLD": -1,
        "CIFAR_C_TYPE": "",
        "CIFAR_C_LEVEL": 1,
        "ALL_AS_UNLABELED": False,
        "SUBSAMPLE_CLASSES": "all",
        # official MVLPT keys
        "COOP": True,
        "DATASET": "",
        "MULTITASK": False,
        "MULTITASK_EVALKEY": "average",
        "MULTITASK_LABEL_PERTASK": False,
        "NUM_SAMPLES_PER_CLASS": 20,
        "RANDOM_SEED_SAMPLING": -1,  # official default 1; -1 = the run seed (see the module docstring)
        "CENTER_CROP": False,
        "TRAIN_SET": "train",
        "VAL_SET": "",
        "TEST_SET": "val",
        # ours
        "FEWSHOT_SEED": -1,          # -1: the run seed (SEED, or the drawn seed for SEED -1)
        "FEWSHOT_CACHE_DIR": "",     # "": <dataset dir>/split_fewshot, else this folder
        "MULTITASK_LOSS": "union",   # "union" (official) | "masked"
        "MULTITASK_SORT_TASKS": False,  # True reproduces MVLPT's alphabetical ELEVATER task order
        "ELEVATER_VAL_SPLIT": 0.2,
        # ELEVATER with all shots (NUM_SHOTS and NUM_SAMPLES_PER_CLASS < 1): "train" = MVLPT's rule, val =
        # a class-balanced ELEVATER_VAL_SPLIT of the shuffled hub train split; "hub" = the hub val split
        "ELEVATER_FULL_VAL": "train",
        # truncated image files: False = stop naming the file; True = load them grey-filled with a
        # warning (what the ELEVATER toolkit does)
        "ALLOW_TRUNCATED_IMAGES": False,
        "CUSTOM": {
            "ROOT": "",             # Folder: root/<class>/*.jpg or root/{train,val,test}/<class>/*
            "CSV": "",              # CSV: one file (split by ratio) ...
            "CSV_TRAIN": "",        # ... or one file per split
            "CSV_VAL": "",
            "CSV_TEST": "",
            "IMAGE_ROOT": "",       # CSV paths are relative to this (default: the CSV's folder)
            "CLASSNAMES": "",       # optional file: one class name per line (label order)
            "SPLIT_RATIO": (0.7, 0.1, 0.2),
            "SPLIT_SEED": 0,
            "NAME": "",             # task name shown in logs/metrics (default Folder / CSV)
            "METRIC": "accuracy",
        },
    },
    "DATALOADER": {
        # DROP_LAST (ours): "auto" = drop the last partial batch when each rank holds >= one full batch
        "TRAIN_X": {"SAMPLER": "RandomSampler", "BATCH_SIZE": 32, "N_DOMAIN": 0, "N_INS": 16, "DROP_LAST": "auto"},
        "TRAIN_U": {"SAME_AS_X": True, "SAMPLER": "RandomSampler", "BATCH_SIZE": 32, "N_DOMAIN": 0, "N_INS": 16},
        "TEST": {"SAMPLER": "SequentialSampler", "BATCH_SIZE": 32, "DISTRIBUTED": False},
        "NUM_WORKERS": 4,
        "K_TRANSFORMS": 1,
        "RETURN_IMG0": False,
        # ours
        "PERSISTENT_WORKERS": True,
        "PIN_MEMORY": "auto",       # "auto" = when CUDA is available
        "PREFETCH_FACTOR": 2,
    },
}


def add_data_config(cfg):
    """Add the data keys to a yacs ``CfgNode`` (missing keys only) and return it.

    >>> from yacs.config import CfgNode as CN
    >>> cfg = add_data_config(CN())
    >>> cfg.DATASET.NUM_SHOTS, cfg.INPUT.SIZE
    (-1, (224, 224))
    """
    was_frozen = cfg.is_frozen()
    if was_frozen:
        cfg.defrost()
    _defaults(cfg, DATA_DEFAULTS)
    if "SEED" not in cfg:
        cfg.SEED = -1
    if was_frozen:
        cfg.freeze()
    return cfg


def get_data_cfg(**overrides):
    """A fresh node with just the data keys (handy in tests and notebooks).

    Keyword args use ``SECTION__KEY`` (``DATASET__NAME="DemoShapes"``).
    """
    cfg = add_data_config(CN())
    for k, v in overrides.items():
        node = cfg
        parts = k.split("__")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = v
    return cfg

"""mvlpt data subsystem: datasets (CoOp sources, ImageNet variants, ELEVATER, custom folder/CSV,
embedded demo), few-shot sampling with a portable cache, multitask merging, transforms, loaders
and metrics. Importing this package registers every dataset in ``DATASET_REGISTRY``.

>>> from mvlpt.data import DATASET_NAMES
>>> "OxfordPets" in DATASET_NAMES and "cifar-10" in DATASET_NAMES and "DemoShapes" in DATASET_NAMES
True
"""
from mvlpt.registry import DATASET_REGISTRY

from .config import add_data_config, get_data_cfg
from .datum import Datum, DatasetBase, TaskInfo, METRICS
from .io import DatasetError, DatasetLayoutError, ImageReadError, read_image
from . import datasets  # noqa: F401  (registers CoOp, ELEVATER, Folder, CSV)
from . import demo  # noqa: F401  (registers the demo tasks)
from .data_manager import DataManager, DatasetWrapper, build_dataset, build_single_dataset
from .multitask import merge_datasets, multitask_loss, multitask_loss_mode, resolve_task_names, task_class_mask
from .metrics import accuracy, evaluate_tasks, macro_f1, map_11point, mean_per_class_accuracy
from .samplers import ShardSampler, TaskBalancedSampler
from .transforms import build_transform
from .classnames import COOP_CLASSNAMES, ELEVATER_CLASSNAMES, PUBLISHED_NUM_CLASSES
from .datasets.elevater import ELEVATER_NON_COOP_TASKS, ELEVATER_TASK_NAMES, ELEVATER_TASKS
from .datasets.coop import COOP_DATASETS, IMAGENET_VARIANTS
from .demo import DEMO_TASKS, ensure_demo_data

DATASET_NAMES = DATASET_REGISTRY.registered_names()

__all__ = [
    "Datum", "DatasetBase", "TaskInfo", "METRICS", "build_dataset", "build_single_dataset", "DataManager",
    "DatasetWrapper", "add_data_config", "get_data_cfg", "merge_datasets", "multitask_loss", "resolve_task_names",
    "task_class_mask", "multitask_loss_mode", "accuracy", "mean_per_class_accuracy", "macro_f1", "map_11point", "evaluate_tasks",
    "TaskBalancedSampler", "ShardSampler", "build_transform", "read_image", "DatasetError", "DatasetLayoutError", "ImageReadError",
    "COOP_CLASSNAMES", "ELEVATER_CLASSNAMES", "PUBLISHED_NUM_CLASSES", "ELEVATER_TASKS", "ELEVATER_TASK_NAMES",
    "ELEVATER_NON_COOP_TASKS", "COOP_DATASETS", "IMAGENET_VARIANTS", "DEMO_TASKS", "ensure_demo_data",
    "DATASET_NAMES", "DATASET_REGISTRY",
]

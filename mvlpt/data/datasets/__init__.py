"""Dataset readers. Importing this package registers every dataset in ``DATASET_REGISTRY``."""
from .base import FewShotDataset, resolve_root, fewshot_seed  # noqa: F401
from . import coop, elevater, custom  # noqa: F401

"""Re-export of :mod:`mvlpt.registry` (the registries live at the bottom of the package)."""
from mvlpt.registry import DATASET_REGISTRY, EVALUATOR_REGISTRY, TRAINER_REGISTRY, Registry  # noqa: F401

__all__ = ["Registry", "TRAINER_REGISTRY", "DATASET_REGISTRY", "EVALUATOR_REGISTRY"]

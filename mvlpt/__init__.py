"""mvlpt: prompt tuning of frozen CLIP models and the MVLPT multitask recipe."""
__version__ = "0.1.0"

# Registries fill themselves on first lookup (trainers, datasets, evaluators are imported then),
# which keeps `import mvlpt` fast.
from mvlpt.registry import DATASET_REGISTRY, EVALUATOR_REGISTRY, TRAINER_REGISTRY  # noqa: E402,F401

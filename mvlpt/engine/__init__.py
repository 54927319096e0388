"""Training engine: a Dassl-style ``TrainerX`` with hooks, checkpoints, evaluators and registries.

Heavy modules are imported lazily so that ``import mvlpt`` stays fast.
"""
from mvlpt.errors import CheckpointError, ConfigError, MvlptError, NonFiniteLossError
from mvlpt.registry import DATASET_REGISTRY, EVALUATOR_REGISTRY, TRAINER_REGISTRY, Registry

_LAZY = {
    "TrainerX": "mvlpt.engine.trainer", "compute_accuracy": "mvlpt.engine.trainer",
    "HookBase": "mvlpt.engine.hooks",
    "build_optimizer": "mvlpt.engine.optim", "build_lr_scheduler": "mvlpt.engine.optim",
    "ConstantWarmupScheduler": "mvlpt.engine.optim", "LinearWarmupScheduler": "mvlpt.engine.optim",
    "build_evaluator": "mvlpt.engine.evaluator", "Classification": "mvlpt.engine.evaluator",
    "read_checkpoint": "mvlpt.engine.checkpoint", "resolve_checkpoint": "mvlpt.engine.checkpoint",
    "ClipProvider": "mvlpt.engine.features", "FeatureStore": "mvlpt.engine.features",
    "Checkpointer": "mvlpt.engine.checkpointer",
}


def build_trainer(cfg, **kwargs):
    """Instantiate ``cfg.TRAINER.NAME`` from :data:`TRAINER_REGISTRY` (Dassl's ``build_trainer``);
    ``kwargs`` go to the trainer (``clip_provider=``, ``feature_store=``). The registry imports
    :mod:`mvlpt.trainers` on the first lookup (the engine never imports the layer above it)."""
    if not cfg.TRAINER.NAME:
        raise ConfigError("no trainer given; pass --trainer (one of "
                          f"{', '.join(TRAINER_REGISTRY.registered_names())}) or set TRAINER.NAME")
    try:
        cls = TRAINER_REGISTRY.get(cfg.TRAINER.NAME)
    except KeyError as e:
        raise ConfigError(e.args[0]) from None
    return cls(cfg, **kwargs)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mvlpt.engine' has no attribute {name!r}")


__all__ = ["TRAINER_REGISTRY", "DATASET_REGISTRY", "EVALUATOR_REGISTRY", "Registry", "build_trainer",
           "MvlptError", "ConfigError", "CheckpointError", "NonFiniteLossError", *_LAZY]

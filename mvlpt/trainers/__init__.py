"""Trainers in :data:`mvlpt.registry.TRAINER_REGISTRY`: every registered method
(:data:`mvlpt.prompts.METHODS`, including methods registered later) under its own name and aliases, as
a plain :class:`~mvlpt.engine.TrainerX`; plus the official ``MVLPT`` trainer.

Importing this package fills the registry (``mvlpt.engine.build_trainer`` does it lazily).
"""
from mvlpt.registry import TRAINER_REGISTRY
from mvlpt.trainers.mvlpt import MVLPT


def _method_names():
    import mvlpt.prompts  # noqa: F401  (registers the built-in methods)
    from mvlpt.prompts.registry import METHODS

    return [n for s in METHODS.values() for n in (s.name, *s.aliases)]


def method_trainer(name):
    """A :class:`~mvlpt.engine.TrainerX` subclass named after the method (for ``TRAINER.NAME`` checks in
    checkpoints and logs); it adds nothing to ``TrainerX``."""
    from mvlpt.engine.trainer import TrainerX
    from mvlpt.prompts.registry import get_method

    spec = get_method(name)
    doc = (spec.learner.__doc__ or "").strip().splitlines()
    return type(name, (TrainerX,), {"learner_name": spec.name, "cfg_node": spec.cfg_node,
                                    "__doc__": f"{name}: {doc[0] if doc else spec.learner.__name__} "
                                               f"(``TRAINER.{spec.cfg_node}``)",
                                    "__module__": __name__})


TRAINER_REGISTRY.set_dynamic(_method_names, method_trainer)

__all__ = ["MVLPT", "method_trainer"]

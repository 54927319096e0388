"""The official MVLPT trainer (the one trainer that is not a registered method's own name)."""
from mvlpt.engine.trainer import TrainerX
from mvlpt.errors import ConfigError
from mvlpt.registry import TRAINER_REGISTRY


@TRAINER_REGISTRY.register()
class MVLPT(TrainerX):
    """MVLPT (Shen et al., WACV'24): picks the learner like the official trainer.

    ``TRAINER.MVLPT.COCOOP.N_CTX > 0`` -> CoCoOp; else ``COOP.N_CTX > 0`` and ``VPT.N_CTX > 0`` -> UPT;
    only ``COOP.N_CTX`` -> CoOp; only ``VPT.N_CTX`` -> VPT. Multitask data (several tasks in
    ``DataManager.tasks``) uses ``DATASET.MULTITASK_LOSS`` ("union" | "masked"). Any other registered
    method runs the MVLPT recipe under its own trainer name (``python -m mvlpt.multitask --method MaPLe``).
    """

    cfg_node = "MVLPT"

    def learner_spec(self):
        from mvlpt.prompts.official import OfficialCheckpointError, learner_from_official_config

        try:  # one mapping of the official MVLPT keys, shared with the official-checkpoint tools
            name, kwargs = learner_from_official_config("MVLPT", self.cfg)
        except OfficialCheckpointError as e:
            raise ConfigError(str(e)) from e
        self.learner_name = name
        return name, kwargs

"""Method trainers: each binds a prompt learner of :mod:`mvlpt.prompts` to its ``TRAINER.<NODE>``."""
from mvlpt.engine.errors import ConfigError
from mvlpt.engine.registry import TRAINER_REGISTRY
from mvlpt.engine.trainer import TrainerX


@TRAINER_REGISTRY.register()
class CoOp(TrainerX):
    """CoOp (Zhou et al., IJCV'22): learnable text context; ``TRAINER.COOP``."""

    learner_name = "CoOp"
    cfg_node = "COOP"


@TRAINER_REGISTRY.register()
class CoCoOp(TrainerX):
    """CoCoOp (Zhou et al., CVPR'22): image-conditioned text context; ``TRAINER.COCOOP``."""

    learner_name = "CoCoOp"
    cfg_node = "COCOOP"


@TRAINER_REGISTRY.register()
class VPT(TrainerX):
    """Visual prompt tuning on CLIP's image encoder; ``TRAINER.VPT``."""

    learner_name = "VPT"
    cfg_node = "VPT"


@TRAINER_REGISTRY.register()
class UPT(TrainerX):
    """Unified text + visual prompts (MVLPT's UPT); ``TRAINER.UPT``."""

    learner_name = "UPT"
    cfg_node = "UPT"


@TRAINER_REGISTRY.register()
class MaPLe(TrainerX):
    """MaPLe (Khattak et al., CVPR'23): coupled deep vision-language prompts; ``TRAINER.MAPLE``."""

    learner_name = "MaPLe"
    cfg_node = "MAPLE"


@TRAINER_REGISTRY.register()
class IVLP(TrainerX):
    """Independent vision-language prompts (MaPLe repo baseline); ``TRAINER.IVLP``."""

    learner_name = "IVLP"
    cfg_node = "IVLP"


@TRAINER_REGISTRY.register()
class ZeroshotCLIP(TrainerX):
    """Zero-shot CLIP with hand-written templates (nothing to train; use ``--eval-only``)."""

    learner_name = "ZeroshotCLIP"
    cfg_node = "ZSCLIP"

    def learner_spec(self):
        """``TRAINER.ZSCLIP.TEMPLATES`` if set; else the dataset's own template, as CoOp's zero-shot
        baseline does (e.g. "a photo of a {}, a type of pet." for OxfordPets)."""
        name, kwargs = super().learner_spec()
        if not kwargs.get("templates"):
            dataset = getattr(getattr(self, "dm", None), "dataset", None)
            template = getattr(dataset, "template", None) if len(self.tasks) <= 1 else None
            kwargs["templates"] = (template or "a photo of a {}.",)
        return name, kwargs


@TRAINER_REGISTRY.register()
class MVLPT(TrainerX):
    """MVLPT (Shen et al., WACV'24): picks the learner like the official trainer.

    ``TRAINER.MVLPT.COCOOP.N_CTX > 0`` -> CoCoOp; else ``COOP.N_CTX > 0`` and ``VPT.N_CTX > 0`` -> UPT;
    only ``COOP.N_CTX`` -> CoOp; only ``VPT.N_CTX`` -> VPT. Multitask data (several tasks in
    ``DataManager.tasks``) uses ``DATASET.MULTITASK_LOSS`` ("union" | "masked").
    """

    cfg_node = "MVLPT"

    def learner_spec(self):
        from mvlpt.prompts.official import OfficialCheckpointError, learner_from_official_config

        try:  # one mapping of the official MVLPT keys, shared with the official-checkpoint tools
            return learner_from_official_config("MVLPT", self.cfg)
        except OfficialCheckpointError as e:
            raise ConfigError(str(e)) from e

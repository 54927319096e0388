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


# MVLPT's PROJECT_METHOD -> our UPT coupling ("transformer" is the official per-token block).
MVLPT_COUPLING = {"transformer": "tokenwise", "tokenwise": "tokenwise", "attention": "attention",
                  "mlp": "mlp", "identity": "identity", "none": "identity", "": "identity"}


@TRAINER_REGISTRY.register()
class MVLPT(TrainerX):
    """MVLPT (Shen et al., WACV'24): picks the learner like the official trainer.

    ``TRAINER.MVLPT.COCOOP.N_CTX > 0`` -> CoCoOp; else ``COOP.N_CTX > 0`` and ``VPT.N_CTX > 0`` -> UPT;
    only ``COOP.N_CTX`` -> CoOp; only ``VPT.N_CTX`` -> VPT. Multitask data (several tasks in
    ``DataManager.tasks``) uses ``DATASET.MULTITASK_LOSS`` ("union" | "masked").
    """

    cfg_node = "MVLPT"

    def learner_spec(self):
        m = self.cfg.TRAINER.MVLPT
        n_text, n_vis, n_co = m.COOP.N_CTX, m.VPT.N_CTX, m.COCOOP.N_CTX
        if n_co > 0:
            return "CoCoOp", dict(n_ctx=n_co, ctx_init=m.COCOOP.CTX_INIT)
        if n_text > 0 and n_vis > 0:
            coupling = MVLPT_COUPLING.get(str(m.PROJECT_METHOD).lower())
            if coupling is None:
                raise ConfigError(f"unknown TRAINER.MVLPT.PROJECT_METHOD {m.PROJECT_METHOD!r}; use one of "
                                  f"{', '.join(k for k in MVLPT_COUPLING if k)}")
            return "UPT", dict(n_ctx_text=n_text, n_ctx_vision=n_vis, deep=m.VPT.DEEP, coupling=coupling,
                               proj_dim=m.PROJECT_DIM, position=m.COOP.CLASS_TOKEN_POSITION,
                               ctx_init=m.COOP.CTX_INIT)
        if n_text > 0:
            return "CoOp", dict(n_ctx=n_text, ctx_init=m.COOP.CTX_INIT, csc=m.COOP.CSC,
                                position=m.COOP.CLASS_TOKEN_POSITION)
        if n_vis > 0:
            return "VPT", dict(n_ctx=n_vis, deep=m.VPT.DEEP, dropout=m.VPT.DROPOUT,
                               proj_dim=max(0, m.VPT.PROJECT))
        raise ConfigError("TRAINER.MVLPT: set COOP.N_CTX and/or VPT.N_CTX (or COCOOP.N_CTX) > 0")

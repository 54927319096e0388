"""One trainer per method, registered in :data:`mvlpt.engine.TRAINER_REGISTRY` under the official names.

Importing this package fills the registry (``import mvlpt`` does it lazily through
``mvlpt.engine.build_trainer``).
"""
from mvlpt.trainers.methods import (IVLP, MVLPT, UPT, VPT, CoCoOp, CoOp, MaPLe,  # noqa: F401
                                    ZeroshotCLIP)

__all__ = ["CoOp", "CoCoOp", "VPT", "UPT", "MaPLe", "IVLP", "ZeroshotCLIP", "MVLPT"]

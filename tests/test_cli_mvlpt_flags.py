"""MVLPT's train.py flags map onto the same config keys as in the official script."""
from mvlpt.cli import build_parser, setup_cfg


def test_mvlpt_flags_map_to_config():
    args = build_parser().parse_args(
        ["--trainer", "MVLPT", "--dataset", "cifar-10,mnist", "--shots", "5", "--multi-task",
         "--multi-task-label_pertask", "--multi-task-evalkey", "mnist", "--dataset-coop", "--cut-contextlen",
         "--act-ckpt", "2", "--seed", "0", "OPTIM.MAX_EPOCH", "3"])
    cfg = setup_cfg(args)[0]  # (cfg, notes)
    assert cfg.DATASET.DATASET == "cifar-10,mnist"
    assert cfg.DATASET.NUM_SHOTS == 5 and cfg.DATASET.NUM_SAMPLES_PER_CLASS == 5
    assert cfg.DATASET.MULTITASK and cfg.DATASET.MULTITASK_LABEL_PERTASK and cfg.DATASET.COOP
    assert cfg.DATASET.MULTITASK_EVALKEY == "mnist"
    assert cfg.TRAINER.CUT_CONTEXTLEN and cfg.TRAINER.ACT_CKPT == 2
    assert cfg.SEED == 0 and cfg.OPTIM.MAX_EPOCH == 3
    from mvlpt.data.multitask import multitask_loss_mode

    assert multitask_loss_mode(cfg) == "masked"


def test_defaults_leave_config_alone():
    cfg = setup_cfg(build_parser().parse_args(["--trainer", "CoOp"]))[0]
    assert cfg.DATASET.DATASET == "" and not cfg.DATASET.MULTITASK and cfg.TRAINER.ACT_CKPT == 1

"""Tip-Adapter(-F) through the engine: the hyper-parameter search on the validation split
(``needs_val_features``), the searched alpha/beta in every checkpoint written after it (last, best-val,
resume, ``--eval-only --model-dir``), and ``OPTIM.SCHED_PER_ITER`` (the official per-iteration cosine).

Tiny and quick: the tiny CLIP (``mvlpt-tiny``, random weights), 3 classes x 8 images of 32 px split
50/25/25 (12 train, 6 val, 6 test), the shipped yamls with a small search grid."""
import math
import os

import pytest
import torch

from mvlpt.engine.hooks import HookBase, val_features
from mvlpt.launch import build_parser, launch, teardown_logging
from mvlpt.prompts.tip_adapter import search_hp
from test_engine_support import make_image_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_image_folder(str(tmp_path_factory.mktemp("tip") / "imgs"), per_class=8, size=32)


def _args(data, out, trainer="TipAdapterF", extra=(), flags=()):
    node = trainer.upper()
    return ["--root", data, "--output-dir", out, "--trainer", trainer, "--backbone", "mvlpt-tiny", "--seed", "0",
            "--config-file", os.path.join(REPO, "configs", "trainers", trainer, "caltech101.yaml"), *flags,
            "MODEL.BACKBONE.PRETRAINED", "none", "DATASET.NAME", "Folder",
            "DATASET.CUSTOM.SPLIT_RATIO", "(0.5, 0.25, 0.25)", "DATALOADER.NUM_WORKERS", "0",
            "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "DATALOADER.TEST.BATCH_SIZE", "8", "INPUT.SIZE", "(32, 32)",
            "OPTIM.MAX_EPOCH", "2", "TRAIN.PRINT_FREQ", "1", f"TRAINER.{node}.PREC", "fp32",
            f"TRAINER.{node}.AUGMENT_EPOCH", "1", f"TRAINER.{node}.SEARCH_STEP", "[20, 10]", *extra]


def _launch(argv):
    try:
        return launch(build_parser().parse_args(argv), quiet=True)[1]
    finally:
        teardown_logging()


def _hp(t):
    return float(t.learner.alpha), float(t.learner.beta)


def _ckpt(out, name):
    return torch.load(os.path.join(out, "cache", name), map_location="cpu", weights_only=True)


def test_training_free_search_on_val(data, tmp_path):
    out = str(tmp_path / "tip")
    t = _launch(_args(data, out, "TipAdapter", flags=["--eval-only"]))
    assert _hp(t) != (3.0, 1.0)                                      # the yaml's init values were replaced
    feats, labels = val_features(t)
    assert feats.shape == (6, t.learner.clip.embed_dim) and labels.tolist() == sorted(labels.tolist())
    alpha, beta, _ = search_hp(t.learner, feats, labels, (12, 5), (20, 10))  # the same search, by hand
    assert _hp(t) == pytest.approx((alpha, beta), abs=1e-12)
    assert "hyper-parameter search on 6 validation images" in open(os.path.join(out, "log.txt")).read()
    # without the search the init values stay, and no validation features are needed
    t = _launch(_args(data, str(tmp_path / "nosearch"), "TipAdapter", flags=["--eval-only"],
                      extra=["TRAINER.TIPADAPTER.SEARCH_HP", "False"]))
    assert _hp(t) == (3.0, 1.0) and not t.learner.needs_val_features


def test_augment_passes_are_augmented(data, tmp_path):
    """AUGMENT_EPOCH N with the yaml's random crops and flips: N different passes are averaged into the keys
    (each call of train_features() is a new augmented pass), not N copies of one encoding."""
    keys = []
    for n in ("1", "3"):
        t = _launch(_args(data, str(tmp_path / n), "TipAdapter", flags=["--eval-only"],
                          extra=["TRAINER.TIPADAPTER.SEARCH_HP", "False", "TRAINER.TIPADAPTER.AUGMENT_EPOCH", n]))
        assert not t.dm.train_transform_is_deterministic
        keys.append(t.learner.cache_keys.detach().clone())
    assert keys[0].shape == keys[1].shape == (12, t.learner.clip.embed_dim)
    assert not torch.allclose(keys[0], keys[1], atol=1e-4)


def test_search_needs_a_val_split(data, tmp_path, capsys):
    from mvlpt.cli import main

    rc = main(_args(data, str(tmp_path / "noval"), "TipAdapter", flags=["--eval-only"],
                    extra=["DATASET.CUSTOM.SPLIT_RATIO", "(0.75, 0.0, 0.25)"]))
    err = capsys.readouterr().err.strip().splitlines()
    teardown_logging()
    assert rc == 2 and len(err) == 1 and "validation" in err[0] and "SEARCH_HP" in err[0], err


def test_fine_tuned_search_survives_checkpoints(data, tmp_path):
    out = str(tmp_path / "tipf")
    argv = _args(data, out, extra=["TEST.FINAL_MODEL", "best_val"])
    t = _launch(argv)
    last, best = _ckpt(out, "model.pth.tar-2"), _ckpt(out, "model-best.pth.tar")
    for ck in (last, best):                                          # both hold searched values, not the init
        assert (float(ck["state_dict"]["alpha"]), float(ck["state_dict"]["beta"])) != (3.0, 1.0)
    # the best-val checkpoint holds the search on *its* fine-tuned keys (the deployed model)
    feats, labels = val_features(t)
    t.learner.load_prompt_state(best["state_dict"])
    t.learner.set_hp(3.0, 1.0)
    alpha, beta, _ = search_hp(t.learner, feats, labels, (12, 5), (20, 10))
    assert (float(best["state_dict"]["alpha"]), float(best["state_dict"]["beta"])) == pytest.approx((alpha, beta))
    assert last["train_end_done"] and best["epoch"] >= 1
    # evaluation of the run loads them
    ev = _launch(_args(data, str(tmp_path / "eval"), flags=["--eval-only", "--model-dir", out]))
    assert _hp(ev) == pytest.approx((float(best["state_dict"]["alpha"]), float(best["state_dict"]["beta"])))
    # a rerun of the finished run resumes: no new search, the checkpoint's values are kept
    rerun = _launch(argv)
    assert rerun.start_epoch == 2
    assert _hp(rerun) == pytest.approx((float(best["state_dict"]["alpha"]), float(best["state_dict"]["beta"])))


class _LRLog(HookBase):
    def __init__(self):
        self.lrs = []

    def after_step(self):
        self.lrs.append(self.trainer.get_current_lr())


def _lrs(data, out, per_iter):
    from mvlpt.engine import build_trainer
    from mvlpt.launch import setup_cfg

    args = build_parser().parse_args(_args(data, out, extra=["TRAINER.TIPADAPTERF.SEARCH_HP", "False",
                                                             "OPTIM.SCHED_PER_ITER", str(per_iter),
                                                             "TEST.NO_TEST", "True"]))
    cfg, _ = setup_cfg(args)
    t = build_trainer(cfg)
    log = _LRLog()
    t.register_hooks([log])                                          # after LRSchedulerHook: sees the stepped LR
    t.train()
    teardown_logging()
    return log.lrs, t.iters_per_epoch()


def test_sched_per_iter_is_the_official_cosine(data, tmp_path):
    lrs, n = _lrs(data, str(tmp_path / "per_iter"), True)
    T = 2 * n                                                        # MAX_EPOCH x iterations per epoch
    assert n == 3 and len(lrs) == T
    want = [0.001 * (1 + math.cos(math.pi * k / T)) / 2 for k in range(1, T + 1)]
    assert lrs == pytest.approx(want, rel=1e-9, abs=1e-15)
    # the Dassl default: one step per epoch, constant within an epoch
    lrs, n = _lrs(data, str(tmp_path / "per_epoch"), False)
    assert lrs == pytest.approx([0.001] * n + [0.001 * (1 + math.cos(math.pi / 2)) / 2] * n)


def test_sched_per_iter_scales_every_length():
    from mvlpt.config import get_cfg_default
    from mvlpt.engine.optim import build_lr_scheduler

    cfg = get_cfg_default()
    cfg.OPTIM.LR, cfg.OPTIM.MAX_EPOCH, cfg.OPTIM.LR_SCHEDULER = 1.0, 3, "cosine"
    cfg.OPTIM.WARMUP_EPOCH, cfg.OPTIM.WARMUP_TYPE, cfg.OPTIM.WARMUP_CONS_LR = 1, "constant", 0.5
    cfg.OPTIM.SCHED_PER_ITER = True
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = build_lr_scheduler(opt, cfg.OPTIM, iters_per_epoch=4)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # warmup: 1 epoch = 4 iterations at the constant LR, then cosine over 3 x 4 iterations from its start
    assert lrs[:4] == [0.5] * 4
    assert lrs[4:] == pytest.approx([(1 + math.cos(math.pi * k / 12)) / 2 for k in range(8)])

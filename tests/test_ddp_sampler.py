"""Rank-aware data under DDP (2 gloo processes on CPU): the task-balanced sampler shards one global
stream, the step count is decided per rank (a 0-step run stops with one line), and each rank draws its
own augmentations, identically on a rerun (issue 10 item 4, issue 15 item 1)."""
import hashlib
import json
import os
from collections import Counter

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image


pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")

TASK_SIZES = (12, 3, 5)  # three tasks of very different sizes
SEED = 5


def _cfg(**kw):
    from mvlpt.data import get_data_cfg

    cfg = get_data_cfg(**{"DATALOADER__NUM_WORKERS": 0, "INPUT__SIZE": (16, 16), **kw})
    cfg.SEED = SEED
    return cfg


def _merged(img):
    from mvlpt.data import Datum, DatasetBase, merge_datasets

    parts = [DatasetBase([Datum(img, i % 2, f"t{t}c{i % 2}") for i in range(n)], name=f"T{t}")
             for t, n in enumerate(TASK_SIZES)]
    return merge_datasets(parts)


def _digest(t):
    return hashlib.sha1(t.numpy().tobytes()).hexdigest()[:16]


def _checks(rank, world, tmp):
    from mvlpt.data import DataManager, DatasetBase, DatasetError, Datum

    out = {}
    img = os.path.join(tmp, "same.png")
    # 1. task-balanced stream, sharded
    dm = DataManager(_cfg(DATALOADER__TRAIN_X__SAMPLER="TaskBalancedSampler", DATALOADER__TRAIN_X__BATCH_SIZE=4),
                     is_distributed=True, dataset=_merged(img))
    s = dm.train_loader_x.sampler
    out["sampler"] = [type(s).__name__, s.seed, s.num_replicas, s.rank]
    out["stream"] = {}
    for e in range(3):
        s.set_epoch(e)
        out["stream"][e] = list(iter(s))
    s.set_epoch(0)
    out["loader_epoch0"] = [int(i) for b in dm.train_loader_x for i in b["index"]]
    out["tasks"] = [d.task for d in dm.dataset.train_x]
    # 2. per-rank augmentations: every image is the same file, so only the RNG decides the crops
    out["aug"] = {}
    for nw in (0, 1):
        dm = DataManager(_cfg(DATASET__NAME="Folder", DATASET__CUSTOM__ROOT=os.path.join(tmp, "same"),
                              DATALOADER__NUM_WORKERS=nw, DATALOADER__TRAIN_X__BATCH_SIZE=2,
                              INPUT__TRANSFORMS=("random_resized_crop", "random_flip", "normalize")),
                         is_distributed=True)
        for e in range(2):
            torch.manual_seed(100 + e)  # what the engine's epoch hook does: the same on every rank
            dm.train_loader_x.sampler.set_epoch(e)
            out["aug"][f"nw{nw}-e{e}"] = [_digest(x) for x in next(iter(dm.train_loader_x))["img"]]
    # 3. steps per rank: 36 images, batch 24, 2 ranks -> 18 per rank: one partial step each (not 0)
    data = DatasetBase([Datum(img, i % 3, f"c{i % 3}") for i in range(36)], name="toy")
    dm = DataManager(_cfg(DATALOADER__TRAIN_X__BATCH_SIZE=24), is_distributed=True, dataset=data)
    out["steps_auto"] = [dm.train_steps_per_epoch, dm.train_drop_last, len(dm.train_loader_x)]
    dm = DataManager(_cfg(DATALOADER__TRAIN_X__BATCH_SIZE=24, DATALOADER__TRAIN_X__DROP_LAST="True"),
                     is_distributed=True, dataset=data)
    try:
        dm.check_train_steps()
        out["zero_step"] = None
    except DatasetError as e:
        out["zero_step"] = str(e)
    try:
        iter(dm.train_loader_x)
        out["zero_step_iter"] = None
    except DatasetError as e:
        out["zero_step_iter"] = str(e)
    # 4. SEED -1: samplers use the drawn seed (the trainer seeds torch with it on every rank)
    torch.manual_seed(777)
    cfg = _cfg()
    cfg.SEED = -1
    dm = DataManager(cfg, is_distributed=True, dataset=data)
    out["drawn_seed"] = [dm.seed, dm.train_loader_x.sampler.seed]
    return out


def _cli_zero_step(tmp):
    """The CLI on this rank (the process group is up, as under torchrun): 0 steps per epoch must stop."""
    import contextlib
    import io

    from mvlpt.cli import main

    out = os.path.join(tmp, "cli-out")
    args = ["--root", os.path.join(tmp, "same"), "--output-dir", out, "--trainer", "CoOp", "--backbone",
            "mvlpt-tiny", "--seed", "0", "MODEL.BACKBONE.PRETRAINED", "none", "DATASET.NAME", "Folder",
            "DATALOADER.NUM_WORKERS", "0", "DATALOADER.TRAIN_X.BATCH_SIZE", "8", "DATALOADER.TRAIN_X.DROP_LAST",
            "True", "INPUT.SIZE", "(32, 32)", "TRAINER.COOP.N_CTX", "2", "TRAINER.COOP.PREC", "fp32",
            "OPTIM.MAX_EPOCH", "1", "USE_CUDA", "False"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(args)  # (destroys the process group on exit, as a torchrun run does)
    return [rc, err.getvalue(), os.path.exists(out)]


def _worker(rank, world, tmp, tag):
    mp.set_start_method("fork", force=True)  # loader workers: fork, not re-import everything (spawn)
    dist.init_process_group("gloo", init_method=f"file://{os.path.join(tmp, 'pg-' + tag)}", rank=rank,
                            world_size=world)
    try:
        res = [_checks(rank, world, tmp), _checks(rank, world, tmp)]  # a run, and a rerun from scratch
        res.append(_cli_zero_step(tmp))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    with open(os.path.join(tmp, f"{tag}-{rank}.json"), "w") as f:
        json.dump(res, f)


def _spawn(tmp, tag):
    mp.spawn(_worker, args=(2, tmp, tag), nprocs=2, join=True)
    return [json.load(open(os.path.join(tmp, f"{tag}-{r}.json"))) for r in range(2)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("ddp"))
    Image.new("RGB", (24, 24), (90, 20, 200)).save(os.path.join(tmp, "same.png"))
    import numpy as np
    arr = (np.random.default_rng(0).random((24, 24, 3)) * 255).astype("uint8")
    for c in ("a", "b"):
        os.makedirs(os.path.join(tmp, "same", c))
        for i in range(6):
            Image.fromarray(arr).save(os.path.join(tmp, "same", c, f"{i}.png"))
    (a0, b0, c0), (a1, b1, c1) = _spawn(tmp, "ddp")
    return (a0, a1), (b0, b1), (c0, c1)


def test_task_balanced_stream_is_sharded_over_ranks(runs):
    from mvlpt.data import TaskBalancedSampler

    (r0, r1), (q0, q1), _ = runs
    assert r0["sampler"] == ["TaskBalancedSampler", SEED, 2, 0] and r1["sampler"][3] == 1
    one = TaskBalancedSampler(r0["tasks"], seed=SEED)
    tasks = r0["tasks"]
    for e in ("0", "1", "2"):
        one.set_epoch(int(e))
        ref = list(iter(one))
        a, b = r0["stream"][e], r1["stream"][e]
        assert len(a) == len(b) == len(ref) // 2
        assert sorted(a + b) == sorted(ref)  # the union is the one-process stream ...
        assert Counter(tasks[i] for i in a + b) == Counter(tasks[i] for i in ref)  # ... with its task balance
        assert a == ref[0::2] and b == ref[1::2]
    assert r0["stream"]["0"] != r0["stream"]["1"]  # deterministic in (seed, epoch), not constant
    assert (q0["stream"], q1["stream"]) == (r0["stream"], r1["stream"])  # a rerun gives the same order
    # the loader follows its sampler (10 per rank, batch 4, drop_last -> 8)
    assert r0["loader_epoch0"] == r0["stream"]["0"][:8] and r1["loader_epoch0"] == r1["stream"]["0"][:8]


def test_each_rank_draws_its_own_augmentations_repeatably(runs):
    (r0, r1), (q0, q1), _ = runs
    for key in ("nw0-e0", "nw0-e1", "nw1-e0", "nw1-e1"):
        assert r0["aug"][key] != r1["aug"][key], key  # same seed and epoch, different rank -> other crops
    assert r0["aug"]["nw0-e0"] != r0["aug"]["nw0-e1"]
    assert (q0["aug"], q1["aug"]) == (r0["aug"], r1["aug"])  # deterministic in (seed, epoch, rank, worker)


def test_steps_per_rank_and_zero_step_stop(runs):
    (r0, r1), _, _ = runs
    assert r0["steps_auto"] == r1["steps_auto"] == [1, False, 1]  # was 0 steps with drop_last from N=36
    for r in (r0, r1):
        msg = r["zero_step"]
        assert msg and msg == r["zero_step_iter"] and len(msg.splitlines()) == 1
        assert "0 steps per epoch" in msg and "18 per rank on 2 processes" in msg and "batch size 24" in msg
        assert "fewer processes" in msg and "DROP_LAST False" in msg


def test_samplers_use_the_drawn_seed(runs):
    (r0, r1), _, _ = runs
    assert r0["drawn_seed"] == r1["drawn_seed"] == [777, 777]


def test_cli_run_on_two_ranks_with_zero_steps_stops_with_one_line(runs):
    _, _, cli = runs
    for rc, err, wrote in cli:
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and not wrote, err
        assert lines[0].startswith("mvlpt: error: training would run 0 steps per epoch")
        assert "per rank on 2 processes" in lines[0] and "DROP_LAST False" in lines[0]

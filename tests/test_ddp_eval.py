"""Sharded evaluation, the sharded training feature cache and rank-averaged meters under DDP
(gloo processes on CPU; issue 15 item 4).

* Evaluator level (2 and 3 ranks): every metric of :class:`mvlpt.engine.evaluator.Classification` -
  accuracy, error rate, macro-F1, mean per-class accuracy, per-class results, the confusion matrix,
  and per task each task metric (accuracy, mean_per_class, 11point_mAP, macro_f1) - computed by
  ``evaluate_sharded`` from each rank's block of the rows equals ``evaluate()`` on all rows in one
  process, exactly (the reductions add integer counts; mAP gathers the task's scores).
* Trainer level (2 ranks vs 1 process, the same global batch and sample order): each rank encodes and
  scores only its block of val / test, holds the full training feature table, logs meters averaged
  over the ranks; results, selected checkpoint and the learned prompt match the one-process run.
"""
import json
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from test_engine_support import base_args, make_image_folder

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")

#: 2 ranks vs 1 process: frozen training features (encoded in other batches)
FEAT_ATOL = 1e-5
#: 2 ranks vs 1 process: the prompt after training (float32 sums in another order, see the report)
CTX_ATOL = 1e-5
#: per-step losses logged by rank 0 (averaged over ranks) vs the one-process loss of the same batch
LOSS_ATOL = 1e-5


# ------------------------------------------------------------------------------ evaluator level
def _tasks():
    from mvlpt.data import TaskInfo

    # merged label space of 4 tasks, one per metric; columns 0-3, 4-8, 9-11, 12-14
    return [TaskInfo("acc", 0, 4, "accuracy"), TaskInfo("mpc", 4, 5, "mean_per_class"),
            TaskInfo("voc", 9, 3, "11point_mAP", True), TaskInfo("f1", 12, 3, "macro_f1")]


def _eval_cases():
    """name -> (cfg flags, tasks, logits (N, C), labels (N,), task ids or None)."""
    g = torch.Generator().manual_seed(0)
    tasks = _tasks()
    n = 41
    tid = torch.randint(0, len(tasks), (n,), generator=g)
    tid[tid == 1] = torch.where(torch.rand(int((tid == 1).sum()), generator=g) < 0.5, 1, 0)  # fewer mpc rows
    tid[[3, 30]] = 2  # two "voc" rows on different ranks ...
    labels = torch.stack([tasks[int(t)].offset + torch.randint(0, tasks[int(t)].num_classes, (1,), generator=g)[0]
                          for t in tid])
    labels[(tid == 1) & (labels == 4 + 4)] = 4  # class 4 of "mpc" never present: its column must not count
    labels[(tid == 2) & (torch.rand(n, generator=g) < 0.3)] = -1  # negative images of the multilabel task
    logits = torch.randn(n, 15, generator=g)
    logits[30] = logits[3]  # ... with equal scores (an mAP tie across ranks)
    cases = {"multitask": ({"PER_CLASS_RESULT": True}, tasks, logits, labels, tid)}
    m = 29
    y = torch.randint(0, 6, (m,), generator=g)
    lg = torch.randn(m, 6, generator=g) + 2.0 * torch.nn.functional.one_hot(y, 6)
    cases["single"] = ({"PER_CLASS_RESULT": True, "COMPUTE_CMAT": True}, [], lg, y, None)
    cases["two_rows"] = ({"PER_CLASS_RESULT": True}, [], lg[:2], y[:2], None)  # a rank with nothing
    return cases


def _evaluator(flags, tasks, out_dir, lines):
    from mvlpt.config import get_cfg_default
    from mvlpt.engine.evaluator import build_evaluator

    cfg = get_cfg_default()
    cfg.OUTPUT_DIR = out_dir
    for k, v in flags.items():
        cfg.TEST[k] = v
    return build_evaluator(cfg, lab2cname={}, tasks=tasks, log=lines.append)


def _sharded_results(rank, world, tmp):
    from mvlpt.data import ShardSampler

    out = {}
    for name, (flags, tasks, logits, labels, tid) in _eval_cases().items():
        lines = []
        ev = _evaluator(flags, tasks, os.path.join(tmp, f"cmat-{world}-{name}"), lines)
        rows = list(ShardSampler(len(labels), world, rank))
        for s in range(0, len(rows), 4):  # in batches, as the engine does
            r = torch.tensor(rows[s:s + 4], dtype=torch.long)
            ev.process(logits[r], labels[r], None if tid is None else tid[r], r)
        out[name] = {"results": dict(ev.evaluate_sharded()), "rows": len(rows), "lines": lines}
    return out


# ------------------------------------------------------------------------------ trainer level
def _data(tmp):
    root = os.path.join(tmp, "data")
    if not os.path.isdir(root):
        for split, k, seed in (("train", 4, 0), ("val", 3, 1), ("test", 7, 2)):
            make_image_folder(os.path.join(root, split), per_class=k, seed=seed)
    return root


def _trainer_cfg(tmp, out, batch, *extra):
    from mvlpt.launch import build_parser, setup_cfg

    args = base_args(_data(tmp), out, epochs=2,
                     extra=["INPUT.TRANSFORMS", "['normalize']", "INPUT.SIZE", "(32, 32)", "OPTIM.LR", "0.05",
                            "DATALOADER.TEST.BATCH_SIZE", "4", "TEST.FINAL_MODEL", "best_val", "USE_CUDA",
                            "False", *extra])
    args[args.index("--backbone") + 1] = "mvlpt-tiny"
    args[args.index("DATALOADER.TRAIN_X.BATCH_SIZE") + 1] = str(batch)
    return setup_cfg(build_parser().parse_args(args))[0]


def _train(cfg):
    """Train; returns the trainer and the TensorBoard scalars it wrote ``[(tag, value, step)]``."""
    from mvlpt.engine import TrainerX

    t = TrainerX(cfg)
    scalars = []
    t.write_scalar = lambda tag, v, step=None: scalars.append((tag, float(v), step))
    t.train()
    return t, scalars


def _trainer_run(rank, world, tmp):
    from mvlpt.engine import TrainerX

    t, scalars = _train(_trainer_cfg(tmp, os.path.join(tmp, "ddp"), 2))
    feats, labels = t.feature_store.table(("train", t._store_token))
    ev_rows = {split: t.feature_store.table(("eval", t._store_token, split))[0].shape[0] for split in ("val", "test")}
    res = {"results": t.final_results, "loss": [s for s in scalars if s[0] in ("train/loss", "train/acc")],
           "ctx": t.learner.ctx.detach().tolist(), "train_feats": feats.tolist(), "train_labels": labels.tolist(),
           "eval_rows": ev_rows, "test_loader": len(t.test_loader.sampler),
           "evaluated": len(t.evaluator.state()["gt"])}
    # the same model, every rank scoring the whole test set (TEST.SHARDED_EVAL False, the old way)
    full = TrainerX(_trainer_cfg(tmp, os.path.join(tmp, f"full-{rank}"), 2, "TEST.SHARDED_EVAL", "False"))
    full.load_model(os.path.join(tmp, "ddp"))
    full.test()
    res["unsharded"] = {"results": full.final_results, "test_loader": len(full.test_loader.sampler)}
    return res


def _tip_cfg(tmp, out):
    """Training-free Tip-Adapter with the hyper-parameter search on the validation split."""
    cfg = _trainer_cfg(tmp, out, 2, "TRAINER.TIPADAPTER.SEARCH_HP", "True", "TRAINER.TIPADAPTER.AUGMENT_EPOCH", "1",
                       "TRAINER.TIPADAPTER.SEARCH_STEP", "[20, 10]", "TRAINER.TIPADAPTER.PREC", "fp32")
    cfg.defrost()
    cfg.TRAINER.NAME = "TipAdapter"
    cfg.freeze()
    return cfg


def _tip_search(rank=0, world=1, tmp=None):
    """The searched (alpha, beta) and the validation features the learner was given."""
    from mvlpt.engine import TrainerX
    from mvlpt.engine.hooks import val_features

    t = TrainerX(_tip_cfg(tmp, os.path.join(tmp, f"tip-{world}-{rank}")))
    t.begin_learner()
    feats, labels = val_features(t)
    return {"hp": [float(t.learner.alpha), float(t.learner.beta)], "val_feats": feats.tolist(),
            "val_labels": labels.tolist()}


def _run(rank, world, tmp, fn):
    dist.init_process_group("gloo", init_method=f"file://{os.path.join(tmp, f'pg-{world}')}", rank=rank,
                            world_size=world)
    try:
        res = fn(rank, world, tmp)
    finally:
        dist.destroy_process_group()
    with open(os.path.join(tmp, f"res-{world}-{rank}.json"), "w") as f:
        json.dump(res, f)


def _worker(rank, tmp):
    """3 processes: the evaluator on 3 ranks; then ranks 0-1 form a 2-rank group (one start-up)."""
    _run(rank, 3, tmp, lambda r, w, d: {"eval": _sharded_results(r, w, d)})
    if rank < 2:
        _run(rank, 2, tmp, lambda r, w, d: {"eval": _sharded_results(r, w, d), "trainer": _trainer_run(r, w, d),
                                    "tip": _tip_search(r, w, d)})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("ddp_eval"))
    _data(tmp)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import mvlpt.engine.trainer  # noqa: F401  (fail here, not in the workers)
    import mvlpt.launch  # noqa: F401
    from mvlpt.config import get_cfg_default

    get_cfg_default()  # registers the methods' config nodes
    # spawn, not fork: forking a process whose OpenMP pool has run (earlier tests in the same session)
    # deadlocks the child's first parallel op
    mp.start_processes(_worker, args=(tmp,), nprocs=3, join=True, start_method="spawn")
    return tmp, {w: [json.load(open(os.path.join(tmp, f"res-{w}-{r}.json"))) for r in range(w)] for w in (2, 3)}


@pytest.mark.parametrize("world", [2, 3])
def test_sharded_evaluator_equals_one_process(runs, world):
    tmp, out = runs
    for name, (flags, tasks, logits, labels, tid) in _eval_cases().items():
        lines = []
        ref = _evaluator(flags, tasks, os.path.join(tmp, f"cmat-1-{name}"), lines)
        ref.process(logits, labels, tid, torch.arange(len(labels)))
        want = dict(ref.evaluate())
        ranks = [o["eval"][name] for o in out[world]]
        assert sum(r["rows"] for r in ranks) == len(labels)  # each row scored once, nowhere twice
        for r in ranks:
            assert r["results"] == want, name  # identical on every rank, to the last bit
        expected_keys = {"accuracy", "error_rate", "macro_f1", "mean_per_class_accuracy", "perclass_accuracy"}
        assert expected_keys <= set(want)
        if tasks:
            assert {f"task/{t.name}" for t in tasks} | {"task/mean", "task/score"} <= set(want)
            assert all(np.isfinite(want[f"task/{t.name}"]) for t in tasks)
        # the printed summary (rank 0's log) is the one-process summary
        assert ranks[0]["lines"] == [x.replace("cmat-1-", f"cmat-{world}-") for x in lines]
        if flags.get("COMPUTE_CMAT"):
            a = torch.load(os.path.join(tmp, f"cmat-{world}-{name}", "cmat.pt"), weights_only=True)["cmat"]
            b = torch.load(os.path.join(tmp, f"cmat-1-{name}", "cmat.pt"), weights_only=True)["cmat"]
            assert torch.equal(a, b)
    assert [o["eval"]["two_rows"]["rows"] for o in out[world]] == [1, 1, 0][:world]


def test_sharded_evaluator_needs_the_reduction():
    """The check above can fail: one rank's block alone gives other metrics than the whole split."""
    flags, tasks, logits, labels, tid = _eval_cases()["multitask"]
    whole = _evaluator(flags, tasks, "/nonexistent", [])
    whole.process(logits, labels, tid)
    part = _evaluator(flags, tasks, "/nonexistent", [])
    part.process(logits[:20], labels[:20], tid[:20])
    a, b = whole.evaluate(), part.evaluate()
    assert a["accuracy"] != b["accuracy"] and a["task/voc"] != b["task/voc"] and a["task/mpc"] != b["task/mpc"]


def test_two_ranks_train_like_one_process(runs, monkeypatch):
    tmp, out = runs
    r0, r1 = (o["trainer"] for o in out[2])
    # each rank encoded and scored only its block: test 21 -> 11 + 10, val 9 -> 5 + 4
    assert (r0["test_loader"], r1["test_loader"]) == (11, 10) and (r0["evaluated"], r1["evaluated"]) == (11, 10)
    assert r0["eval_rows"] == {"val": 5, "test": 11} and r1["eval_rows"] == {"val": 4, "test": 10}
    assert r0["unsharded"]["test_loader"] == 21
    # every rank holds the same full training feature table
    assert r0["train_feats"] == r1["train_feats"] and r0["train_labels"] == r1["train_labels"]
    assert r0["results"] == r1["results"] == r0["unsharded"]["results"] == r1["unsharded"]["results"]
    assert r0["loss"] == r1["loss"]  # the logged meters are the same rank average everywhere

    # one process, global batch 4, the sample order of the 2-rank DistributedSampler
    from torch.utils.data import DistributedSampler

    import mvlpt.data.data_manager as dm_mod

    orig = dm_mod.DataManager._sampler

    def one_replica(self, data_, is_train, sampler_type):
        if is_train:
            return DistributedSampler(data_, num_replicas=1, rank=0, shuffle=True, seed=self.seed)
        return orig(self, data_, is_train, sampler_type)

    monkeypatch.setattr(dm_mod.DataManager, "_sampler", one_replica)
    t, scalars = _train(_trainer_cfg(tmp, os.path.join(tmp, "one"), 4))
    feats, labels = t.feature_store.table(("train", t._store_token))
    assert labels.tolist() == r0["train_labels"]
    # same images, same encoder, same order; other batch compositions (shards) -> float32 rounding only
    feat_diff = (feats - torch.tensor(r0["train_feats"])).abs().max().item()
    assert feat_diff <= FEAT_ATOL
    one_loss = [s for s in scalars if s[0] in ("train/loss", "train/acc")]
    assert [s[0::2] for s in one_loss] == [tuple(s[0::2]) for s in r0["loss"]]
    diffs = [abs(a[1] - b[1]) for a, b in zip(one_loss, r0["loss"])]
    assert max(diffs) <= LOSS_ATOL, diffs
    ctx_diff = (t.learner.ctx.detach() - torch.tensor(r0["ctx"])).abs().max().item()
    print(f"\n2 ranks vs 1 process: max |train feature diff| {feat_diff:.3g}, max |ctx diff| {ctx_diff:.3g}, "
          f"max |logged loss/acc diff| {max(diffs):.3g}")
    assert ctx_diff <= CTX_ATOL
    assert t.final_results == r0["results"]


def test_tip_adapter_searches_on_the_whole_val_split_under_ddp(runs):
    """needs_val_features under sharded evaluation: each rank encodes its val block, the learner gets the
    whole split (gathered in dataset order) and every rank searches to the one-process alpha/beta."""
    tmp, out = runs
    r0, r1 = (o["tip"] for o in out[2])
    one = _tip_search(0, 1, tmp)
    assert len(one["val_labels"]) == 9 and r0["val_labels"] == r1["val_labels"] == one["val_labels"]
    diff = (torch.tensor(r0["val_feats"]) - torch.tensor(one["val_feats"])).abs().max().item()
    assert diff <= FEAT_ATOL
    assert r0["hp"] == r1["hp"] == one["hp"]


def test_shard_sampler_blocks_cover_every_index_once():
    from mvlpt.data import ShardSampler

    for n in (0, 1, 2, 5, 21, 100):
        for world in (1, 2, 3, 8):
            blocks = [list(ShardSampler(n, world, r)) for r in range(world)]
            assert sum(blocks, []) == list(range(n))  # disjoint, in order, nothing padded
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    with pytest.raises(ValueError, match="rank 2 outside"):
        ShardSampler(5, 2, 2)

"""Embedded demo suite + DataManager end to end (no download, nothing written into the repo)."""
import os

import pytest
import torch

from mvlpt.data import DEMO_TASKS, DataManager, build_dataset, ensure_demo_data, evaluate_tasks, get_data_cfg
from mvlpt.data.demo import demo_root_is_valid, generate_demo_data, shipped_demo_root


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MVLPT_CACHE", str(tmp_path / "cache"))


def _cfg(name, **kw):
    cfg = get_data_cfg(**{"DATASET__NAME": name, "DATALOADER__NUM_WORKERS": 0, "DATALOADER__TRAIN_X__BATCH_SIZE": 8,
                          "DATALOADER__TEST__BATCH_SIZE": 16, **kw})
    cfg.SEED = 1
    return cfg


def test_ensure_demo_data_generates_deterministically(tmp_path):
    a = ensure_demo_data(str(tmp_path / "a"))
    assert demo_root_is_valid(a)
    b = generate_demo_data(str(tmp_path / "b"), tasks=["DemoShapes"])
    f = os.path.join("DemoShapes", "images", "star", "train_03.png")
    with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
        assert x.read() == y.read()
    assert ensure_demo_data(a) == a  # valid -> reused


def test_demo_default_root_and_size():
    root = ensure_demo_data()
    assert demo_root_is_valid(root)
    if root == shipped_demo_root():
        total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        assert total < 3e6


def test_demo_tasks_registered_with_meaningful_classes():
    for name, classes in DEMO_TASKS.items():
        ds = build_dataset(_cfg(name))
        assert ds.classnames == classes and len(ds.train_x) == 16 * len(classes)
        assert len(ds.val) == 4 * len(classes) and len(ds.test) == 10 * len(classes)
    assert len(DEMO_TASKS) >= 5


def test_demo_fewshot_cache_not_in_repo():
    before = set(os.listdir(os.path.join(shipped_demo_root(), "DemoShapes"))) if os.path.isdir(shipped_demo_root()) else None
    ds = build_dataset(_cfg("DemoShapes", DATASET__NUM_SHOTS=4))
    assert len(ds.train_x) == 20 and len(ds.val) == 20
    assert ds.fewshot_cache_path.startswith(os.environ["MVLPT_CACHE"])
    if before is not None:
        assert set(os.listdir(os.path.join(shipped_demo_root(), "DemoShapes"))) == before


def test_demo_multitask_datamanager_batches():
    dm = DataManager(_cfg("DemoMultitask", DATASET__NUM_SHOTS=2, INPUT__SIZE=(32, 32)))
    assert [t.offset for t in dm.tasks] == [0, 5, 13, 23, 28] and dm.num_classes == 32
    assert dm.classnames[13] == "zero" and dm.lab2cname[28] == "up arrow"
    b = next(iter(dm.train_loader_x))
    assert set(b) >= {"img", "label", "task", "index", "impath"}
    assert b["img"].shape == (8, 3, 32, 32) and b["img"].dtype == torch.float32
    assert b["label"].dtype == torch.long and b["task"].dtype == torch.long and len(b["impath"]) == 8
    for lab, t, idx in zip(b["label"].tolist(), b["task"].tolist(), b["index"].tolist()):
        assert dm.tasks[t].offset <= lab < dm.tasks[t].end
        assert dm.dataset.train_x[idx].label == lab
    assert dm.val_loader is not None and not dm.train_transform_is_deterministic
    # per-task evaluation over the test loader with "oracle" logits = one-hot labels
    logits, labels, tids = [], [], []
    for bt in dm.test_loader:
        logits.append(torch.nn.functional.one_hot(bt["label"], dm.num_classes).float())
        labels.append(bt["label"])
        tids.append(bt["task"])
    res = evaluate_tasks(torch.cat(logits), torch.cat(labels), torch.cat(tids), dm.tasks)
    assert res["mean"] == 100.0 and set(DEMO_TASKS) <= set(res)


def test_comma_list_elevater_protocol_and_hflip():
    dm = DataManager(_cfg("DemoShapes,DemoArrows", INPUT__PROTOCOL="elevater"))
    assert [t.name for t in dm.tasks] == ["DemoShapes", "DemoArrows"] and dm.train_transform_is_deterministic
    dm2 = DataManager(_cfg("DemoArrows"))
    assert "RandomHorizontalFlip" not in [type(t).__name__ for t in dm2.tfm_train.transforms]


def test_task_balanced_sampler_and_workers():
    dm = DataManager(_cfg("DemoMultitask", DATALOADER__TRAIN_X__SAMPLER="TaskBalancedSampler",
                          DATALOADER__NUM_WORKERS=1))
    assert type(dm.train_loader_x.sampler).__name__ == "TaskBalancedSampler"
    assert not dm.train_loader_x.persistent_workers  # re-created per epoch: RNG follows the epoch seed
    assert dm.test_loader.persistent_workers
    b = next(iter(dm.train_loader_x))
    assert b["img"].shape[0] == 8


def test_distributed_samplers(tmp_path):
    import torch.distributed as dist
    from torch.utils.data.distributed import DistributedSampler
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        dm = DataManager(_cfg("DemoShapes", DATALOADER__TEST__DISTRIBUTED=True), is_distributed=True)
        assert isinstance(dm.train_loader_x.sampler, DistributedSampler)
        assert isinstance(dm.test_loader.sampler, DistributedSampler)
        assert next(iter(dm.train_loader_x))["img"].shape[0] == 8
    finally:
        dist.destroy_process_group()

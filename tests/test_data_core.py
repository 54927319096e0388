"""Core data API: Datum/DatasetBase, config keys, metrics, multitask merge/loss, samplers, transforms."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from yacs.config import CfgNode as CN

from mvlpt.data import (DatasetBase, Datum, TaskBalancedSampler, TaskInfo, accuracy, add_data_config, build_transform,
                        evaluate_tasks, macro_f1, map_11point, mean_per_class_accuracy, merge_datasets,
                        multitask_loss, task_class_mask)
from mvlpt.data.transforms import is_deterministic


def test_datum_does_not_stat_and_dataset_basics(tmp_path):
    d = Datum(str(tmp_path / "missing.jpg"), 2, "apple_pie")
    assert d.label == 2 and d.classname == "apple_pie" and d.domain == 0 and d.task == 0
    ds = DatasetBase([Datum("a", 0, "apple_pie"), Datum("b", 2, "hot_dog")], test=[Datum("c", 1, "x")], name="F")
    assert ds.num_classes == 3 and ds.classnames[0] == "apple_pie" and ds.val is None
    assert ds.lab2cname[2] == "hot_dog"
    assert len(ds.tasks) == 1 and ds.tasks[0] == TaskInfo("F", 0, 3, "accuracy", False, ds.classnames)


def test_add_data_config_keys_and_idempotent():
    cfg = CN()
    cfg.DATASET = CN()
    cfg.DATASET.NAME = "OxfordPets"
    add_data_config(cfg)
    add_data_config(cfg)
    assert cfg.DATASET.NAME == "OxfordPets"  # existing value kept
    assert list(cfg.INPUT.SIZE) == [224, 224] and cfg.INPUT.INTERPOLATION == "bicubic"
    assert list(cfg.INPUT.TRANSFORMS) == ["random_resized_crop", "random_flip", "normalize"]
    assert list(cfg.INPUT.RRCROP_SCALE) == [0.08, 1.0]
    for k in ("NUM_SHOTS", "SUBSAMPLE_CLASSES", "DATASET", "MULTITASK", "NUM_SAMPLES_PER_CLASS", "RANDOM_SEED_SAMPLING",
              "CENTER_CROP", "MULTITASK_EVALKEY", "ROOT"):
        assert k in cfg.DATASET
    assert cfg.DATALOADER.TRAIN_X.BATCH_SIZE == 32 and cfg.DATALOADER.TEST.SAMPLER == "SequentialSampler"


def test_accuracy_and_mean_per_class():
    logits = torch.tensor([[2.0, 1, 0], [0, 3, 0], [0, 3, 0], [1, 0, 0]])
    y = torch.tensor([0, 1, 2, 2])
    assert accuracy(logits, y) == pytest.approx(50.0)
    assert accuracy(torch.tensor([0, 1, 1, 0]), y) == pytest.approx(50.0)
    # per class recall: c0=1, c1=1, c2=0 -> 66.67
    assert mean_per_class_accuracy(logits, y) == pytest.approx(200 / 3)
    # toolkit rule: absent classes' columns are removed before the argmax
    logits2 = torch.tensor([[2.0, 5, 1], [0, 5, 2]])
    assert mean_per_class_accuracy(logits2, torch.tensor([0, 2])) == pytest.approx(100.0)
    assert mean_per_class_accuracy(logits2, torch.tensor([0, 2]), restrict=False) == pytest.approx(0.0)
    assert macro_f1(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1])) == pytest.approx((2 / 3 + 2 / 3) / 2 * 100)


def test_map_11point_hand_checked():
    # one class, scores .9(+) .8(-) .3(+): points (P,R) = (1,.5) (.5,.5) (2/3,1) + (1,0)
    # P_interp: t in {1,.9,.8,.7,.6} -> 2/3 ; t in {.5,...,0} -> 1  => (5*2/3 + 6)/11 = 28/33
    assert map_11point([[0.9], [0.8], [0.3]], [[1], [0], [1]]) == pytest.approx(100 * 28 / 33)
    # perfect ranking -> 1; a class without positives is ignored
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.1, 0.2]])
    t = np.array([[1, 0], [0, 0], [0, 0]])
    assert map_11point(s, t) == pytest.approx(100.0)
    # ties are one threshold: scores all equal, 1 of 2 positive -> P=.5 at R=1 -> (10*.5 + 1)/11
    assert map_11point([[0.5], [0.5]], [[1], [0]]) == pytest.approx(100 * 6 / 11)


def test_evaluate_tasks_slices_and_offsets():
    tasks = [TaskInfo("A", 0, 2, "accuracy"), TaskInfo("B", 2, 3, "mean_per_class")]
    logits = torch.full((4, 5), -1.0)
    logits[0, 0] = 5  # A, label 0 correct
    logits[1, 4] = 9  # A row: a B column is highest overall, but inside A's slice column 1 wins
    logits[1, 1] = 1
    logits[2, 3] = 5  # B label 3 (local 1) correct
    logits[3, 0] = 99  # B row: A column ignored; inside B, col 2 (local 0) highest -> label 4 wrong
    logits[3, 2] = 1
    labels = torch.tensor([0, 1, 3, 4])
    out = evaluate_tasks(logits, labels, torch.tensor([0, 0, 1, 1]), tasks)
    assert out["A"] == pytest.approx(100.0)
    assert out["B"] == pytest.approx(50.0)
    assert out["mean"] == pytest.approx(75.0) and out["score"] == pytest.approx(75.0)
    assert evaluate_tasks(logits, labels, torch.tensor([0, 0, 1, 1]), tasks, average_key="B")["score"] == 50.0


def test_evaluate_tasks_multilabel_map():
    tasks = [TaskInfo("cls", 0, 2, "accuracy"), TaskInfo("voc", 2, 1, "11point_mAP", multilabel=True)]
    logits = torch.tensor([[1.0, 0, 0.9], [0, 1, 0.8], [1, 0, 0.3], [0, 1, 0.0]])
    multihot = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=torch.float)
    # rows 2..3 are VOC; add row 0's VOC score too via a third VOC row
    out = evaluate_tasks(logits, multihot, torch.tensor([0, 0, 1, 1]), tasks)
    assert out["cls"] == 100.0 and out["voc"] == pytest.approx(100.0)


def _toy(name, n, per=2):
    return DatasetBase([Datum(f"{name}{c}_{i}", c, f"{name}_c{c}") for c in range(n) for i in range(per)],
                       val=[Datum(f"{name}v{c}", c, f"{name}_c{c}") for c in range(n)],
                       test=[Datum(f"{name}t{c}", c, f"{name}_c{c}") for c in range(n)], name=name)


def test_merge_offsets_task_ids_and_names():
    a, b, c = _toy("a", 3), _toy("b", 2), _toy("c", 4)
    m = merge_datasets([a, b, c], ["A", "B", "C"])
    assert [(t.name, t.offset, t.num_classes) for t in m.tasks] == [("A", 0, 3), ("B", 3, 2), ("C", 5, 4)]
    assert m.num_classes == 9 and m.classnames[3] == "b_c0" and m.classnames[5] == "c_c0"
    for d in m.train_x + m.test + m.val:
        t = m.tasks[d.task]
        assert t.offset <= d.label < t.end
        assert m.classnames[d.label] == d.classname
    assert len(m.train_x) == 18 and m.is_multitask


def test_masked_loss_uses_minus_inf_not_zero():
    tasks = [TaskInfo("A", 0, 2), TaskInfo("B", 2, 3)]
    torch.manual_seed(0)
    logits = torch.randn(4, 5, requires_grad=True)
    labels = torch.tensor([1, 0, 3, 4])
    tids = torch.tensor([0, 0, 1, 1])
    mask = task_class_mask(tids, tasks)
    assert mask.tolist()[0] == [True, True, False, False, False] and mask.tolist()[2] == [False, False, True, True, True]
    loss = multitask_loss(logits, labels, tids, tasks, mode="masked")
    # equals per-task CE on each task's own slice
    ref = (F.cross_entropy(logits[:2, 0:2], labels[:2], reduction="sum")
           + F.cross_entropy(logits[2:, 2:5], labels[2:] - 2, reduction="sum")) / 4
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    # the official "multiply by 0" mask keeps exp(0) terms in the softmax -> different value
    zeroed = F.cross_entropy(logits * mask, labels)
    assert abs(zeroed.item() - loss.item()) > 1e-3
    loss.backward()
    assert torch.all(logits.grad[~mask] == 0)
    union = multitask_loss(logits, labels, tids, tasks, mode="union")
    assert union.item() == pytest.approx(F.cross_entropy(logits, labels).item())
    with pytest.raises(ValueError):
        multitask_loss(logits, labels, tids, tasks, mode="bogus")


def test_task_balanced_sampler_balances():
    task_ids = [0] * 1000 + [1] * 10 + [2] * 10
    s = TaskBalancedSampler(task_ids, num_samples=3000, seed=0)
    idx = list(iter(s))
    counts = np.bincount([task_ids[i] for i in idx], minlength=3)
    assert len(idx) == 3000 and all(800 < c < 1200 for c in counts)
    assert list(iter(TaskBalancedSampler(task_ids, seed=0))) == list(iter(TaskBalancedSampler(task_ids, seed=0)))


def test_transforms_coop_and_elevater():
    from PIL import Image
    import torchvision.transforms as T
    cfg = add_data_config(CN())
    tr = build_transform(cfg, True, "coop")
    kinds = [type(t).__name__ for t in tr.transforms]
    assert kinds == ["RandomResizedCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    rrc = tr.transforms[0]
    assert tuple(rrc.scale) == (0.08, 1.0) and rrc.interpolation == T.InterpolationMode.BICUBIC
    te = build_transform(cfg, False, "coop")
    assert [type(t).__name__ for t in te.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    ev = build_transform(cfg, True, "elevater")
    assert [type(t).__name__ for t in ev.transforms] == ["Resize", "ToTensor", "Normalize"]
    img = Image.new("RGB", (50, 30), (255, 0, 0))
    x = ev(img)
    assert x.shape == (3, 224, 224)
    mean, std = cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD
    assert x[0, 0, 0].item() == pytest.approx((1 - mean[0]) / std[0], rel=1e-4)
    assert is_deterministic(cfg, "elevater") and not is_deterministic(cfg, "coop")
    cfg.DATASET.CENTER_CROP = True
    assert [type(t).__name__ for t in build_transform(cfg, True, "elevater").transforms][:2] == ["Resize", "CenterCrop"]
    cfg.INPUT.TRANSFORMS = ["normalize"]
    assert is_deterministic(cfg, "coop")
    with pytest.raises(ValueError):
        build_transform(cfg, True, "coop", choices=["bogus_op"])

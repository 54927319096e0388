"""Unit tests: checkpoint averaging, group selection from a matrix, transferability resumability."""
import json
import os

import pytest
import torch

from mvlpt.multitask.averaging import AveragingError, average_checkpoints, average_state_dicts, select_source
from mvlpt.multitask.groups import load_groups, topk_groups
from mvlpt.multitask.transfer import pair_file, read_matrix_csv, run_matrix


def _save_run(d, sd, epoch=3, trainer="MVLPT"):
    m = os.path.join(d, "prompt_learner")
    os.makedirs(m, exist_ok=True)
    torch.save({"state_dict": sd, "epoch": epoch, "optimizer": None, "scheduler": None, "val_result": None,
                "trainer": trainer, "learner": "CoOp"}, os.path.join(m, f"model.pth.tar-{epoch}"))
    with open(os.path.join(m, "checkpoint"), "w") as f:
        f.write(f"model.pth.tar-{epoch}\n")
    return d


def test_average_state_dicts_elementwise():
    a = {"ctx": torch.tensor([[1.0, 2.0]]), "n": torch.tensor([3])}
    b = {"ctx": torch.tensor([[3.0, 6.0]]), "n": torch.tensor([3])}
    avg = average_state_dicts([a, b])
    assert torch.equal(avg["ctx"], torch.tensor([[2.0, 4.0]]))
    assert torch.equal(avg["n"], torch.tensor([3]))
    with pytest.raises(AveragingError, match="shape"):
        average_state_dicts([a, {"ctx": torch.zeros(2, 2), "n": torch.tensor([3])}])
    with pytest.raises(AveragingError, match="other prompt tensors"):
        average_state_dicts([a, {"ctx": torch.zeros(1, 2)}])
    with pytest.raises(AveragingError, match="non-float"):
        average_state_dicts([a, {"ctx": torch.zeros(1, 2), "n": torch.tensor([4])}])


def test_average_checkpoints_dassl_layout(tmp_path):
    r1 = _save_run(str(tmp_path / "seed1"), {"ctx": torch.ones(4, 8), "proj.weight": torch.zeros(2, 2)})
    r2 = _save_run(str(tmp_path / "seed2"), {"ctx": 3 * torch.ones(4, 8), "proj.weight": torch.ones(2, 2)})
    out = str(tmp_path / "avg")
    f = average_checkpoints([r1, r2], out)
    assert f == os.path.join(out, "prompt_learner", "model.pth.tar-3")
    ck = torch.load(f, weights_only=True)
    assert torch.allclose(ck["state_dict"]["ctx"], 2 * torch.ones(4, 8))
    assert torch.allclose(ck["state_dict"]["proj.weight"], 0.5 * torch.ones(2, 2))
    assert ck["trainer"] == "MVLPT" and ck["optimizer"] is None and len(ck["averaged_from"]) == 2
    with open(os.path.join(out, "prompt_learner", "checkpoint")) as fh:
        assert fh.read().strip() == "model.pth.tar-3"
    meta = json.load(open(os.path.join(out, "source.json")))
    assert meta["mode"] == "average" and len(meta["inputs"]) == 2
    # single-seed source by option
    f1 = select_source([r1, r2], str(tmp_path / "s2"), mode="seed2")
    assert torch.equal(torch.load(f1, weights_only=True)["state_dict"]["ctx"], 3 * torch.ones(4, 8))
    # different trainers cannot be averaged
    r3 = _save_run(str(tmp_path / "seed3"), {"ctx": torch.ones(4, 8), "proj.weight": torch.zeros(2, 2)}, trainer="CoOp")
    with pytest.raises(AveragingError, match="different trainers"):
        average_checkpoints([r1, r3], str(tmp_path / "bad"))


def test_topk_groups_from_matrix(tmp_path):
    tasks = ["a", "b", "c", "d"]
    # rows = source, cols = target
    m = [[50, 10, 30, 5],
         [40, 60, 35, 1],
         [45, 20, 70, 9],
         [10, 25, 20, 80]]
    g = topk_groups(m, tasks, k=2)
    assert g["a"] == ["a", "c", "b"]        # column a: c=45 > b=40 > d=10
    assert g["b"] == ["b", "d", "c"]        # column b: d=25 > c=20 > a=10
    assert g["d"] == ["d", "c", "a"]        # column d: c=9 > a=5 > b=1
    assert topk_groups(m, tasks, k=1, targets=["c"]) == {"c": ["c", "b"]}
    assert topk_groups(m, tasks, k=1, targets=["c"], candidates=["a", "d"]) == {"c": ["c", "a"]}
    with pytest.raises(ValueError):
        topk_groups([[1]], tasks, k=1)
    p = tmp_path / "g.yaml"
    p.write_text("name: x\ngroups:\n  g1: [a, b]\n  g2: [c]\n")
    assert load_groups(str(p)) == {"g1": ["a", "b"], "g2": ["c"]}


def test_transferability_is_resumable(tmp_path):
    tasks = ["t1", "t2", "t3"]
    calls, sources, killed = [], [], []

    class Killed(Exception):
        pass

    def pair(a, b):
        calls.append((a, b))
        if (a, b) == ("t2", "t3") and not killed:
            killed.append(1)
            raise Killed  # simulated kill in the middle of the study
        return 10.0 * tasks.index(a) + tasks.index(b)

    out = str(tmp_path / "tr")
    with pytest.raises(Killed):
        run_matrix(tasks, out, pair, source_fn=sources.append, png_name=None, progress=False)
    done_before = set(calls[:-1])
    assert len(done_before) == 5 and all(os.path.isfile(pair_file(out, a, b)) for a, b in done_before)
    t, m = read_matrix_csv(os.path.join(out, "transferability.csv"))
    assert t == tasks and m[0][0] == 0.0 and m[2][2] is None
    calls.clear()
    m = run_matrix(tasks, out, pair, source_fn=sources.append, png_name="tm.png", progress=False)
    assert not (set(calls) & done_before), "a finished pair was rerun"
    assert len(calls) == 4
    assert m[1][2] == 12.0 and m[2][0] == 20.0
    assert os.path.getsize(os.path.join(out, "tm.png")) > 1000
    calls.clear()
    run_matrix(tasks, out, pair, png_name=None, progress=False)
    assert calls == []

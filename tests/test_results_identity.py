"""Run identity (run.json, mvlpt.runinfo) and the tables mvlpt.results builds from the output trees of
every script: fewshot.sh, base2new.sh, cross_dataset.sh and the MVLPT recipe scripts (2 seeds each).

The trees are built here the way the engine writes them: ``run.json`` from :func:`write_run_info` on a
merged config, ``results.json`` as ``Trainer.test()`` writes it, a ``log.txt``.
"""
import json
import os

import pytest

from mvlpt.config import get_cfg_default, merge_from_file, merge_from_list
from mvlpt.results import collect
from mvlpt.results.cli import main as results_main
from mvlpt.results.cli import render
from mvlpt.results.tables import harmonic
from mvlpt.runinfo import method_of, read_run_info, write_run_info

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def engine_run(out, trainer, task, seed, acc, shots=16, opts=(), config="", eval_only=False, model_dir="",
               protocol="", monkeypatch=None):
    """One finished engine run folder (run.json, results.json, log.txt) as `python -m mvlpt` leaves it."""
    cfg = get_cfg_default()
    if config:
        merge_from_file(cfg, os.path.join(REPO, config))
    merge_from_list(cfg, ["TRAINER.NAME", trainer, "DATASET.NAME", task, "DATASET.NUM_SHOTS", str(shots),
                          "SEED", str(seed), "OUTPUT_DIR", out, *opts])
    if protocol:
        monkeypatch.setenv("MVLPT_PROTOCOL", protocol)
    else:
        monkeypatch.delenv("MVLPT_PROTOCOL", raising=False)
    write_run_info(cfg, out, extra={"config_file": config, "eval_only": eval_only, "model_dir": model_dir})
    res = {"split": "test", "epoch": cfg.OPTIM.MAX_EPOCH, "accuracy": acc, "error_rate": 100 - acc, "macro_f1": acc}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f)
    with open(os.path.join(out, "log.txt"), "w") as f:
        f.write(f"Evaluate on the *test* set\n=> result\n* accuracy: {acc}%\n")
    return out


def test_run_json_keys_and_method(tmp_path, monkeypatch):
    monkeypatch.delenv("MVLPT_PROTOCOL", raising=False)
    d = engine_run(str(tmp_path / "r"), "CoOp", "OxfordPets", 1, 90.0, config="configs/trainers/CoOp/vit_b16.yaml",
                   monkeypatch=monkeypatch)
    info = read_run_info(d)
    for k in ("method", "trainer", "tasks", "shots", "protocol", "seed", "split", "subsample_classes", "backbone",
              "config_file", "model_selection"):
        assert k in info, k
    assert (info["method"], info["tasks"], info["shots"], info["seed"], info["protocol"]) == \
        ("CoOp", ["OxfordPets"], 16, 1, "fewshot")
    assert info["model_selection"] == "last_step" and info["config_file"].endswith("CoOp/vit_b16.yaml")
    cfg = get_cfg_default()
    merge_from_list(cfg, ["TRAINER.NAME", "MVLPT", "TRAINER.MVLPT.COOP.N_CTX", "4", "TRAINER.MVLPT.VPT.N_CTX", "4"])
    assert method_of(cfg) == "UPT"
    merge_from_list(cfg, ["TRAINER.MVLPT.COOP.N_CTX", "0"])
    assert method_of(cfg) == "VPT"
    # an eval-only run records what it was trained on and becomes a transfer protocol
    e = engine_run(str(tmp_path / "e"), "CoOp", "ImageNetV2", 1, 60.0, eval_only=True, model_dir=d,
                   monkeypatch=monkeypatch)
    assert read_run_info(e)["source_tasks"] == ["OxfordPets"] and read_run_info(e)["protocol"] == "dg"
    # the recipe runner's spellings are read too; keys it wrote survive a later write
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump({"datasets": ["a", "b"], "final_model": "best_val", "label": "MCoOp"}, f)
    assert read_run_info(d)["tasks"] == ["a", "b"] and read_run_info(d)["model_selection"] == "best_val"
    engine_run(d, "CoOp", "OxfordPets", 1, 90.0, monkeypatch=monkeypatch)
    assert read_run_info(d)["label"] == "MCoOp" and read_run_info(d)["tasks"] == ["OxfordPets"]


def test_fewshot_tree(tmp_path, monkeypatch):
    """scripts/protocols/fewshot.sh: OUT/protocols/fewshot/<M>/shots<K>/<D>/seed<S>."""
    o = tmp_path / "protocols" / "fewshot" / "CoOp"
    accs = {("OxfordPets", 1): 80.0, ("OxfordPets", 2): 82.0, ("EuroSAT", 1): 60.0, ("EuroSAT", 2): 70.0}
    for K in (1, 16):
        for (d, s), a in accs.items():
            engine_run(str(o / f"shots{K}" / d / f"seed{s}"), "CoOp", d, s, a + K, shots=K,
                       config="configs/trainers/CoOp/vit_b16.yaml", protocol="fewshot", monkeypatch=monkeypatch)
    recs = collect(str(o))
    assert {r["task"] for r in recs} == {"OxfordPets", "EuroSAT"}          # never "seed1"
    md, csv_text = render(recs)
    assert "| task | CoOp (1-shot) | CoOp (16-shot) |" in md
    assert "mean ± std over 2 seeds" in md and "(n=" not in md               # n stated once
    assert "| OxfordPets | 82.0 ± 1.4 | 97.0 ± 1.4 |" in md
    # Average: per seed (seed1: (81+61)/2 = 71, seed2: (83+71)/2 = 77) -> 74.0 ± 4.2
    assert "| **Average** | 74.0 ± 4.2 |" in md
    assert "model selection: last_step" in md and "best-val" not in md and "last epoch (the model" not in md
    assert "Few-shot" in md and "OxfordPets,CoOp (1-shot),best,82.0000,1.4142,2,1:81.0000;2:83.0000" in csv_text


def test_base2new_tree(tmp_path, monkeypatch):
    """scripts/protocols/base2new.sh: train_base/<D>/seed<S> (base test) and test_new/<D>/seed<S>."""
    o = tmp_path / "protocols" / "base2new" / "CoCoOp"
    cfgf = "configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml"
    vals = {"OxfordPets": ((95.0, 96.0), (97.0, 98.0)), "EuroSAT": ((85.0, 87.0), (60.0, 64.0))}
    for d, (base, new) in vals.items():
        for s in (1, 2):
            tb = engine_run(str(o / "train_base" / d / f"seed{s}"), "CoCoOp", d, s, base[s - 1], config=cfgf,
                            opts=("DATASET.SUBSAMPLE_CLASSES", "base"), monkeypatch=monkeypatch)
            engine_run(str(o / "test_new" / d / f"seed{s}"), "CoCoOp", d, s, new[s - 1], config=cfgf,
                       opts=("DATASET.SUBSAMPLE_CLASSES", "new"), eval_only=True, model_dir=tb, monkeypatch=monkeypatch)
    md, csv_text = render(collect(str(o)))
    assert "| task | CoCoOp base | CoCoOp new | CoCoOp H |" in md
    assert f"| EuroSAT | 86.0 ± 1.4 | 62.0 ± 2.8 | {harmonic(86.0, 62.0):.1f} |" in md
    # Average row: per-seed averages (base 90, 91.5; new 78.5, 81); H of the average base and average new
    assert f"| **Average** | 90.8 ± 1.1 | 79.8 ± 1.8 | {harmonic(90.75, 79.75):.1f} |" in md
    assert "over 2 seeds" in md and "base2new:H" in csv_text


def test_cross_dataset_and_dg_tree(tmp_path, monkeypatch):
    """scripts/protocols/cross_dataset.sh: train/ImageNet/seed<S>, eval/<D>/seed<S>; two tables."""
    o = tmp_path / "protocols" / "xd" / "MaPLe"
    cfgf = "configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml"
    for s in (1, 2):
        src = engine_run(str(o / "train" / "ImageNet" / f"seed{s}"), "MaPLe", "ImageNet", s, 70.0 + s, config=cfgf,
                         protocol="xd_source", monkeypatch=monkeypatch)
        for d, a in (("OxfordPets", 90.0), ("EuroSAT", 48.0), ("ImageNetV2", 64.0), ("ImageNetSketch", 49.0)):
            engine_run(str(o / "eval" / d / f"seed{s}"), "MaPLe", d, s, a + s, shots=-1, config=cfgf,
                       eval_only=True, model_dir=src, monkeypatch=monkeypatch)
    md, _ = render(collect(str(o)))
    xd, dg = md.split("## Domain generalisation")
    assert "Cross-dataset" in xd and "| ImageNet (source) | 71.5 ± 0.7 |" in xd
    assert "| OxfordPets | 91.5 ± 0.7 |" in xd and "ImageNetV2" not in xd
    assert "| **Average** | 70.5 ± 0.7 |" in xd                               # (91.5 + 49.5) / 2: source excluded
    assert "| ImageNet (source) | 71.5 ± 0.7 |" in dg and "| **Average** | 58.0 ± 0.7 |" in dg
    assert "OxfordPets" not in dg


def _recipe_run(d, tasks, seed, best, last, label, group="", method="CoOp", selection="best_val"):
    os.makedirs(d, exist_ok=True)
    meta = {"datasets": tasks, "method": method, "seed": seed, "init_from": "", "final_model": selection,
            "epochs": 2, "label": label}
    if group:
        meta["group"] = group
    for name, which, res in (("results_best.json", "best", best), ("results_last.json", "last", last)):
        with open(os.path.join(d, name), "w") as f:
            json.dump({"which": which, **meta, **res}, f)
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(meta, f)


def test_mvlpt_recipe_tree(tmp_path):
    """scripts/mvlpt/*.sh (mvlpt.multitask): target/<label>/<task|group>/seed<S> with the runner's files."""
    o = str(tmp_path / "target")
    for s in (1, 2):
        for t, a in (("dtd", 50.0), ("mnist", 80.0)):
            _recipe_run(f"{o}/MCoOp/{t}/seed{s}", [t], s, {"accuracy": a + s}, {"accuracy": a}, "MCoOp")
            _recipe_run(f"{o}/CoOp/{t}/seed{s}", [t], s, {"accuracy": a - 5 + s}, {"accuracy": a - 5}, "CoOp")
        # top-k groups: each named after its target, the other task is a helper
        _recipe_run(f"{o}/MCoOp-group/dtd/seed{s}", ["dtd", "mnist"], s,
                    {"accuracy": 0, "task/dtd": 60.0 + s, "task/mnist": 10.0}, {"task/dtd": 55.0, "task/mnist": 1.0},
                    "MCoOp-group", group="dtd")
        _recipe_run(f"{o}/MCoOp-group/mnist+top1/seed{s}", ["mnist", "dtd"], s,
                    {"accuracy": 0, "task/mnist": 90.0 + s, "task/dtd": 11.0}, {"task/mnist": 85.0, "task/dtd": 2.0},
                    "MCoOp-group", group="mnist+top1")
        # a transferability pair run must not become a column
        _recipe_run(f"{tmp_path}/transfer/CoOp/pairs_runs/dtd__mnist/seed{s}", ["mnist"], s, {"accuracy": 1.0},
                    {"accuracy": 1.0}, "transfer-CoOp")
    recs = collect(str(tmp_path))
    assert sorted({r["label"] for r in recs}) == ["CoOp", "MCoOp", "MCoOp-group"]
    grp = [r for r in recs if r["label"] == "MCoOp-group"]
    assert sorted((r["task"], r["seed"], r["best"]) for r in grp) == \
        [("dtd", 1, 61.0), ("dtd", 2, 62.0), ("mnist", 1, 91.0), ("mnist", 2, 92.0)]   # helpers left out
    md, _ = render(recs)
    assert "MVLPT recipe" in md and "model selection: best_val" in md and "last epoch" in md
    assert "| dtd | 46.5 ± 0.7 | 51.5 ± 0.7 | 61.5 ± 0.7 |" in md
    assert "| **Average** | 61.5 ± 0.7 | 66.5 ± 0.7 | 76.5 ± 0.7 |" in md and "(n=" not in md
    assert "transfer" not in md
    # overlapping groups with a task as target in both: kept apart, n stays per group
    for s in (1, 2):
        for g in ("g1", "g2"):
            _recipe_run(f"{tmp_path}/ov/{g}/seed{s}", ["dtd", "mnist"], s, {"task/dtd": 1.0 * s, "task/mnist": 2.0},
                        {"task/dtd": 1.0, "task/mnist": 2.0}, "MCoOp-group", group=g)
    labels = {r["label"] for r in collect(str(tmp_path / "ov"))}
    assert labels == {"MCoOp-group [g1]", "MCoOp-group [g2]"}


def test_path_fallback_never_takes_seed_as_task(tmp_path, capsys):
    # official CoOp main.sh layout, no run.json
    d = tmp_path / "output" / "oxford_pets" / "CoOp" / "rn50_16shots" / "nctx16_cscFalse_ctpend" / "seed1"
    d.mkdir(parents=True)
    (d / "log.txt").write_text("Evaluate on the *test* set\n=> result\n* accuracy: 85.0%\n")
    e = tmp_path / "output" / "myexp" / "seed2"
    e.mkdir(parents=True)
    (e / "results.json").write_text(json.dumps({"accuracy": 40.0}))
    recs = {r["path"]: r for r in collect(str(tmp_path / "output"))}
    r = recs[str(d)]
    assert (r["task"], r["seed"], r["shots"], r["identity"]) == ("OxfordPets", 1, 16, "path")
    assert recs[str(e)]["task"] == "myexp" and recs[str(e)]["seed"] == 2
    assert results_main([str(tmp_path / "output")]) == 0
    assert "seed1" not in capsys.readouterr().out


def test_recipe_runs_of_several_shots_stay_apart(tmp_path):
    """scripts/mvlpt/elevater_fewshot.sh for K = 1 and 5 under one root: the runner's run.json has no
    shots; they come from the shots<K> folder and split the column."""
    for K, a in ((1, 40.0), (5, 60.0)):
        for s in (1, 2):
            _recipe_run(f"{tmp_path}/elevater/shots{K}/target/MCoOp/dtd/seed{s}", ["dtd"], s, {"accuracy": a},
                        {"accuracy": a}, "MCoOp")
    md, _ = render(collect(str(tmp_path)))
    assert "| task | MCoOp (1-shot) | MCoOp (5-shot) |" in md and "| dtd | 40.0 ± 0.0 | 60.0 ± 0.0 |" in md

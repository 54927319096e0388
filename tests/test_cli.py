"""CLI: Dassl layout of a real run, eval-only, hand-off, and one-line errors with exit codes."""
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from test_engine_support import REPO, base_args, env, install_standins, make_image_folder

install_standins()

from mvlpt.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_image_folder(str(tmp_path_factory.mktemp("data") / "imgs"), per_class=4)


@pytest.fixture(scope="module")
def coop_run(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "coop")
    rc = main(base_args(data, out, epochs=2, extra=["TRAIN.CHECKPOINT_FREQ", "1"]))
    assert rc == 0
    return out


def _one_line_error(capsys, rc, code, *needles):
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_run_writes_dassl_layout(coop_run):
    out = coop_run
    d = os.path.join(out, "prompt_learner")
    assert sorted(os.listdir(d)) == ["checkpoint", "model.pth.tar-1", "model.pth.tar-2"]
    assert open(os.path.join(d, "checkpoint")).read().strip() == "model.pth.tar-2"
    ck = torch.load(os.path.join(d, "model.pth.tar-2"), weights_only=True)
    for k in ("state_dict", "epoch", "optimizer", "scheduler", "val_result", "rng", "config"):
        assert k in ck
    assert ck["epoch"] == 2 and list(ck["state_dict"]) == ["ctx"]  # prompts only, no frozen CLIP
    assert ck["state_dict"]["ctx"].shape == (4, 512)
    log = open(os.path.join(out, "log.txt")).read()
    assert "Setting fixed seed: 0" in log and re.search(r"epoch \[2/2\] batch \[\d+/\d+\]", log)
    assert "* accuracy" in log
    tb = os.listdir(os.path.join(out, "tensorboard"))
    assert any(f.startswith("events.out.tfevents") for f in tb)
    res = json.load(open(os.path.join(out, "results.json")))
    assert 0 <= res["accuracy"] <= 100 and "macro_f1" in res and "mean_per_class_accuracy" in res
    assert not [f for f in os.listdir(d) if f.endswith(".tmp")]


def test_rerun_finished_run_resumes_and_only_tests(coop_run, capsys):
    before = json.load(open(os.path.join(coop_run, "results.json")))
    assert main(base_args(os.path.dirname(coop_run) and _data_of(coop_run), coop_run, epochs=2,
                          extra=["TRAIN.CHECKPOINT_FREQ", "1"])) == 0
    out = capsys.readouterr().out
    assert "Resumed prompt_learner" in out and "epoch [" not in out
    assert json.load(open(os.path.join(coop_run, "results.json"))) == before


def _data_of(run_dir):
    ck = torch.load(os.path.join(run_dir, "prompt_learner", "checkpoint").replace("checkpoint", "model.pth.tar-2"),
                    weights_only=True)
    for line in ck["config"].splitlines():
        if line.strip().startswith("ROOT:") and "/imgs" in line:
            return line.split("ROOT:", 1)[1].strip()
    raise AssertionError("dataset root not in config")


def test_eval_only_loads_epoch(coop_run, data, tmp_path, capsys):
    out = str(tmp_path / "eval")
    rc = main(["--eval-only", "--model-dir", coop_run, "--load-epoch", "2"] + base_args(data, out))
    assert rc == 0
    res = json.load(open(os.path.join(out, "results.json")))
    assert res["accuracy"] == json.load(open(os.path.join(coop_run, "results.json")))["accuracy"]
    assert "model.pth.tar-2" in capsys.readouterr().out


def test_model_dir_initialises_prompts_before_training(coop_run, data, tmp_path, capsys):
    out = str(tmp_path / "handoff")
    rc = main(["--model-dir", coop_run, "--load-epoch", "2", "--no-train"] + base_args(data, out, epochs=1))
    assert rc == 0
    assert "Initialised prompt_learner from" in capsys.readouterr().out


def test_seed_zero_is_a_seed(data, tmp_path, capsys):
    out = str(tmp_path / "s0")
    assert main(["--no-train"] + base_args(data, out, epochs=1)) == 0
    assert "Setting fixed seed: 0" in capsys.readouterr().out


# ---------------------------------------------------------------- bad input
def test_unknown_trainer(data, tmp_path, capsys):
    out = str(tmp_path / "o")
    rc = main(base_args(data, out, trainer="CoOpp"))
    _one_line_error(capsys, rc, 2, 'unknown trainer "CoOpp"', "did you mean 'CoOp'")
    assert not os.path.exists(out)


def test_unknown_dataset(data, tmp_path, capsys):
    out = str(tmp_path / "o")
    rc = main(base_args(data, out, extra=["DATASET.NAME", "Foldr"]))
    _one_line_error(capsys, rc, 2, "Foldr", "did you mean")
    assert not os.path.exists(out)


def test_unknown_backbone(data, tmp_path, capsys):
    out = str(tmp_path / "o")
    rc = main(_with_backbone(base_args(data, out), "ViT-B/61"))
    _one_line_error(capsys, rc, 2, "ViT-B/61")
    assert not os.path.exists(out)


def test_missing_config_file(data, tmp_path, capsys):
    out = str(tmp_path / "o")
    rc = main(["--config-file", str(tmp_path / "missing.yaml")] + base_args(data, out))
    _one_line_error(capsys, rc, 2, "config file not found", "missing.yaml")
    assert not os.path.exists(out)


def test_yaml_syntax_error(data, tmp_path, capsys):
    p = tmp_path / "broken.yaml"
    p.write_text("OPTIM:\n  NAME: sgd\n   LR: 0.1\n")
    rc = main(["--config-file", str(p)] + base_args(data, str(tmp_path / "o")))
    _one_line_error(capsys, rc, 2, "YAML syntax error", "broken.yaml", "line")


def _with_backbone(args, name):
    args = list(args)
    args[args.index("--backbone") + 1] = name
    return args


def test_flag_after_options_is_explained(data, tmp_path, capsys):
    rc = main(base_args(data, str(tmp_path / "o")) + ["--eval-only"])
    _one_line_error(capsys, rc, 2, "--eval-only", "before")


def test_unknown_config_key(data, tmp_path, capsys):
    rc = main(base_args(data, str(tmp_path / "o"), extra=["OPTIM.MAX_EPOHC", "2"]))
    _one_line_error(capsys, rc, 2, "unknown config key OPTIM.MAX_EPOHC", "did you mean OPTIM.MAX_EPOCH")


def test_bad_flag_is_one_line(capsys):
    rc = main(["--no-such-flag"])
    _one_line_error(capsys, rc, 2, "unrecognized arguments")


def test_checkpoint_of_another_method(coop_run, data, tmp_path, capsys):
    out = str(tmp_path / "o")
    rc = main(["--eval-only", "--model-dir", coop_run]
              + base_args(data, out, trainer="CoCoOp", extra=["TRAINER.COCOOP.N_CTX", "4",
                                                             "TRAINER.COCOOP.PREC", "fp32"]))
    _one_line_error(capsys, rc, 2, "written by trainer CoOp", "CoCoOp")
    assert not os.path.exists(out)


def test_checkpoint_of_another_shape(coop_run, data, tmp_path, capsys):
    out = str(tmp_path / "o")
    rc = main(["--eval-only", "--model-dir", coop_run] + base_args(data, out, extra=["TRAINER.COOP.N_CTX", "8"]))
    _one_line_error(capsys, rc, 2, "does not fit", "ctx")
    assert not os.path.exists(out)


def test_nan_loss_stops_with_code_3_and_keeps_checkpoint(data, tmp_path, capsys):
    out = str(tmp_path / "nan")
    rc = main(base_args(data, out, epochs=2, extra=["OPTIM.LR", "1e30"]))
    line = _one_line_error(capsys, rc, 3, "diverged", "epoch 2/2", "model.pth.tar-1")
    assert "step" in line
    d = os.path.join(out, "prompt_learner")
    assert sorted(os.listdir(d)) == ["checkpoint", "model.pth.tar-1"]
    ck = torch.load(os.path.join(d, "model.pth.tar-1"), weights_only=True)
    assert torch.isfinite(ck["state_dict"]["ctx"]).all()
    assert "Traceback" in open(os.path.join(out, "log.txt")).read()


def test_debug_shows_traceback(data, tmp_path, capsys):
    rc = main(["--debug"] + base_args(data, str(tmp_path / "o"), trainer="Nope"))
    assert rc == 2 and "Traceback" in capsys.readouterr().err


def test_python_dash_m_and_train_py_help():
    for cmd in ([sys.executable, "-m", "mvlpt", "--help"], [sys.executable, os.path.join(REPO, "train.py"), "--help"]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=REPO)
        assert r.returncode == 0 and "--dataset-config-file" in r.stdout and "exit codes" in r.stdout

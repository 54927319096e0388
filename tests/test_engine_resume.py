"""kill -9 mid-epoch, rerun the same command: final prompts, optimizer and metrics equal bit for bit."""
import json
import os
import re
import signal
import subprocess
import sys

import torch

from test_engine_support import REPO, base_args, env, make_image_folder

EPOCHS = 3


def _cmd(data, out):
    return [sys.executable, "-u", os.path.join(REPO, "train.py")] + base_args(
        data, out, epochs=EPOCHS, extra=["TRAIN.CHECKPOINT_FREQ", "0"])


def _final(out):
    d = os.path.join(out, "prompt_learner")
    ck = torch.load(os.path.join(d, f"model.pth.tar-{EPOCHS}"), weights_only=True)
    return ck, json.load(open(os.path.join(out, "results.json"))), sorted(os.listdir(d))


def test_kill9_mid_epoch_then_rerun_is_bit_identical(tmp_path):
    data = make_image_folder(str(tmp_path / "imgs"), per_class=5)
    ref, cut = str(tmp_path / "ref"), str(tmp_path / "cut")
    r = subprocess.run(_cmd(data, ref), capture_output=True, text=True, env=env(), cwd=REPO)
    assert r.returncode == 0, r.stderr

    # interrupted run: SIGKILL as soon as epoch 2 has done one batch (its checkpoint is epoch 1)
    p = subprocess.Popen(_cmd(data, cut), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=env(), cwd=REPO)
    killed = False
    for line in p.stdout:
        if re.match(r"epoch \[2/3\] batch \[1/", line):
            os.kill(p.pid, signal.SIGKILL)
            killed = True
            break
    p.wait()  # SIGKILLed above: returns at once
    p.stdout.close()
    assert killed and p.returncode == -signal.SIGKILL
    d = os.path.join(cut, "prompt_learner")
    assert open(os.path.join(d, "checkpoint")).read().strip() == "model.pth.tar-1"
    assert not os.path.exists(os.path.join(cut, "results.json"))

    r = subprocess.run(_cmd(data, cut), capture_output=True, text=True, env=env(), cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "Resumed prompt_learner" in r.stdout and "epoch [1/3]" not in r.stdout

    ck_ref, res_ref, files_ref = _final(ref)
    ck_cut, res_cut, files_cut = _final(cut)
    assert files_ref == files_cut == ["checkpoint", f"model.pth.tar-{EPOCHS}"]
    for k, v in ck_ref["state_dict"].items():
        assert torch.equal(v, ck_cut["state_dict"][k]), k
    for (i, a), (j, b) in zip(ck_ref["optimizer"]["state"].items(), ck_cut["optimizer"]["state"].items()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert ck_ref["scheduler"] == ck_cut["scheduler"]
    assert res_ref == res_cut
    # the per-step training losses of the resumed epochs are the same too
    losses = lambda text: re.findall(r"epoch \[3/3\] batch \[\d+/\d+\].*?loss (\S+)", text)  # noqa: E731
    assert losses(open(os.path.join(ref, "log.txt")).read()) == losses(r.stdout)

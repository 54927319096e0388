"""The README's main command (bash scripts/demo.sh) end to end, CoOp only and 2 epochs to stay quick
(sized by epochs, not by a wall-clock limit)."""
import os
import subprocess
import sys

from conftest import REPO


def test_demo_script_writes_results(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, PYTHON=sys.executable, MVLPT_CLIP_WEIGHTS="")  # default: the shipped demo CLIP
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "demo.sh"), str(out), "--methods", "CoOp",
                           "--epochs", "2"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("results.md", "results.csv", "transferability.png", "transferability.csv", "loss_curves.png"):
        assert (out / name).stat().st_size > 0, name
    assert "init from source verified (max |diff| = 0.0, before first step: True)" in proc.stdout
    assert "pre-trained on the demo world" in proc.stdout
    # the per-epoch progress of every run: loss, train accuracy and (targets) validation accuracy
    assert "MCoOp DemoArrows seed1  epoch  2/2  loss " in proc.stdout
    assert "train acc" in proc.stdout and "val acc" in proc.stdout
    table = (out / "results.md").read_text()
    assert "| DemoArrows |" in table and "MCoOp-group" in table and ("(n=2)" in table or "2 seeds" in table)
    assert "RANDOM CLIP WEIGHTS" not in table


def test_demo_random_weights_smoke(tmp_path):
    """MVLPT_CLIP_WEIGHTS=none keeps the random-weight path (shapes only), and says so in the table."""
    out = tmp_path / "demo"
    env = dict(os.environ, PYTHON=sys.executable, MVLPT_CLIP_WEIGHTS="none")
    proc = subprocess.run([sys.executable, "-m", "mvlpt.multitask.demo", str(out), "--methods", "CoOp",
                           "--epochs", "1", "--seeds", "1"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RANDOM CLIP WEIGHTS" in (out / "results.md").read_text()


def test_demo_weights_load_safely():
    """The shipped demo CLIP loads with weights_only, through load_clip(..., "demo"), tiny backbone only."""
    import pytest
    import torch

    from mvlpt.clip import CLIPLoadError, load_clip
    from mvlpt.clip.load import demo_weights_path

    obj = torch.load(demo_weights_path(), map_location="cpu", weights_only=True)
    assert obj["backbone"] == "mvlpt-tiny" and all(v.dtype == torch.float16 for v in obj["state_dict"].values())
    clip = load_clip("mvlpt-tiny", "demo")
    assert clip.pretrained == "demo" and float(clip.model.token_embedding.weight.abs().sum()) > 0
    with pytest.raises(CLIPLoadError, match="mvlpt-tiny"):
        load_clip("ViT-B/32", "demo")

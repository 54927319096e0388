"""Fresh output trees of fewshot.sh and base2new.sh on tiny data (the shipped demo tasks, the tiny test
model): the commands each script prints in DRY_RUN mode are run in this process through the engine's own
command line, then ``mvlpt.results`` tabulates them (rows = tasks, mean ± std over 2 seeds, H)."""
import os
import re
import shlex
import subprocess
import sys

import pytest

from mvlpt.results import collect
from mvlpt.results.cli import render

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ("DATALOADER.NUM_WORKERS 0 DATALOADER.TRAIN_X.BATCH_SIZE 4 DATALOADER.TEST.BATCH_SIZE 50 INPUT.SIZE (32,32) "
        "TRAINER.COOP.PREC fp32 TRAINER.COCOOP.PREC fp32 TEST.PER_CLASS_RESULT False")


def run_script(script, trainer, out, monkeypatch, **env):
    from mvlpt.cli import main
    from mvlpt.data import ensure_demo_data

    e = dict(os.environ, DATA=ensure_demo_data(), OUTPUT=out, DRY_RUN="1", SEEDS="1 2", EPOCHS="1",
             BACKBONE="mvlpt-tiny", WEIGHTS="none", EXTRA_OPTS=TINY, PYTHON=sys.executable, **env)
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", "protocols", script), trainer], capture_output=True,
                       text=True, env=e, cwd=REPO)
    assert r.returncode == 0, r.stderr
    n = 0
    for ln in r.stdout.splitlines():
        argv = shlex.split(ln[2:]) if ln.startswith("+ env ") else []
        if "mvlpt" in argv and argv[argv.index("mvlpt") - 1] == "-m":
            monkeypatch.setenv("MVLPT_PROTOCOL", argv[1].split("=", 1)[1])
            assert main(argv[argv.index("mvlpt") + 1:]) == 0
            n += 1
    return n


def test_fewshot_and_base2new_fresh_trees(tmp_path, monkeypatch):
    out = str(tmp_path / "out")
    assert run_script("fewshot.sh", "CoOp", out, monkeypatch, SHOTS="2", DATASETS="DemoShapes DemoColors") == 4
    md, _ = render(collect(os.path.join(out, "protocols", "fewshot", "CoOp")))
    assert "| task | CoOp |" in md and "mean ± std over 2 seeds" in md
    rows = re.findall(r"^\| (DemoColors|DemoShapes|\*\*Average\*\*) \| (\d+\.\d) ± (\d+\.\d) \|$", md, re.M)
    assert [r[0] for r in rows] == ["DemoColors", "DemoShapes", "**Average**"]

    assert run_script("base2new.sh", "CoCoOp", out, monkeypatch, DATASETS="DemoShapes") == 4
    md, _ = render(collect(os.path.join(out, "protocols", "base2new", "CoCoOp")))
    assert "| task | CoCoOp base | CoCoOp new | CoCoOp H |" in md and "over 2 seeds" in md
    m = re.search(r"^\| DemoShapes \| (\d+\.\d) ± \d+\.\d \| (\d+\.\d) ± \d+\.\d \| (\d+\.\d) \|$", md, re.M)
    b, n, h = map(float, m.groups())
    assert h == pytest.approx(0 if b + n == 0 else 2 * b * n / (b + n), abs=0.11)

"""The README's notebook snippet runs as written; CPU fp16 configs fall back to fp32."""
import os
import re
import types

import torch

from conftest import REPO


def test_readme_notebook_snippet_runs(capsys):
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python snippet"
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    for name in ("CoOp (2, 3)", "VPT (2, 3)", "MaPLe (2, 3) 3,555,072 trainable"):
        assert name in out


def test_cpu_fp16_falls_back_to_fp32():
    from mvlpt.config import get_cfg_default
    from mvlpt.engine.trainer import TrainerX

    cfg = get_cfg_default()
    cfg.TRAINER.COOP.PREC = "fp16"
    logged = []
    fake = types.SimpleNamespace(cfg=cfg, cfg_node="COOP", device=torch.device("cpu"), log=logged.append)
    assert TrainerX.precision.fget(fake) == "fp32" and "fp32 instead" in logged[0]
    fake.device = torch.device("cuda")
    assert TrainerX.precision.fget(fake) == "fp16"
    cfg.TRAINER.COOP.PREC = "bf16"
    fake.device = torch.device("cpu")
    assert TrainerX.precision.fget(fake) == "bf16"

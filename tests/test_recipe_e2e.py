"""source (2 seeds, multitask) -> averaged source prompt -> target (single and grouped): the target's
prompt equals the averaged source prompt before its first step. Tiny: ViT-B/32 random stand-in weights,
1 shot, 1 epoch, demo tasks (no download)."""
import json
import os

import pytest
import torch

from mvlpt.multitask import recipe
from mvlpt.multitask.averaging import load_prompt_checkpoint
from mvlpt.multitask.runner import InitError, RunSpec, run
from mvlpt.multitask.shared import shared_resources

OPTS = ["OPTIM.MAX_EPOCH", "1", "OPTIM.LR", "0.002", "DATALOADER.NUM_WORKERS", "0",
        "INPUT.TRANSFORMS", "('normalize',)", "TRAINER.MVLPT.PREC", "fp32", "TEST.NO_TEST", "True",
        "TEST.FINAL_MODEL", "last_step", "DATALOADER.TRAIN_X.BATCH_SIZE", "16"]


@pytest.fixture(scope="module")
def weights():
    return "none"  # deterministic random stand-in weights (load_clip's init_seed)


def test_source_average_target_init(tmp_path, weights):
    out = str(tmp_path)
    common = recipe.Common(backbone="ViT-B/32", pretrained=weights, shots=1, nctx=2, opts=OPTS, quiet=True)
    with shared_resources():
        src = recipe.source_stage(out, ["DemoShapes", "DemoArrows"], "CoOp", [1, 2], common)
        # the averaged prompt is the element-wise mean of the two seeds'
        s1 = load_prompt_checkpoint(os.path.join(out, "source", "CoOp", "seed1"))[1]["state_dict"]["ctx"]
        s2 = load_prompt_checkpoint(os.path.join(out, "source", "CoOp", "seed2"))[1]["state_dict"]["ctx"]
        _, avg = load_prompt_checkpoint(src)
        assert not torch.equal(s1, s2)
        assert torch.allclose(avg["state_dict"]["ctx"], (s1 + s2) / 2)

        single = recipe.target_single(out, "DemoTextures", "CoOp", 1, common, source=src)
        groups = recipe.target_groups(out, {"g": ["DemoTextures", "DemoColors"]}, "CoOp", 1, common, source=src)
        base = recipe.baseline(out, "DemoTextures", "CoOp", 1, common)

    for res in (single, groups["g"]):
        chk = res["init_check"]
        assert chk["equal"] and chk["max_abs_diff"] == 0.0 and chk["keys"] == ["ctx"]
        assert chk["before_first_step"] is True  # re-checked by a hook right before the first step
        assert chk["source"].startswith(src)
        on_disk = json.load(open(os.path.join(res["output_dir"], "init_check.json")))
        assert on_disk["equal"] and on_disk["before_first_step"] is True
        # and training then moved away from the source prompt
        trained = load_prompt_checkpoint(res["output_dir"])[1]["state_dict"]["ctx"]
        assert not torch.equal(trained, avg["state_dict"]["ctx"])
    assert base.get("init_check") is None
    # a finished run is skipped on rerun
    assert recipe.target_single(out, "DemoTextures", "CoOp", 1, common, source=src)["status"] == "skipped"


def test_init_mismatch_is_an_error(tmp_path, weights):
    """A source prompt that cannot be loaded (another method) fails loudly instead of training from scratch."""
    d = tmp_path / "fake" / "prompt_learner"
    d.mkdir(parents=True)
    torch.save({"state_dict": {"vpt_tokens": torch.zeros(3, 768)}, "epoch": 1, "trainer": "MVLPT"},
               str(d / "model.pth.tar-1"))
    (d / "checkpoint").write_text("model.pth.tar-1\n")
    spec = RunSpec(str(tmp_path / "t"), ["DemoArrows"], "CoOp", seed=1, nctx=2, backbone="ViT-B/32",
                   pretrained=weights, shots=1, opts=OPTS, init_from=str(tmp_path / "fake"))
    with shared_resources(), pytest.raises(Exception) as e:
        run(spec, quiet=True)
    assert isinstance(e.value, InitError) or "fit" in str(e.value) or "unexpected" in str(e.value)
    assert not os.path.isfile(str(tmp_path / "t" / "DONE"))

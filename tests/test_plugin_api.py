"""The plug-in API: a new method defined in this one file (learner + decorator + an extra loss term)
trains through the command-line entry point (``train.py``'s ``main``), logs its term, and goes through
the MVLPT recipe's source -> averaged source -> target hand-off; MaPLe runs the recipe too (MMaPLe).
Tiny: ViT-B/32 random stand-in weights, 1 shot, 1 epoch."""
import json
import os
import re

import pytest
import torch

from mvlpt.prompts import CoOp, register_method
from test_engine_support import base_args, install_standins, make_image_folder

install_standins()


# ---------------------------------------------------------------- the new method: one class, one decorator
@register_method("CoOpNorm", cfg_node="COOPNORM", prec="fp32")
class CoOpNorm(CoOp):
    """CoOp whose context vectors are pulled towards norm 1: ``loss = CE + weight · mean((‖ctx_i‖ − 1)²)``."""

    def __init__(self, clip, classnames, weight: float = 0.5, **kw):
        super().__init__(clip, classnames, **kw)
        self.weight = weight

    def forward_train(self, images=None, image_features=None, labels=None):
        logits = self(images, image_features=image_features)
        norm = (self.ctx.float().norm(dim=-1) - 1).pow(2).mean()
        return logits, {"norm": self.weight * norm}


@register_method("FrozenCache", cfg_node="FROZENCACHE", prec="fp32")
class FrozenCache(CoOp):
    """A method whose state cannot move between tasks."""

    transferable = False


OPTS = ["OPTIM.MAX_EPOCH", "1", "OPTIM.LR", "0.002", "DATALOADER.NUM_WORKERS", "0",
        "INPUT.TRANSFORMS", "('normalize',)", "TEST.NO_TEST", "True", "TEST.FINAL_MODEL", "last_step",
        "DATALOADER.TRAIN_X.BATCH_SIZE", "16"]


def test_registration_is_everything(tmp_path):
    from mvlpt.config import get_cfg_default
    from mvlpt.prompts import LEARNERS, METHODS
    from mvlpt.registry import TRAINER_REGISTRY

    spec = METHODS["CoOpNorm"]
    assert spec.learner is CoOpNorm and LEARNERS["CoOpNorm"] is CoOpNorm
    cfg = get_cfg_default()
    assert cfg.TRAINER.COOPNORM.WEIGHT == 0.5 and cfg.TRAINER.COOPNORM.N_CTX == 16  # CoOp's, inherited
    assert cfg.TRAINER.COOPNORM.PREC == "fp32"
    assert "CoOpNorm" in TRAINER_REGISTRY and "CoOpNorm" in TRAINER_REGISTRY.registered_names()


def test_trains_through_the_cli_and_logs_its_term(tmp_path, capsys):
    from mvlpt.cli import main

    data = make_image_folder(str(tmp_path / "imgs"), per_class=4)
    out = str(tmp_path / "run")
    rc = main(base_args(data, out, trainer="CoOpNorm", epochs=1,
                        extra=["TRAINER.COOPNORM.N_CTX", "4", "TRAINER.COOPNORM.WEIGHT", "2.0"]))
    assert rc == 0, capsys.readouterr().err
    log = open(os.path.join(out, "log.txt")).read()
    m = re.search(r"loss (\S+) \(\S+\) acc \S+ \(\S+\) loss_ce (\S+) \(\S+\) loss_norm (\S+) ", log)
    assert m, log[-2000:]
    total, ce, norm = map(float, m.groups())
    assert norm > 0 and total == pytest.approx(ce + norm, abs=2e-4)
    ck = torch.load(os.path.join(out, "prompt_learner", "model.pth.tar-1"), weights_only=True)
    assert ck["trainer"] == "CoOpNorm" and ck["learner"] == "CoOpNorm" and list(ck["state_dict"]) == ["ctx"]
    tags = open(next(os.path.join(out, "tensorboard", f) for f in os.listdir(os.path.join(out, "tensorboard"))),
                "rb").read()
    assert b"train/loss_norm" in tags and b"train/loss_ce" in tags


def _common(nctx):
    from mvlpt.multitask import recipe

    return recipe.Common(backbone="ViT-B/32", pretrained="none", shots=1, nctx=nctx, opts=OPTS, quiet=True)


@pytest.mark.parametrize("method,nctx,seeds", [("CoOpNorm", 2, [1]), ("MaPLe", 2, [1, 2])])
def test_recipe_source_to_target(tmp_path, method, nctx, seeds):
    """Source (multitask, averaged over seeds) -> target: the target's prompt equals the averaged source
    prompt right before its first step, for a plug-in method and for MaPLe (MMaPLe)."""
    from mvlpt.multitask import recipe
    from mvlpt.multitask.averaging import load_prompt_checkpoint
    from mvlpt.multitask.shared import shared_resources

    out = str(tmp_path)
    common = _common(nctx)
    with shared_resources():
        src = recipe.source_stage(out, ["DemoShapes", "DemoArrows"], method, seeds, common)
        _, avg = load_prompt_checkpoint(src)
        per_seed = [load_prompt_checkpoint(os.path.join(out, "source", method, f"seed{s}"))[1]["state_dict"]
                    for s in seeds]
        for k, v in avg["state_dict"].items():  # the source prompt is the mean of the seeds'
            assert torch.allclose(v, sum(sd[k] for sd in per_seed) / len(per_seed))
        res = recipe.target_single(out, "DemoTextures", "M" + method, 1, common, source=src)
    assert recipe.multitask_name(method) == "M" + method
    chk = res["init_check"]
    assert chk["equal"] and chk["max_abs_diff"] == 0.0 and chk["before_first_step"] is True
    assert chk["keys"] == sorted(avg["state_dict"]) and chk["n_checked"] == chk["n_trainable"]
    run = json.load(open(os.path.join(res["output_dir"], "run.json")))
    assert run["method"] == method and res["output_dir"].endswith(os.path.join("M" + method, "DemoTextures", "seed1"))
    trained = load_prompt_checkpoint(res["output_dir"])[1]["state_dict"]
    assert any(not torch.equal(trained[k], avg["state_dict"][k]) for k in trained)  # and then it trained


def test_non_transferable_method_is_one_line():
    from mvlpt.errors import ConfigError
    from mvlpt.multitask.recipe import canonical_method

    with pytest.raises(ConfigError, match="FrozenCache cannot be an MVLPT source or target") as e:
        canonical_method("MFrozenCache")
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="unknown method"):
        canonical_method("NoSuchMethod")


def test_non_transferable_method_runs_as_a_baseline(tmp_path, capsys):
    """Tip-Adapter (transferable = False) is a plain single-task baseline run (no source); as a source,
    a target from a source, or M<name> it is one line; the demo runs it next to a transferable method
    and refuses a list of baselines only, with one line and exit 2, before anything runs."""
    from mvlpt.errors import ConfigError
    from mvlpt.multitask import demo, recipe
    from mvlpt.multitask.runner import RunSpec

    argv = RunSpec(str(tmp_path / "b"), ["DemoColors"], method="TipAdapter").argv()
    assert argv[argv.index("--trainer") + 1] == "TipAdapter"
    assert recipe.is_transferable("CoOp") and not recipe.is_transferable("TipAdapter")
    with pytest.raises(ConfigError, match="cannot be an MVLPT source or target"):
        RunSpec(str(tmp_path / "t"), ["DemoColors"], method="TipAdapter", init_from=str(tmp_path)).argv()
    with pytest.raises(ConfigError, match="cannot be an MVLPT source or target"):
        recipe.canonical_method("MTipAdapter", transfer=False)
    assert demo.main([str(tmp_path / "demo"), "--methods", "TipAdapter,TipAdapterF"]) == 2
    err = capsys.readouterr()
    assert err.err.strip().splitlines() == ["mvlpt demo: error: --methods needs at least one transferable method "
                                            "(e.g. CoOp); TipAdapter, TipAdapterF can only run as baselines next to one"]
    assert "[demo]" not in err.out and not (tmp_path / "demo").exists()


def test_docs_example(tmp_path, monkeypatch):
    """docs/ADDING_A_METHOD.md's example file, as written there: registers, has its config node, adds
    its term, and keeps its anchor through procedure state."""
    import importlib.util

    from mvlpt.clip import load_clip
    from mvlpt.config import get_cfg_default
    from mvlpt.prompts import METHODS, build_learner

    doc = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                            "ADDING_A_METHOD.md"), encoding="utf-8").read()
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "coop_anchor.py"
    path.write_text(code)
    if "CoOpAnchor" not in METHODS:
        spec = importlib.util.spec_from_file_location("coop_anchor", str(path))
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    cfg = get_cfg_default()
    assert cfg.TRAINER.COOPANCHOR.WEIGHT == 1.0 and cfg.TRAINER.COOPANCHOR.PREC == "fp32"
    clip = load_clip("ViT-B/32", pretrained="none")
    learner = build_learner("CoOpAnchor", clip, ["cat", "dog"], n_ctx=2)
    learner.on_train_begin()
    with torch.no_grad():
        learner.ctx.add_(0.1)
    logits, terms = learner.forward_train(image_features=torch.randn(3, 512))
    assert logits.shape == (3, 2) and float(terms["anchor"].detach()) == pytest.approx(0.01, rel=1e-4)
    state = learner.procedure_state()
    other = build_learner("CoOpAnchor", clip, ["cat", "dog"], n_ctx=2)
    other.load_procedure_state(state)
    assert torch.equal(other.anchor, learner.anchor)


@register_method("GradFreeze", cfg_node="GRADFREEZE", prec="fp32")
class GradFreeze(CoOp):
    """Test method: zeroes its gradients (a gradient transform) and counts the procedure points."""

    def __init__(self, clip, classnames, **kw):
        super().__init__(clip, classnames, **kw)
        self.calls = {"transform": 0, "epoch_end": 0}

    def transform_gradients(self):
        self.calls["transform"] += 1
        self.ctx.grad.zero_()

    def on_epoch_end(self, epoch, max_epoch):
        self.calls["epoch_end"] += 1

    def procedure_state(self):
        return {"calls": dict(self.calls)}

    def load_procedure_state(self, state):
        self.calls = dict(state["calls"])


def _cfg(data, out, *extra):
    from mvlpt.launch import build_parser, setup_cfg

    args = base_args(data, out, trainer="GradFreeze", epochs=1,
                     extra=["TRAINER.GRADFREEZE.N_CTX", "4", "OPTIM.WEIGHT_DECAY", "0.0",
                            "INPUT.TRANSFORMS", "['normalize']", *extra])
    return setup_cfg(build_parser().parse_args(args))[0]


def test_engine_calls_the_plug_in_points(tmp_path):
    """transform_gradients before the step (and before after_backward hooks), procedure state through a
    checkpoint, model_inference on the cached evaluation path, TEST.COMPUTE_CMAT, rejected no-op keys."""
    from mvlpt.engine import ClipProvider, HookBase, TrainerX
    from mvlpt.errors import ConfigError

    data = make_image_folder(str(tmp_path / "imgs"), per_class=4)
    provider = ClipProvider(share=True)  # one CLIP for every trainer of this test

    class Seen(TrainerX):
        def model_inference(self, input=None, image_features=None):
            self.seen.append("features" if image_features is not None else "images")
            return super().model_inference(input, image_features=image_features)

    class DasslStyle(TrainerX):
        def model_inference(self, input):  # Dassl's signature: must still be called (no cache)
            self.seen.append("images")
            return self.learner(input)

    class GradSpy(HookBase):
        def after_backward(self):
            self.grad = self.trainer.learner.ctx.grad.clone()

    t = Seen(_cfg(data, str(tmp_path / "a"), "TEST.COMPUTE_CMAT", "True"), clip_provider=provider)
    spy = GradSpy()
    t.register_hooks([spy])
    t.seen = []
    before = t.learner.ctx.detach().clone()
    t.set_model_mode("train")
    t.forward_backward(next(iter(t.train_loader_x)))
    assert t.learner.calls["transform"] == 1 and torch.equal(spy.grad, torch.zeros_like(spy.grad))
    assert torch.equal(t.learner.ctx.detach(), before)  # the zeroed gradient is what the optimizer applied
    t.test()
    assert t.seen and set(t.seen) == {"features"} and os.path.isfile(os.path.join(t.output_dir, "cmat.pt"))
    cmat = torch.load(os.path.join(t.output_dir, "cmat.pt"), weights_only=True)["cmat"]
    assert cmat.shape == (3, 3) and torch.allclose(cmat.sum(1), torch.ones(3))

    t.learner.calls["epoch_end"] = 7
    t.save_model(0, t.output_dir)
    t.learner.calls["epoch_end"] = 0
    assert t.resume_model_if_exist(t.output_dir) == 1 and t.learner.calls["epoch_end"] == 7

    d = DasslStyle(_cfg(data, str(tmp_path / "b")), clip_provider=provider)
    d.seen = []
    d.test()
    assert d.seen and set(d.seen) == {"images"}

    for key, value in (("OPTIM.STAGED_LR", "True"), ("MODEL.HEAD.NAME", "mlp")):
        with pytest.raises(ConfigError, match=key.split(".")[-2] + r"\." + key.split(".")[-1]):
            TrainerX(_cfg(data, str(tmp_path / "c"), key, value), clip_provider=provider)

"""Numeric parity with the official implementations (../shared/parity/ref/*, or $MVLPT_PARITY_REF).

Everything about a configuration is read from its folder: meta.json (method, trainer, backbone,
tolerances), config.yaml (the official config -> our learner kwargs), classnames.json, the
official checkpoint, input.pt/logits.pt and train_step.pt.
"""
import glob
import json
import os

import pytest
import torch
import torch.nn.functional as F
import yaml

from conftest import PARITY_REF
from mvlpt.prompts import build_learner
from mvlpt.prompts.official import learner_from_official_config, prompt_state_from_checkpoint, read_checkpoint

CONFIGS = sorted(d for d in glob.glob(os.path.join(PARITY_REF, "*")) if os.path.isfile(os.path.join(d, "meta.json")))
REPORT = {}


def _load(folder):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    cfg = yaml.safe_load(open(os.path.join(folder, "config.yaml")))
    classnames = json.load(open(os.path.join(folder, "classnames.json")))
    ckpt_path = os.path.join(folder, meta["checkpoints"][0])
    return meta, cfg, classnames, ckpt_path


@pytest.fixture(scope="module", params=CONFIGS, ids=[os.path.basename(c) for c in CONFIGS])
def ref(request, clip_cache):
    folder = request.param
    meta, cfg, classnames, ckpt_path = _load(folder)
    backbone = cfg["MODEL"]["BACKBONE"]["NAME"] if "MODEL" in cfg else meta["backbone"]
    clip = clip_cache(backbone, meta["weights_digest"])
    name, kwargs = learner_from_official_config(meta["trainer"], cfg)
    torch.manual_seed(0)
    learner = build_learner(name, clip, classnames, **kwargs)
    loaded = learner.load_prompt_state(prompt_state_from_checkpoint(read_checkpoint(ckpt_path)))
    return dict(folder=folder, meta=meta, learner=learner, loaded=loaded, ckpt=ckpt_path, classnames=classnames)


def _tol(meta):
    return meta["tolerance"]


def test_trainable_names_and_shapes(ref):
    """Our trainable tensors are exactly the official ones (names mapped, same shapes)."""
    exported = ref["learner"].export_official()
    want = {k.split("prompt_learner.", 1)[-1]: tuple(v) for k, v in ref["meta"]["trainable"].items()}
    got = {k.split("prompt_learner.", 1)[-1]: tuple(v.shape) for k, v in exported.items()}
    assert got == want
    assert ref["learner"].count_parameters() == sum(int(torch.tensor(s).prod()) for s in want.values())


def test_logits(ref):
    learner, folder, tol = ref["learner"], ref["folder"], _tol(ref["meta"])
    x = torch.load(os.path.join(folder, "input.pt"))
    want = torch.load(os.path.join(folder, "logits.pt"))
    learner.eval()
    with torch.no_grad():
        got = learner(x)
    err = (got - want).abs().max().item()
    REPORT.setdefault(os.path.basename(folder), {})["logits"] = err
    print(f"\n{os.path.basename(folder)}: max|logits - ref| = {err:.3e}")
    assert got.shape == want.shape
    assert err <= tol["logits_abs"], err


def test_train_step(ref):
    learner, folder, tol = ref["learner"], ref["folder"], _tol(ref["meta"])
    step = torch.load(os.path.join(folder, "train_step.pt"), weights_only=False)
    learner.train()
    learner.zero_grad(set_to_none=True)
    loss = F.cross_entropy(learner(step["img"]), step["label"])
    loss.backward()
    loss_err = abs(loss.item() - float(step["loss"]))
    grads = {learner.official_prefix + n: p.grad for n, p in learner.trainable_named_parameters()}
    worst = 0.0
    for name, g_ref in step["grads"].items():
        key = name if name in grads else name.split("prompt_learner.", 1)[-1]
        key = key if key in grads else learner.official_prefix + key
        assert key in grads, f"no gradient for {name}"
        g = grads[key]
        assert g is not None, f"{name} got no gradient"
        err = (g - g_ref).abs().max().item()
        bound = tol["grad_abs"] + tol["grad_rel"] * g_ref.abs().max().item()
        worst = max(worst, err / bound)
        assert err <= bound, f"{name}: max err {err:.3e} > {bound:.3e}"
    assert len(step["grads"]) == len(grads)
    REPORT.setdefault(os.path.basename(folder), {}).update(loss=loss_err, grad_ratio=worst)
    print(f"\n{os.path.basename(folder)}: |loss - ref| = {loss_err:.3e}; worst grad err / tolerance = {worst:.3f}")
    assert loss_err <= tol["loss_abs"], loss_err


def test_checkpoint_import_export_roundtrip(ref, tmp_path):
    """The official file loads; our export holds the same tensors under the official names; export → import."""
    learner = ref["learner"]
    official = prompt_state_from_checkpoint(read_checkpoint(ref["ckpt"]))
    exported = learner.export_official()
    for k, v in exported.items():
        key = k if k in official else k.split("prompt_learner.", 1)[-1]
        assert torch.equal(official[key].float(), v.float()), k
    from mvlpt.prompts.official import save_official

    path = tmp_path / ref["learner"].official_model_name / "model.pth.tar-1"
    save_official(learner, str(path))
    ckpt = torch.load(path, weights_only=True)  # ours needs no unpickling
    fresh = type(learner)(learner.clip, ref["classnames"], **_kwargs_of(ref))
    fresh.load_prompt_state(ckpt["state_dict"])
    for (n, a), (_, b) in zip(learner.prompt_state_dict().items(), fresh.prompt_state_dict().items()):
        assert torch.equal(a, b), n


def _kwargs_of(ref):
    meta = ref["meta"]
    cfg = yaml.safe_load(open(os.path.join(ref["folder"], "config.yaml")))
    return learner_from_official_config(meta["trainer"], cfg)[1]

"""Numeric parity of KgCoOp, CLIP-Adapter, Tip-Adapter(-F), PromptSRC, ProGrad with their official code.

One parametrised run per folder of ../shared/parity/ref_more (or $MVLPT_PARITY_REF_MORE), read like
test_parity.py reads ref/: meta.json (trainer, backbone, tolerance), config.yaml (the official config
-> our learner kwargs, through mvlpt.prompts.official), classnames.json, the official checkpoint (or
Tip-Adapter's cache files), input.pt/logits.pt and train_step.pt (loss, every term, applied grads).
The learners are driven as the engine drives them: forward_train -> CE + terms -> backward ->
transform_gradients -> optimizer step. A new folder (e.g. prograd) is picked up automatically.
"""
import glob
import json
import os

import pytest
import torch
import torch.nn.functional as F
import yaml

from conftest import PARITY_REF_MORE
from mvlpt.prompts import build_learner
from mvlpt.prompts.official import learner_from_official_config, prompt_state_from_checkpoint, read_checkpoint

CONFIGS = sorted(d for d in glob.glob(os.path.join(PARITY_REF_MORE, "*")) if os.path.isfile(os.path.join(d, "meta.json")))
REPORT = {}
#: folders whose meta.json has no Dassl trainer (Tip-Adapter is plain functions): the learner to build
TRAINER_OF = {"tip_adapter": "TipAdapterF"}


def _trainer(meta):
    return meta.get("trainer") or TRAINER_OF[meta["method"]]


def _is_tip(meta):
    return _trainer(meta).startswith("TipAdapter")


@pytest.fixture(scope="module", params=CONFIGS, ids=[os.path.basename(c) for c in CONFIGS])
def ref(request, clip_cache):
    folder = request.param
    meta = json.load(open(os.path.join(folder, "meta.json")))
    cfg = yaml.safe_load(open(os.path.join(folder, "config.yaml")))
    classnames = json.load(open(os.path.join(folder, "classnames.json")))
    backbone = (cfg.get("MODEL") or {}).get("BACKBONE", {}).get("NAME") or meta["backbone"]
    clip = clip_cache(backbone, meta["weights_digest"])
    name, kwargs = learner_from_official_config(_trainer(meta), cfg)
    torch.manual_seed(0)
    learner = build_learner(name, clip, classnames, **kwargs)
    if _is_tip(meta):  # the cache before fine-tuning: keys + values (best_F is checked after one step)
        cache = os.path.dirname(os.path.join(folder, meta["checkpoints"][0]))
        loaded = learner.load_official_cache(cache, meta["shots"], fine_tuned=False)
        ckpt = None
    else:
        ckpt = os.path.join(folder, meta["checkpoints"][0])
        loaded = learner.load_prompt_state(prompt_state_from_checkpoint(read_checkpoint(ckpt)))
    return dict(folder=folder, meta=meta, learner=learner, loaded=loaded, ckpt=ckpt, classnames=classnames,
                kwargs=kwargs, name=os.path.basename(folder))


def _official_grads(learner):
    """Our current gradients under the official names (through export_official, so per official tensor)."""
    params = dict(learner.trainable_named_parameters())
    saved = {n: p.detach().clone() for n, p in params.items()}
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(p.grad if p.grad is not None else torch.full_like(p, float("nan")))
        out = {k: v.clone() for k, v in learner.export_official().items()}
        for n, p in params.items():
            p.copy_(saved[n])
    return out


def _lookup(ours, name, learner):
    for key in (name, name.split("prompt_learner.", 1)[-1], *learner._normalise_keys({name: torch.zeros(1)}).keys()):
        if key in ours:
            return ours[key]
        if "prompt_learner." + key in ours:
            return ours["prompt_learner." + key]
    raise AssertionError(f"no tensor of ours for the official {name} (ours: {sorted(ours)})")


def _check_grads(learner, ref_grads, tol):
    ours, worst = _official_grads(learner), 0.0
    assert len(ours) == len(ref_grads), (sorted(ours), sorted(ref_grads))
    for name, g_ref in ref_grads.items():
        g = _lookup(ours, name, learner)
        err = (g - g_ref).abs().max().item()
        bound = tol["grad_abs"] + tol["grad_rel"] * g_ref.abs().max().item()
        worst = max(worst, err / bound)
        assert err <= bound, f"{name}: max err {err:.3e} > {bound:.3e}"
    return worst


def test_trainable_names_and_shapes(ref):
    """Our trainable tensors, exported, are exactly the official trainable ones (names and shapes)."""
    exported = {k: tuple(v.shape) for k, v in ref["learner"].export_official().items()}
    want = {k: tuple(v) for k, v in ref["meta"]["trainable"].items()}
    strip = lambda d: {k.split("prompt_learner.", 1)[-1].replace("adapter.fc.", "fc."): v for k, v in d.items()}  # noqa: E731
    assert strip(exported) == strip(want)
    assert ref["learner"].count_parameters() == sum(int(torch.tensor(s).prod()) for s in want.values())


def test_logits(ref):
    learner, folder, tol = ref["learner"], ref["folder"], ref["meta"]["tolerance"]
    x, want = torch.load(os.path.join(folder, "input.pt")), torch.load(os.path.join(folder, "logits.pt"))
    learner.eval()
    with torch.no_grad():
        got = learner(x)
    err = (got - want).abs().max().item()
    REPORT.setdefault(ref["name"], {})["logits"] = err
    print(f"\n{ref['name']}: max|logits - ref| = {err:.3e}")
    assert got.shape == want.shape and err <= tol["logits_abs"], err


def test_train_step(ref):
    """CE, every loss term (weighted), the total, and every gradient as the optimizer applies it."""
    learner, folder, meta, tol = ref["learner"], ref["folder"], ref["meta"], ref["meta"]["tolerance"]
    step = torch.load(os.path.join(folder, "train_step.pt"), weights_only=False)
    learner.train()
    learner.zero_grad(set_to_none=True)
    logits, terms = learner.forward_train(step["img"], labels=step["label"])
    ce = F.cross_entropy(logits, step["label"])
    loss = ce + sum(terms.values())
    loss.backward()
    raw = {n: p.grad.clone() for n, p in learner.trainable_named_parameters()}
    kl_grads = getattr(learner, "_kl_grads", None)
    learner.transform_gradients()
    ref_terms = step.get("terms", {"ce": step["loss"]})
    term_err = {"ce": abs(ce.item() - float(ref_terms["ce"]))}
    for k, v in terms.items():
        want = ref_terms.get(k + "_weighted", ref_terms.get(k))
        assert want is not None, f"the reference has no term {k!r} ({sorted(ref_terms)})"
        term_err[k] = abs(v.item() - float(want))
    loss_err = abs(loss.item() - float(step["loss"]))
    worst = _check_grads(learner, step["grads"], tol)
    if "grads_xe" in step:  # ProGrad: the raw gradients and the projection decision too
        for name, p in learner.trainable_named_parameters():
            p.grad = raw[name]
        _check_grads(learner, step["grads_xe"], tol)
        for (name, p), g in zip(learner.trainable_named_parameters(), kl_grads):
            p.grad = g
        _check_grads(learner, step["grads_kl"], tol)
        note = meta.get("notes", {}).get("projection")
        if note is not None:  # a bool, or one per tensor
            assert any(learner.last_projection) == (any(note.values()) if isinstance(note, dict) else bool(note))
    REPORT.setdefault(ref["name"], {}).update(loss=max([loss_err] + list(term_err.values())), grad_ratio=worst)
    print(f"\n{ref['name']}: |loss - ref| = {loss_err:.3e}; terms {({k: f'{v:.1e}' for k, v in term_err.items()})}; "
          f"worst grad err / tolerance = {worst:.3f}")
    assert loss_err <= tol["loss_abs"], loss_err
    assert max(term_err.values()) <= tol["loss_abs"], term_err


def test_checkpoint_import_export_roundtrip(ref, tmp_path):
    """The official file loads; export holds its tensors under the official names; export → import."""
    learner = ref["learner"]
    if _is_tip(ref["meta"]):
        keys = torch.load(os.path.join(ref["folder"], ref["meta"]["checkpoints"][0]))
        assert torch.equal(learner.export_official()["adapter.weight"], keys.t())
        official = None
    else:
        official = prompt_state_from_checkpoint(read_checkpoint(ref["ckpt"]))
        for k, v in learner.export_official().items():
            assert torch.equal(official[k if k in official else k.split("prompt_learner.", 1)[-1]].float(), v.float()), k
        # the class-dependent buffers we rebuild from the class names equal the official ones
        for buf in ("token_prefix", "token_suffix"):
            theirs = next((v for k, v in official.items() if k.endswith(buf)), None)
            if theirs is not None and hasattr(learner, buf):
                mine = getattr(learner, buf)
                assert torch.allclose(mine, theirs[:, :mine.shape[1]].float(), atol=1e-6), buf
    from mvlpt.prompts.official import save_official

    path = tmp_path / learner.official_model_name / "model.pth.tar-1"
    save_official(learner, str(path))
    ckpt = torch.load(path, weights_only=True)  # ours needs no unpickling
    kwargs = dict(ref["kwargs"])
    fresh = type(learner)(learner.clip, ref["classnames"], **kwargs)
    if _is_tip(ref["meta"]):
        fresh.load_prompt_state(learner.prompt_state_dict())  # values/alpha/beta travel in our own checkpoints
    fresh.load_prompt_state(ckpt["state_dict"])
    for (n, a), (_, b) in zip(learner.prompt_state_dict().items(), fresh.prompt_state_dict().items()):
        assert torch.equal(a, b), n


def test_tip_adapter_cache_and_finetune_step(ref):
    """Tip-Adapter: our cache from cache_img.pt = the official keys/values; the zero-shot part; one
    official AdamW step from the keys = best_F; the fine-tuned logits = logits_F."""
    if not _is_tip(ref["meta"]):
        pytest.skip("Tip-Adapter only")
    learner, folder, meta, tol = ref["learner"], ref["folder"], ref["meta"], ref["meta"]["tolerance"]
    shots, cache = meta["shots"], os.path.dirname(os.path.join(folder, meta["checkpoints"][0]))
    keys = torch.load(os.path.join(cache, f"keys_{shots}shots.pt"))
    values = torch.load(os.path.join(cache, f"values_{shots}shots.pt"))
    parts = torch.load(os.path.join(folder, "parts.pt"))
    fresh = type(learner)(learner.clip, ref["classnames"], **ref["kwargs"])
    imgs = torch.load(os.path.join(folder, "cache_img.pt"))
    with torch.no_grad():
        fresh.build_cache(fresh.encode_images(imgs["img"].float()), imgs["label"])
        assert (fresh.cache_keys - keys.t()).abs().max().item() <= tol["keys_abs"]
        assert torch.equal(fresh.cache_values, values.float())
        assert (fresh.clip_weights() - parts["clip_weights"].t()).abs().max().item() <= 1e-6
        zs = 100.0 * parts["test_features"] @ fresh.clip_weights().t()
        assert (zs - parts["clip_logits"]).abs().max().item() <= tol["logits_abs"]
    # one official step from keys.t(): AdamW(lr, eps 1e-4, weight decay 0.01)
    learner.load_official_cache(cache, shots, fine_tuned=False)
    step = torch.load(os.path.join(folder, "train_step.pt"), weights_only=False)
    opt = torch.optim.AdamW([learner.cache_keys], lr=meta["train_step"]["lr_at_step"], eps=1e-4, weight_decay=0.01)
    learner.train()
    opt.zero_grad()
    logits, terms = learner.forward_train(step["img"], labels=step["label"])
    assert (logits - step["train_logits"]).abs().max().item() <= tol["logits_abs"]
    (F.cross_entropy(logits, step["label"]) + sum(terms.values())).backward()
    learner.transform_gradients()
    opt.step()
    best_f = torch.load(os.path.join(cache, f"best_F_{shots}shots.pt"), weights_only=True)
    assert (learner.cache_keys.detach() - best_f.detach()).abs().max().item() <= tol["keys_abs"]
    learner.load_official_cache(cache, shots, fine_tuned=True)
    learner.eval()
    with torch.no_grad():
        got = learner(torch.load(os.path.join(folder, "input.pt")))
    err_f = (got - torch.load(os.path.join(folder, "logits_F.pt"))).abs().max().item()
    print(f"\n{ref['name']}: max|logits_F - ref| = {err_f:.3e}")
    assert err_f <= tol["logits_abs"], err_f
    # the search keeps the init point unless something is strictly better on the same features
    labels = torch.load(os.path.join(folder, "logits.pt")).argmax(-1)
    alpha, beta, acc = learner.search_hp(parts["test_features"], labels)
    assert acc > 0 and alpha > 0 and beta > 0


def test_promptsrc_gpa_weights(ref):
    """PromptSRC's Gaussian aggregation weights equal the official ones (meta.json notes.gpa_weights)."""
    if "gpa_weights" not in ref["meta"].get("notes", {}):
        pytest.skip("no GPA weights in this reference")
    from mvlpt.prompts.promptsrc import gpa_weights

    want = ref["meta"]["notes"]["gpa_weights"]
    got = gpa_weights(len(want), ref["learner"].gpa_mean, ref["learner"].gpa_std)
    assert all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in zip(got, want))

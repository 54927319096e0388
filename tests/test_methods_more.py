"""Semantics of KgCoOp, CLIP-Adapter, Tip-Adapter(-F), PromptSRC and ProGrad on the tiny CLIP
(hand-computed cases; numeric parity with the official code is tests/test_parity_more.py)."""
import glob
import math
import os

import pytest
import torch
import torch.nn.functional as F
import yaml

from mvlpt.clip import load_clip
from mvlpt.prompts import CLIPAdapter, KgCoOp, ProGrad, PromptSRC, TipAdapter, TipAdapterF, ZeroshotCLIP
from mvlpt.prompts.prograd import project_gradient
from mvlpt.prompts.promptsrc import gpa_weights
from mvlpt.prompts.registry import METHODS
from mvlpt.prompts.tip_adapter import search_hp

CLASSES = ["cat", "dog", "red car"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def clip():
    return load_clip("mvlpt-tiny", "none")


@pytest.fixture(scope="module")
def images(clip):
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 3, clip.image_size, clip.image_size, generator=g)


# ----------------------------------------------------------------------------- ProGrad
def test_projection_hand_computed():
    g = torch.tensor([1.0, 0.0])
    out, fired = project_gradient(g, torch.tensor([-1.0, 1.0]))        # cos < 0: u = (-1, 1)/√2, g·u = -1/√2
    assert fired and torch.allclose(out, torch.tensor([0.5, 0.5]))
    out, fired = project_gradient(g, torch.tensor([-1.0, 1.0]), lam=0.5)
    assert fired and torch.allclose(out, torch.tensor([0.75, 0.25]))
    out, fired = project_gradient(g, torch.tensor([1.0, 1.0]))         # no conflict: unchanged
    assert not fired and torch.equal(out, g)
    out, fired = project_gradient(g, torch.tensor([0.0, 1.0]))         # orthogonal (cos = 0): unchanged
    assert not fired and torch.equal(out, g)
    out, fired = project_gradient(g, torch.zeros(2))                   # zero reference: unchanged, no NaN
    assert not fired and torch.equal(out, g)
    m = torch.tensor([[2.0, 0.0], [0.0, 0.0]])                         # matrices are flattened
    out, fired = project_gradient(m, torch.tensor([[-1.0, 0.0], [0.0, 1.0]]))
    assert fired and torch.allclose(out, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))


def test_prograd_applies_the_projection_of_the_teacher_gradient(clip, images):
    torch.manual_seed(0)
    model = ProGrad(clip, CLASSES, n_ctx=6)
    assert torch.count_nonzero(model.ctx[:2]) == 0 and torch.count_nonzero(model.ctx[2:]) > 0  # zeros + "a photo of a"
    z0 = ZeroshotCLIP(clip, CLASSES)(images).detach()                  # independent teacher: zero-shot CLIP
    seen = set()
    for labels in (z0.argmax(-1), z0.argmin(-1)):                      # (deterministically) one fires, one not
        model.zero_grad(set_to_none=True)
        logits, terms = model.forward_train(images, labels=labels)
        assert terms == {}
        F.cross_entropy(logits, labels).backward()
        g_xe = model.ctx.grad.clone()
        kl = -(F.softmax(z0, -1) * F.log_softmax(model(images), -1)).sum(-1).mean()
        (g_kl,) = torch.autograd.grad(kl, [model.ctx])
        model.transform_gradients()
        want, fired = project_gradient(g_xe, g_kl)
        assert model.last_projection == [fired]
        assert torch.allclose(model.ctx.grad, want, atol=1e-6)
        seen.add(fired)
    assert seen == {True, False}


# ----------------------------------------------------------------------------- KgCoOp
def test_kgcoop_term(clip, images):
    model = KgCoOp(clip, CLASSES, w=8.0)
    assert model.n_ctx == 4                                            # CTX_INIT True: "a photo of a"
    _, terms = model.forward_train(images)
    assert abs(terms["kg"].item()) < 1e-5                              # init prompt = the hand-crafted prompt
    with torch.no_grad():
        model.ctx.add_(0.3 * torch.randn_like(model.ctx))
    _, terms = model.forward_train(images)
    t = F.normalize(model.compute_text_features({}, None), dim=-1)
    hand = F.normalize(ZeroshotCLIP(clip, CLASSES).compute_text_features({}, None), dim=-1)
    assert torch.allclose(terms["kg"], 8.0 * (1 - (t * hand).sum(-1).mean()), atol=1e-5)
    sd = {"ctx": model.ctx.detach(), "bias_vectors": torch.zeros(1, 64), "meta_net.linear1.weight": torch.zeros(2, 2)}
    assert model.load_prompt_state(sd) == ["ctx"]                      # official leftovers are ignored


# ----------------------------------------------------------------------------- CLIP-Adapter
def test_clip_adapter_residual(clip, images):
    model = CLIPAdapter(clip, CLASSES, ratio=0.0)
    zs = ZeroshotCLIP(clip, CLASSES)
    assert torch.allclose(model(images), zs(images), atol=1e-5)        # ratio 0: zero-shot CLIP
    model.ratio = 0.2
    feats = model.encode_images(images)                                # frozen: the cache path is exact
    assert torch.allclose(model(image_features=feats), model(images), atol=1e-6)
    mixed = model.adapt_image_features(feats)
    assert torch.allclose(mixed, 0.2 * F.relu(F.relu(feats @ model.fc[0].weight.t()) @ model.fc[2].weight.t())
                          + 0.8 * feats, atol=1e-6)
    assert not model.vision_trainable and not model.text_trainable


# ----------------------------------------------------------------------------- Tip-Adapter
def test_tip_adapter_cache(clip, images):
    model = TipAdapterF(clip, CLASSES, init_alpha=2.0, init_beta=3.0, augment_epoch=2)
    zs = ZeroshotCLIP(clip, CLASSES)
    scale = 100.0 / clip.logit_scale.exp()
    assert torch.allclose(model(images), zs(images) * scale, atol=1e-4)  # no cache yet: zero-shot
    keys_param = model.cache_keys
    opt = torch.optim.AdamW([keys_param], lr=1e-3)
    feats = torch.randn(2, 6, clip.embed_dim)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    passes = iter([(feats[0], labels), (feats[1], labels)])
    model.on_train_begin(lambda: next(passes))
    assert model.cache_keys is keys_param                              # the optimizer's tensor is kept
    assert torch.allclose(model.cache_keys, F.normalize(feats.mean(0), dim=-1))
    f = F.normalize(model.encode_images(images), dim=-1)
    A = f @ model.cache_keys.t()
    want = 100 * f @ model.clip_weights().t() + 2.0 * torch.exp(-3.0 * (1 - A)) @ F.one_hot(labels, 3).float()
    assert torch.allclose(model(images), want, atol=1e-4)
    logits, _ = model.forward_train(images)
    F.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    opt.step()
    assert not torch.equal(model.cache_keys, F.normalize(feats.mean(0), dim=-1))
    assert not model.transferable and not TipAdapter.transferable and TipAdapter(clip, CLASSES).count_parameters() == 0
    with pytest.raises(ValueError, match="cache holds 3 classes"):
        model.set_classnames(["a", "b"])


def test_tip_adapter_search_hp(clip):
    model = TipAdapter(clip, ["a", "b"], init_alpha=1.0, init_beta=1.0)
    e = torch.eye(clip.embed_dim)
    model.build_cache(e[:2], torch.tensor([0, 1]))
    model.clip_weights = lambda: e[[1, 0]]                             # zero-shot says the opposite of the cache
    feats, labels = e[:2], torch.tensor([0, 1])
    alpha, beta, acc = search_hp(model, feats, labels, search_scale=(2, 1000), search_step=(2, 4))
    # right class wins iff alpha·(1 − exp(−beta)) > 100: betas [0.1, 1.05], alphas [0.1, 250.075, 500.05, 750.025];
    # beta 0.1 needs alpha > 1050 (none), beta 1.05 needs alpha > 153.8: the first is 250.075
    assert acc == 100.0 and beta == pytest.approx(1.05) and alpha == pytest.approx(0.1 + (1000 - 0.1) / 4)


# ----------------------------------------------------------------------------- PromptSRC
def _small_src(clip, **kw):
    torch.manual_seed(0)
    return PromptSRC(clip, CLASSES, depth_text=2, depth_vision=2, templates=["a photo of a {}.", "art of a {}."], **kw)


def test_promptsrc_terms(clip, images):
    model = _small_src(clip)
    labels = torch.tensor([0, 1, 2])
    z, terms = model.forward_train(images, labels=labels)
    t = F.normalize(model.compute_text_features(model.make_prompts(), None), dim=-1)
    tz = [F.normalize(ZeroshotCLIP(clip, CLASSES, templates=[tp]).compute_text_features({}, None), dim=-1)
          for tp in model.templates]
    assert torch.allclose(z, model(images), atol=1e-5)
    assert terms["scl_text"].item() > 0 and terms["scl_image"].item() > 0 and terms["scl_logits"].item() >= 0
    raw = torch.stack([ZeroshotCLIP(clip, CLASSES, templates=[tp]).compute_text_features({}, None)
                       for tp in model.templates]).mean(0)             # the teacher averages un-normalised features
    assert torch.allclose(model.fixed_embeddings(), raw, atol=1e-6) and len(tz) == 2
    assert torch.allclose(terms["scl_text"], 25 * (t - F.normalize(raw, dim=-1)).abs().mean(), atol=1e-5)


def test_gpa_weights_and_resume(clip):
    w = gpa_weights(20)
    assert abs(sum(w) - 1) < 1e-12 and max(range(20), key=lambda i: w[i]) == 14
    assert w[14] == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-4)
    thetas = [torch.randn(3) for _ in range(4)]

    def run(model, epochs, start=0):
        for e in range(start, epochs):
            with torch.no_grad():
                model.ctx.fill_(0).add_(thetas[e][:, None].mean())    # a known θ_e per epoch
            model.on_epoch_end(e, 4)

    a = _small_src(clip, gpa_mean=2, gpa_std=1)
    run(a, 4)
    wts = gpa_weights(4, 2, 1)
    assert torch.allclose(a.ctx, torch.full_like(a.ctx, sum(wt * th.mean().item() for wt, th in zip(wts, thetas))), atol=1e-6)
    b = _small_src(clip, gpa_mean=2, gpa_std=1)
    run(b, 2)
    state = b.procedure_state()
    c = _small_src(clip, gpa_mean=2, gpa_std=1)
    c.load_procedure_state(state)
    with torch.no_grad():
        for n, p in c.trainable_named_parameters():
            p.copy_(dict(b.trainable_named_parameters())[n])
    run(c, 4, start=2)
    assert torch.equal(a.ctx, c.ctx)


def test_gpa_restarts_with_a_new_training_run(clip):
    """Training the same learner object twice (a notebook, the learnability test): the second run's aggregate
    holds only its own epochs; a resumed run (engine order: on_train_begin, then the checkpoint's procedure
    state) keeps the aggregate it had."""
    thetas = [torch.randn(()) for _ in range(4)]
    wts = gpa_weights(4, 2, 1)

    def run(model, start=0, end=4):
        for e in range(start, end):
            with torch.no_grad():
                model.ctx.fill_(thetas[e])                              # a known θ_e per epoch
            model.on_epoch_end(e, 4)

    a = _small_src(clip, gpa_mean=2, gpa_std=1)
    want = torch.full_like(a.ctx, float(sum(w * th for w, th in zip(wts, thetas))))
    for _ in range(2):
        a.on_train_begin()
        run(a)
        assert torch.allclose(a.ctx, want, atol=1e-6)                   # the 2nd run: not twice the aggregate
    first = _small_src(clip, gpa_mean=2, gpa_std=1)                     # killed after epoch 2 ...
    first.on_train_begin()
    run(first, end=2)
    resumed = _small_src(clip, gpa_mean=2, gpa_std=1)                   # ... and resumed by a new process
    resumed.on_train_begin()
    resumed.load_procedure_state(first.procedure_state())
    run(resumed, start=2)
    assert torch.allclose(resumed.ctx, want, atol=1e-6)
    a.on_train_begin()                                                  # the reset is what makes it hold
    assert a.procedure_state() == {"gpa_sum": None, "gpa_epochs": 0}


# ----------------------------------------------------------------------------- registry and configs
@pytest.mark.parametrize("yml", sorted(glob.glob(os.path.join(REPO, "configs", "trainers", "*", "*.yaml"))),
                         ids=lambda p: os.path.relpath(p, REPO))
def test_method_yamls_fit_the_registered_nodes(yml):
    """Every key of a new method's yaml exists in its registered config node (derived from the constructor)."""
    node_of = {s.cfg_node: s for s in METHODS.values()}
    trainer = (yaml.safe_load(open(yml)) or {}).get("TRAINER") or {}
    for node, keys in trainer.items():
        if node not in node_of:
            continue
        spec = node_of[node]
        from mvlpt.config.compat import translate  # the one table of official spellings

        ours = {translate(f"TRAINER.{node}.{k}", v)[0].split(".")[-1] for k, v in keys.items()}
        unknown = sorted(ours - set(spec.defaults) - set(spec.renames))
        assert not unknown, f"{yml}: {node} has no {unknown}"
    for name in ("KgCoOp", "CLIP_Adapter", "TipAdapter", "TipAdapterF", "PromptSRC", "ProGrad"):
        assert name in METHODS


@pytest.mark.parametrize("module", ["kgcoop", "clip_adapter", "tip_adapter", "promptsrc", "prograd"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"mvlpt.prompts.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_tip_adapter_checkpoint_errors(clip):
    from mvlpt.prompts import CheckpointMismatch

    model = TipAdapter(clip, CLASSES)
    model.build_cache(torch.randn(6, clip.embed_dim), torch.tensor([0, 0, 1, 1, 2, 2]))
    state = model.prompt_state_dict()
    other = TipAdapter(clip, CLASSES)
    other.load_prompt_state(state)
    assert torch.equal(other.cache_keys, model.cache_keys) and torch.equal(other.cache_values, model.cache_values)
    with pytest.raises(CheckpointMismatch, match="missing keys"):
        other.load_prompt_state({"alpha": torch.tensor(1.0)})
    with pytest.raises(CheckpointMismatch, match="do not fit 4 keys"):
        other.load_prompt_state({"cache_keys": torch.randn(4, clip.embed_dim)})
    with pytest.raises(CheckpointMismatch, match="unexpected keys"):
        other.load_prompt_state({**state, "ctx": torch.zeros(1)})

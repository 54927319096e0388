"""Memory-aware text encoding: ``text_chunk="auto"`` gives the unchunked results, chunks when the
budget says so, round-trips through the config; the meta-device estimate; the TF32 switch."""
import pytest
import torch
import torch.nn.functional as F
import yaml

from mvlpt.clip import load_clip
from mvlpt.clip.model import configure_tf32, parse_bytes, parse_text_chunk
from mvlpt.prompts import CoCoOp, CoOp, MaPLe

CLASSES = ["golden retriever", "tabby cat", "hot-air balloon", "red wine", "black_footed ferret",
           "sea anemone", "fire truck", "espresso maker", "snow leopard"]


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _pair(cls, **kw):
    """The same learner twice on two identical tiny CLIPs: automatic chunking under a tiny budget vs
    one pass (``text_chunk=0``)."""
    clips = [load_clip("mvlpt-tiny", "none") for _ in range(2)]
    clips[0].text_memory = 4 * clips[0].text_row_bytes(8, grad=True)   # 2-4 prompts per chunk
    torch.manual_seed(0)
    auto = cls(clips[0], CLASSES, **kw)
    full = cls(clips[1], CLASSES, text_chunk=0, **kw)
    full.load_prompt_state(auto.prompt_state_dict())
    return auto, full


@pytest.mark.parametrize("cls,kw", [(CoOp, dict(n_ctx=4)), (CoCoOp, dict(n_ctx=4)), (MaPLe, dict(depth=3))])
def test_auto_chunked_equals_unchunked(cls, kw, images):
    auto, full = _pair(cls, **kw)
    assert auto.text_chunk == "auto"
    labels = torch.tensor([0, 4, 8])
    logits = []
    for m in (auto, full):
        out = m(images)
        F.cross_entropy(out, labels).backward()
        logits.append(out.detach())
    assert auto.clip.last_text_chunks > 1 and full.clip.last_text_chunks == 1
    torch.testing.assert_close(logits[0], logits[1], rtol=1e-5, atol=1e-5)
    for (n, a), (_, b) in zip(auto.trainable_named_parameters(), full.trainable_named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-5, msg=n)
    with torch.no_grad():   # evaluation (no grad: larger chunks, no checkpointing) agrees too
        torch.testing.assert_close(auto.eval()(images), full.eval()(images), rtol=1e-5, atol=1e-5)


def test_auto_chunk_follows_the_budget():
    clip = load_clip("mvlpt-tiny", "none")
    row = clip.text_row_bytes(20, grad=True)
    clip.text_memory = 10 * row
    assert clip.auto_text_chunk(1000, 20, "cpu", grad=True) == 10
    assert clip.auto_text_chunk(8, 20, "cpu", grad=True) == 8           # fits: one pass
    clip.text_memory = lambda device: 0
    assert clip.auto_text_chunk(1000, 20, "cpu", grad=True) == 1        # never below one prompt
    assert clip.text_row_bytes(20, grad=False) < row                   # no saved activations
    clip.text_memory = None
    assert clip.text_memory_budget("cpu") == 2 * 2 ** 30
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MVLPT_TEXT_MEMORY", "512MB")
        assert clip.text_memory_budget("cpu") == 512 * 2 ** 20


def test_row_estimate_is_conservative():
    """The per-prompt estimate that sizes chunks is >= the traced activation memory (fp32 and bf16)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from mvlpt.estimate import PeakMemory, meta_clip, to_fake

    clip = meta_clip("mvlpt-tiny")
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    to_fake(clip, mode)
    for bf16 in (False, True):
        for grad in (True, False):
            tracker = PeakMemory()
            tracker.known(list(clip.parameters()) + list(clip.buffers()))
            n, L = 32, 30
            amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
            with mode, tracker:
                x = torch.randn(n, L, clip.text_width, requires_grad=grad)
                tracker.reset_peak()
                base = tracker.current
                with amp, torch.set_grad_enabled(grad):
                    f = clip.encode_text(x, torch.full((n,), L - 1))
                if grad:
                    f.float().sum().backward()
            with amp:
                est = clip.text_row_bytes(L, grad, "cpu")
            measured = (tracker.peak - base) / n
            assert measured <= est <= 2.5 * measured, (bf16, grad, measured, est)


def test_cocoop_imagenet_scale_steps_on_meta_with_defaults():
    """CoCoOp, 1000 classes, batch 32 (32,000 prompts with gradients), defaults, meta tensors: it
    builds, steps, chunks on its own, and needs a fraction of the official one-pass memory."""
    from mvlpt.estimate import estimate_step

    default = estimate_step("CoCoOp", "mvlpt-tiny", classes=1000, batch_size=32)
    naive = estimate_step("CoCoOp", "mvlpt-tiny", classes=1000, batch_size=32, naive=True)
    assert default["text_chunks"] > 1 and naive["text_chunks"] == 1
    assert default["peak_bytes"] < 16 * 2 ** 30
    assert default["peak_bytes"] < naive["peak_bytes"] / 2


def _tiny_kwargs(spec):
    """Constructor kwargs that fit the tiny CLIP (3 layers): every prompt depth capped at 3; two teacher
    templates instead of 60 (PromptSRC; a shorter trace, the same code path)."""
    kw = {k.lower(): 3 for k, v in spec.defaults.items()
          if k in ("DEPTH", "DEPTH_TEXT", "DEPTH_VISION") and isinstance(v, int) and v > 3}
    if "TEMPLATES" in spec.defaults and spec.name == "PromptSRC":
        kw["templates"] = ("a photo of a {}.", "art of a {}.")
    return kw


@pytest.mark.parametrize("name", sorted(__import__("mvlpt.prompts", fromlist=["METHODS"]).METHODS))
def test_every_registered_method_has_an_estimate(name):
    """``python -m mvlpt.estimate`` covers the whole registry: each method builds on the meta CLIP and traces
    one training step, fp32 and bf16, default and naive (a new method that cannot be estimated fails here)."""
    from mvlpt.estimate import estimate_step
    from mvlpt.prompts import METHODS

    spec = METHODS[name]
    rows = {(p, v): estimate_step(name, "mvlpt-tiny", classes=5, batch_size=2, prec=p, naive=v == "naive",
                                  learner_kwargs=_tiny_kwargs(spec))
            for p in ("fp32", "bf16") for v in ("default", "naive")}
    for (p, v), r in rows.items():
        assert r["model_bytes"] > 0 and r["step_bytes"] > 0 and r["text_chunks"] >= 1, (p, v, r)
    if spec.learner.text_trainable:                      # 77 tokens and no caching never need less
        assert rows["fp32", "naive"]["step_bytes"] > rows["fp32", "default"]["step_bytes"]


def test_estimate_main_lists_every_registered_method(tmp_path, capsys, monkeypatch):
    """With no --methods the table has one row per registered method (the tracing itself is stubbed here;
    the test above traces every method)."""
    import mvlpt.estimate as est
    from mvlpt.prompts import METHODS

    calls = []

    def fake(m, backbone, classes, batch, prec, naive, gpu_gb):
        calls.append((m, prec, naive))
        return {"method": m, "prec": prec, "variant": "naive" if naive else "default", "model_bytes": 1,
                "step_bytes": 1, "peak_bytes": 2 ** 30, "text_chunks": 1, "trace_s": 0.0}

    monkeypatch.setattr(est, "estimate_step", fake)
    assert est.main(["--backbone", "mvlpt-tiny"]) == 0
    out = capsys.readouterr().out
    assert {m for m, _, _ in calls} == set(METHODS) and len(calls) == 4 * len(METHODS)
    for m in METHODS:
        assert f"| {m} |" in out


def test_cocoop_1000_classes_batch_32_on_the_meta_device():
    """The same with plain meta tensors and the default CPU/meta budget (2 GiB): built on the CPU
    (tokenising needs real ids), moved to meta, one step with defaults; all 32,000 prompts encoded."""
    from mvlpt.estimate import class_names

    clip = load_clip("mvlpt-tiny", "none")
    m = CoCoOp(clip, class_names(1000)).to("meta")
    assert m.text_chunk == "auto"
    logits = m(torch.randn(32, 3, 32, 32, device="meta"))
    F.cross_entropy(logits, torch.zeros(32, dtype=torch.long, device="meta")).backward()
    assert logits.shape == (32, 1000) and m.ctx.grad.shape == m.ctx.shape
    assert clip.last_text_chunks > 1


def test_text_chunk_values_and_config_round_trip(tmp_path):
    from yacs.config import CfgNode as CN

    from mvlpt.config import merge_from_dict, merge_from_list
    from mvlpt.prompts.registry import constructor_defaults

    assert constructor_defaults(CoOp)["TEXT_CHUNK"] == "auto"
    assert [parse_text_chunk(v) for v in ("auto", "AUTO", None, 0, "0", "all", 64, "64")] == \
        ["auto", "auto", "auto", 0, 0, 0, 64, 64]
    for bad in (-1, "lots", 1.5, True):
        with pytest.raises(ValueError, match="text_chunk"):
            parse_text_chunk(bad)
    cfg = CN({"TRAINER": CN({"COOP": CN({"TEXT_CHUNK": "auto"})})})
    for given, want in (("512", 512), ("0", 0), ("auto", "auto")):      # command line: strings
        merge_from_list(cfg, ["TRAINER.COOP.TEXT_CHUNK", given])
        assert parse_text_chunk(cfg.TRAINER.COOP.TEXT_CHUNK) == want
    merge_from_dict(cfg, yaml.safe_load("TRAINER:\n  COOP:\n    TEXT_CHUNK: 256\n"))   # yaml: an int
    assert cfg.TRAINER.COOP.TEXT_CHUNK == "256" and parse_text_chunk(cfg.TRAINER.COOP.TEXT_CHUNK) == 256
    again = CN(yaml.safe_load(cfg.dump()))                                 # dump -> load keeps it
    assert parse_text_chunk(again.TRAINER.COOP.TEXT_CHUNK) == 256
    clip = load_clip("mvlpt-tiny", "none")
    assert CoOp(clip, CLASSES[:2], n_ctx=2, text_chunk=cfg.TRAINER.COOP.TEXT_CHUNK).text_chunk == 256
    with pytest.raises(ValueError, match="text_chunk"):
        CoOp(clip, CLASSES[:2], n_ctx=2, text_chunk="lots")


def test_parse_bytes():
    assert parse_bytes("4GB") == 4 * 2 ** 30 and parse_bytes("512 mb") == 512 * 2 ** 20
    assert parse_bytes(1000) == 1000 and parse_bytes("1.5e3") == 1500
    with pytest.raises(ValueError, match="memory size"):
        parse_bytes("a lot")


def test_tf32_switch_is_cuda_only_and_reversible():
    matmul = torch.backends.cuda.matmul
    new_api = hasattr(matmul, "fp32_precision")
    before = matmul.fp32_precision if new_api else matmul.allow_tf32
    try:
        assert configure_tf32(True, "cpu") is False
        assert (matmul.fp32_precision if new_api else matmul.allow_tf32) == before   # untouched
        assert configure_tf32(True, "cuda") is True
        assert (matmul.fp32_precision == "tf32") if new_api else matmul.allow_tf32
        assert configure_tf32(False, torch.device("cuda", 0)) is False
        assert (matmul.fp32_precision == "ieee") if new_api else not matmul.allow_tf32
    finally:
        if new_api:
            matmul.fp32_precision = before
        else:
            matmul.allow_tf32 = before

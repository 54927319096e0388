"""load_clip: every weight source, name spellings, errors; encoders equal open_clip's own."""
import warnings

import open_clip
import pytest
import torch

from mvlpt.clip import CLIPLoadError, load_clip, open_clip_name


def test_names():
    assert open_clip_name("ViT-B/16") == "ViT-B-16"
    assert open_clip_name("ViT-L/14@336px") == "ViT-L-14-336"
    assert open_clip_name("RN50") == "RN50"
    with pytest.raises(CLIPLoadError, match="did you mean"):
        open_clip_name("ViT-B/61")


def _reference_model(seed=0):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True).eval()


def _same(clip, ref):
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    tok = open_clip.tokenize(["a photo of a cat.", "a dog"])
    with torch.no_grad():
        assert torch.equal(clip.encode_image(x), ref.encode_image(x))
        ours = clip.encode_text(clip.token_embedding(tok), tok.argmax(-1))
        torch.testing.assert_close(ours, ref.encode_text(tok), rtol=1e-5, atol=1e-5)
        # trimmed text (longest prompt only) gives the same features: causal mask
        L = int(tok.argmax(-1).max()) + 1
        trimmed = clip.encode_text(clip.token_embedding(tok[:, :L]), tok.argmax(-1))
        torch.testing.assert_close(trimmed, ours, rtol=1e-5, atol=1e-5)


def test_openai_state_dict_with_and_without_int_entries(tmp_path):
    ref = _reference_model()
    sd = {k: v.clone() for k, v in ref.state_dict().items()}
    torch.save(sd, tmp_path / "plain.pt")
    sd16 = {k: v.half() for k, v in sd.items()}
    sd16.update(input_resolution=torch.tensor(224), context_length=torch.tensor(77), vocab_size=torch.tensor(49408))
    torch.save(sd16, tmp_path / "openai.pt")
    _same(load_clip("ViT-B/32", str(tmp_path / "plain.pt")), ref)
    clip16 = load_clip("ViT-B/32", str(tmp_path / "openai.pt"))
    assert clip16.dtype == torch.float32  # fp16 release weights are promoted; prompts train in fp32
    assert torch.equal(clip16.model.visual.proj, ref.visual.proj.half().float())


def test_openai_jit_archive(tmp_path):
    ref = _reference_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(ref, (torch.randn(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)),
                                 check_trace=False, strict=False)
        torch.jit.save(traced, str(tmp_path / "ViT-B-32.pt"))
    _same(load_clip("ViT-B/32", str(tmp_path / "ViT-B-32.pt")), ref)


def test_open_clip_checkpoint_with_module_prefix(tmp_path):
    ref = _reference_model()
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in ref.state_dict().items()}}, tmp_path / "oc.pt")
    _same(load_clip("ViT-B-32", str(tmp_path / "oc.pt"), quick_gelu=True), ref)
    # a wrapped open_clip checkpoint follows open_clip's config for the name: GELU, so different features
    gelu = load_clip("ViT-B-32", str(tmp_path / "oc.pt"))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert not torch.allclose(gelu.encode_image(x), ref.encode_image(x))


def test_pretrained_tag_goes_to_open_clip(monkeypatch):
    seen, ref = {}, _reference_model()

    def fake_create(name, pretrained=None, **kw):
        seen.update(name=name, pretrained=pretrained, **kw)
        return ref

    monkeypatch.setattr(open_clip, "create_model", fake_create)
    monkeypatch.setattr("mvlpt.clip.load._local_pretrained", lambda *a: None)  # no local copy, online
    clip = load_clip("ViT-B/32", "openai", cache_dir="/tmp/x")
    assert seen["name"] == "ViT-B-32" and seen["pretrained"] == "openai" and seen["force_quick_gelu"] is True
    assert seen["cache_dir"] == "/tmp/x"
    assert all(not p.requires_grad for p in clip.parameters())
    load_clip("ViT-B-32", "laion2b_s34b_b79k")
    assert seen["pretrained"] == "laion2b_s34b_b79k" and seen["force_quick_gelu"] is False


def test_errors(tmp_path):
    with pytest.raises(CLIPLoadError, match="unknown pretrained tag"):
        load_clip("ViT-B/32", "not_a_tag")
    with pytest.raises(CLIPLoadError, match="not found"):
        load_clip("ViT-B/32", str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CLIPLoadError, match="cannot read"):
        load_clip("ViT-B/32", str(tmp_path / "junk.pt"))
    ref = _reference_model()
    torch.save({"module." + k: v for k, v in ref.state_dict().items()}, tmp_path / "b32.pt")
    with pytest.raises(CLIPLoadError, match="does not match backbone ViT-B-16"):
        load_clip("ViT-B-16", str(tmp_path / "b32.pt"))


def test_frozen_and_stays_eval():
    clip = load_clip("ViT-B/32", "none")
    clip.train()
    assert not clip.training and not clip.model.training
    assert not any(p.requires_grad for p in clip.parameters())


def test_random_weights_are_deterministic_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = load_clip("mvlpt-tiny", "none")
    after = torch.rand(1)
    b = load_clip("mvlpt-tiny", "none")
    c = load_clip("mvlpt-tiny", "none", init_seed=1)
    assert torch.equal(before, after)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.model.visual.proj, c.model.visual.proj)

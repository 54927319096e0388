"""Offline ``openai`` weights: a copy in ~/.cache/clip (OpenAI's package / open_clip's URL cache) is used
without any network access; with none and no network, one clear error at once (local file or none)."""
import os
import time

import open_clip
import pytest
import torch

from mvlpt.clip import load as L


@pytest.fixture
def fake_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")                 # never touch the network in this test
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty Hugging Face cache
    monkeypatch.delenv("MVLPT_CLIP_DIR", raising=False)
    # the tiny test model stands in for ViT-B/16: its "openai" release is mvlpt-tiny.pt
    real = open_clip.get_pretrained_cfg
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda n, t: {"url": "https://x/abc/mvlpt-tiny.pt",
                                                                      "hf_hub": ""} if n == "mvlpt-tiny" and
                        t == "openai" else real(n, t))
    return tmp_path


def test_openai_tag_uses_home_cache_clip(fake_home):
    ref = L.load_clip("mvlpt-tiny", "none", init_seed=3)
    d = fake_home / ".cache" / "clip"
    d.mkdir(parents=True)
    torch.save(ref.model.state_dict(), d / "mvlpt-tiny.pt")   # as OpenAI's package leaves it (state dict)
    clip = L.load_clip("mvlpt-tiny", "openai")
    assert clip.pretrained == str(d / "mvlpt-tiny.pt")
    for (k, a), (_, b) in zip(ref.model.state_dict().items(), clip.model.state_dict().items()):
        assert torch.equal(a, b), k


def test_offline_without_local_copy_fails_fast_with_the_fix(fake_home):
    t0 = time.time()
    with pytest.raises(L.CLIPLoadError) as e:
        L.load_clip("mvlpt-tiny", "openai")
    msg = str(e.value)
    assert time.time() - t0 < 30 and "\n" not in msg
    assert "mvlpt-tiny.pt" in msg and os.path.join(str(fake_home), ".cache", "clip") in msg
    assert "MODEL.BACKBONE.PRETRAINED /path/to/mvlpt-tiny.pt" in msg and "none" in msg

"""Resume with a different number of GPUs (issue: set_rng_state_all raised IndexError)."""
import logging

import torch

from mvlpt.engine import checkpoint as ck


def test_more_saved_cuda_states_than_gpus(monkeypatch, caplog):
    state = ck.get_rng_state()
    state["cuda"] = [torch.zeros(16, dtype=torch.uint8) for _ in range(8)]  # an 8-GPU run
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device=0: restored.append(device))
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda s: (_ for _ in ()).throw(IndexError("boom")))
    with caplog.at_level(logging.WARNING, logger="mvlpt"):
        ck.set_rng_state(state)
    assert restored == [0]
    assert "8 GPU(s), this machine has 1" in caplog.text


def test_gpu_checkpoint_on_cpu(monkeypatch, caplog):
    state = ck.get_rng_state()
    state["cuda"] = [torch.zeros(16, dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="mvlpt"):
        ck.set_rng_state(state)  # no crash
    assert "1 GPU(s), this machine has 0" in caplog.text
    a = torch.rand(3)
    ck.set_rng_state(state)
    assert torch.equal(torch.rand(3), a)  # the CPU state is still restored exactly


def test_cpu_checkpoint_no_warning(caplog):
    state = ck.get_rng_state()
    with caplog.at_level(logging.WARNING, logger="mvlpt"):
        ck.set_rng_state(state)
    assert "GPU(s)" not in caplog.text

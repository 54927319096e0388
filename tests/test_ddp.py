"""DDP: 2 CPU processes (gloo, torchrun) == 1 process with the same global batch."""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from test_engine_support import REPO, base_args, env, make_image_folder

EXTRA = ["INPUT.TRANSFORMS", "['normalize']", "TRAINER.COOP.N_CTX", "4", "OPTIM.LR", "0.05"]


def _args(data, out, batch):
    args = base_args(data, out, epochs=2, extra=EXTRA)
    args[args.index("DATALOADER.TRAIN_X.BATCH_SIZE") + 1] = str(batch)
    return args


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_processes_equal_one_process(tmp_path, monkeypatch):
    data = make_image_folder(str(tmp_path / "imgs"), per_class=4)
    ddp_out, one_out = str(tmp_path / "ddp"), str(tmp_path / "one")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           os.path.join(REPO, "train.py")] + _args(data, ddp_out, batch=2)
    r = subprocess.run(cmd + ["USE_CUDA", "False"], capture_output=True, text=True, env=env(), cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Trainable prompt parameters" in r.stdout and r.stdout.count("Finish training") == 1  # rank 0 logs

    # reference: one process, global batch 4, the same sample order as DistributedSampler's
    from torch.utils.data import DistributedSampler

    import mvlpt.data.data_manager as dm_mod
    from mvlpt.cli import main

    orig = dm_mod.DataManager._sampler

    def one_replica(self, data_, is_train, sampler_type):
        if is_train:
            return DistributedSampler(data_, num_replicas=1, rank=0, shuffle=True,
                                      seed=max(int(self.cfg.SEED), 0))
        return orig(self, data_, is_train, sampler_type)

    monkeypatch.setattr(dm_mod.DataManager, "_sampler", one_replica)
    assert main(_args(data, one_out, batch=4)) == 0

    a = torch.load(os.path.join(ddp_out, "prompt_learner", "model.pth.tar-2"), weights_only=True)
    b = torch.load(os.path.join(one_out, "prompt_learner", "model.pth.tar-2"), weights_only=True)
    torch.testing.assert_close(a["state_dict"]["ctx"], b["state_dict"]["ctx"], rtol=1e-4, atol=1e-6)
    ra = json.load(open(os.path.join(ddp_out, "results.json")))
    rb = json.load(open(os.path.join(one_out, "results.json")))
    assert ra["accuracy"] == rb["accuracy"] and ra["macro_f1"] == pytest.approx(rb["macro_f1"])
    # rank 0 alone wrote logs / checkpoints
    assert sorted(os.listdir(os.path.join(ddp_out, "prompt_learner"))) == ["checkpoint", "model.pth.tar-2"]

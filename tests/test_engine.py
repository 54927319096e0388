"""Engine pieces: evaluator metrics, official Dassl checkpoints, feature cache, registries."""
import json
import os

import pytest
import torch

from test_engine_support import base_args, install_standins, make_image_folder

install_standins()

from conftest import PARITY_REF  # noqa: E402

REF_COOP = os.path.join(PARITY_REF, "coop")


def test_classification_evaluator_metrics():
    from mvlpt.config import get_cfg_default
    from mvlpt.engine.evaluator import build_evaluator

    ev = build_evaluator(get_cfg_default(), lab2cname={0: "a", 1: "b", 2: "c"}, log=None)
    gt = torch.tensor([0, 0, 0, 1, 2, 2])
    pred = torch.tensor([0, 0, 1, 1, 2, 0])
    ev.process(torch.nn.functional.one_hot(pred, 3).float(), gt)
    r = ev.evaluate()
    assert r["accuracy"] == pytest.approx(100 * 4 / 6)
    assert r["error_rate"] == pytest.approx(100 * 2 / 6)
    # per class recall: 2/3, 1, 1/2 ; precision: 2/3, 1/2, 1
    assert r["mean_per_class_accuracy"] == pytest.approx(100 * (2 / 3 + 1 + 0.5) / 3)
    f1 = [2 / 3, 2 * 0.5 * 1 / 1.5, 2 * 1 * 0.5 / 1.5]
    assert r["macro_f1"] == pytest.approx(100 * sum(f1) / 3)
    assert list(r)[0] == "accuracy"


def test_registries_fill_on_lookup():
    import mvlpt

    from mvlpt.prompts import METHODS

    names = mvlpt.TRAINER_REGISTRY.registered_names()
    assert {"CoOp", "CoCoOp", "VPT", "UPT", "MaPLe", "IVLP", "ZeroshotCLIP"} <= set(METHODS)
    for n in [*METHODS, "MVLPT"]:  # every registered method has a trainer under its name
        assert n in names and mvlpt.TRAINER_REGISTRY.get(n).__name__ == n
    assert "Classification" in mvlpt.EVALUATOR_REGISTRY
    with pytest.raises(KeyError, match=r"did you mean .*MaPLe"):
        mvlpt.TRAINER_REGISTRY.get("Maple")


@pytest.mark.skipif(not os.path.isdir(REF_COOP), reason="official reference checkpoint not available")
def test_official_dassl_checkpoint_loads_for_eval(tmp_path, capsys):
    from mvlpt.cli import main

    data = make_image_folder(str(tmp_path / "imgs"), per_class=2)
    out = str(tmp_path / "eval")
    # ViT-B/32 has the same text width (512) as ViT-B/16: the official ctx (16, 512) fits.
    rc = main(["--eval-only", "--model-dir", REF_COOP, "--load-epoch", "1"]
              + base_args(data, out, extra=["TRAINER.COOP.N_CTX", "16"]))
    assert rc == 0, capsys.readouterr().err
    assert "model.pth.tar-1" in capsys.readouterr().out
    assert os.path.isfile(os.path.join(out, "results.json"))


def test_feature_cache_with_frozen_image_side(tmp_path, capsys, monkeypatch):
    """Cached image features (train: by sample index; eval: per split) give the same prompts and
    metrics as running the image encoder every time, and the encoder runs once per image."""
    import torch

    from mvlpt.cli import main
    from mvlpt.clip.model import FrozenCLIP

    calls = []
    orig = FrozenCLIP.encode_image
    monkeypatch.setattr(FrozenCLIP, "encode_image", lambda self, *a, **k: calls.append(1) or orig(self, *a, **k))
    data = make_image_folder(str(tmp_path / "imgs"), per_class=6)  # train/val/test all non-empty
    runs = {}
    for cache in ("True", "False"):
        calls.clear()
        out = str(tmp_path / f"cache{cache}")
        extra = ["INPUT.TRANSFORMS", "['normalize']", "TEST.FINAL_MODEL", "best_val", "TRAINER.CACHE_FEATURES", cache]
        assert main(base_args(data, out, epochs=3, extra=extra)) == 0
        ckpt = torch.load(os.path.join(out, "prompt_learner", "model.pth.tar-3"), weights_only=True)
        runs[cache] = (len(calls), ckpt["state_dict"]["ctx"], json.load(open(os.path.join(out, "results.json"))))
    assert "Cached image features" in capsys.readouterr().out
    (n_cached, ctx_cached, res_cached), (n_plain, ctx_plain, res_plain) = runs["True"], runs["False"]
    assert torch.allclose(ctx_cached, ctx_plain, atol=1e-6) and res_cached == res_plain
    assert n_cached == 3 < n_plain  # train set once, val once, test once (one batch each, none empty)



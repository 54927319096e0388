"""Smoke test of bench/bench.py: tiny backbone, batch 1, 3 classes, one step (well under a minute)."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench", "bench.py")
TINY = ["--backbone", "ViT-S-32", "--batch-size", "1", "--classes", "3", "--steps", "1", "--warmup", "0",
        "--eval-batches", "1", "--bound-reps", "1", "--threads", "1"]


def _run(args, tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, BENCH, *TINY, *args, "--json", str(out)], cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # size fixed by --steps 1
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(out.read_text()), p.stdout


def test_bench_smoke(tmp_path):
    # in-process: CoOp (cached image features, text bound) and CoCoOp (per-image loop as naive)
    rep, stdout = _run(["--methods", "CoOp,CoCoOp", "--in-process"], tmp_path)
    assert {"cpu_count", "platform", "torch"} <= set(rep["machine"])
    assert rep["settings"]["classes"] == 3 and rep["settings"]["batch_size"] == 1
    for name in ("CoOp", "CoCoOp"):
        r = rep["methods"][name]
        assert "error" not in r, r.get("error")
        for key in ("step_s", "step_s_naive", "eval_s", "peak_mem_mb", "bound_s", "speedup"):
            assert isinstance(r[key], float) and r[key] >= 0, (name, key)
        assert r["image_features_cached"] and r["bound_image_s"] == 0 and r["bound_text_s"] > 0
        assert r["naive"]["image_features_cached"] is False
    assert "| CoOp |" in stdout and "| CoCoOp |" in stdout
    # the real path: a fresh subprocess per variant (honest peak memory); VPT's bound is image-only
    rep, _ = _run(["--methods", "VPT", "--no-naive"], tmp_path)
    r = rep["methods"]["VPT"]
    assert "error" not in r, r.get("error")
    assert r["bound_text_s"] == 0 and r["bound_image_s"] > 0 and r["peak_mem_mb"] >= 0
    assert "setup_text_cache_s" in r and "step_s_naive" not in r


NEW = ("KgCoOp", "CLIP_Adapter", "TipAdapter", "TipAdapterF", "PromptSRC", "ProGrad")


def test_bench_new_methods(tmp_path):
    # `--methods new` = issue 12's six methods; in-process, optimised and naive, one shot per class for the caches
    rep, stdout = _run(["--methods", "new", "--in-process", "--shots", "1", "--no-eval-naive"], tmp_path)
    assert tuple(rep["methods"]) == NEW
    for name in NEW:
        r = rep["methods"][name]
        assert "error" not in r and "naive_error" not in r, (name, r.get("error"), r.get("naive_error"))
        assert isinstance(r["eval_s"], float) and r["eval_s"] > 0, name
    tip = rep["methods"]["TipAdapter"]                   # no training step: cache build and evaluation instead
    assert "step_s" not in tip and tip["trainable_params"] == 0 and tip["cache_images"] == 3
    assert tip["cache_build_s"] > 0 and tip["eval_s_naive"] > 0 and "bound_s" not in tip
    for name in ("CLIP_Adapter", "TipAdapterF"):         # train on cached image features: nothing to bound
        r = rep["methods"][name]
        assert r["image_features_cached"] and r["bound_s"] == 0 and r["step_s"] > 0 and r["trainable_params"] > 0
        assert r["naive"]["image_features_cached"] is False and r["step_s_naive"] > 0
    assert rep["methods"]["TipAdapterF"]["cache_images"] == 3
    for name in ("KgCoOp", "ProGrad"):                   # text prompts: the bound is the text pass
        r = rep["methods"][name]
        assert r["bound_text_s"] > 0 and r["bound_image_s"] == 0 and r["speedup"] > 0
    src = rep["methods"]["PromptSRC"]                    # both encoders carry prompts
    assert src["bound_text_s"] > 0 and src["bound_image_s"] > 0
    assert "Cache methods" in stdout and "| TipAdapter | 3 |" in stdout and "| PromptSRC |" in stdout

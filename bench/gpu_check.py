#!/usr/bin/env python
"""GPU check: real peak memory and step time of every method at ImageNet scale (≈ 5-10 min, one GPU).

For each method of ``mvlpt.prompts.LEARNERS`` (constructor defaults, i.e. ``text_chunk="auto"``) it
runs training steps (forward_train + cross-entropy + backward + SGD with momentum) on random images
and random frozen CLIP weights (speed and memory do not depend on the values) in

* ``fp32`` (TF32 matmuls allowed, the engine's default ``TRAINER.ALLOW_TF32 True``),
* ``bf16`` (autocast), ``fp16`` (autocast + ``GradScaler``),
* ``compile``: fp32 with the frozen encoder blocks through ``torch.compile`` (``TRAINER.COMPILE True``;
  only ``--compile-methods``, compilation takes minutes),
* ``ddp2``: 2 processes, NCCL, gradients all-reduced as the engine does (only with >= 2 GPUs,
  ``--ddp-methods``),

each case in a fresh subprocess (honest peaks, an out-of-memory or compile failure stays one cell),
and prints one table: peak ``torch.cuda.max_memory_allocated`` (GiB, absolute: weights included,
comparable with ``python -m mvlpt.estimate``), peak reserved, median step time. ``--estimate`` adds
the meta-device estimate of fp32/bf16 next to the measurement (a few minutes more on CPU).

    python bench/gpu_check.py                                   # ViT-B/16, 1000 classes, batch 32
    python bench/gpu_check.py --backbone ViT-L/14 --json out.json
    python bench/gpu_check.py --device cpu --backbone mvlpt-tiny --classes 10 --steps 1   # wiring only

Tests never run this script.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

GiB = 2 ** 30
PRECS = ("fp32", "bf16", "fp16")


def run_case(spec):
    """One (method, mode) in this process; returns a result dict. ``spec['rank']`` set under DDP."""
    import torch
    import torch.nn.functional as F

    from mvlpt.clip import load_clip
    from mvlpt.clip.model import configure_tf32
    from mvlpt.estimate import class_names
    from mvlpt.prompts import LEARNERS

    rank, world = spec.get("rank", 0), spec.get("world", 1)
    if world > 1:
        import torch.distributed as dist

        torch.cuda.set_device(rank)
        dist.init_process_group("nccl", rank=rank, world_size=world)
    device = torch.device(spec["device"], rank) if spec["device"] == "cuda" else torch.device(spec["device"])
    cuda = device.type == "cuda"
    prec = spec["prec"]
    configure_tf32(not spec.get("no_tf32"), device)
    torch.manual_seed(rank)
    clip = load_clip(spec["backbone"], pretrained="none", device=device)
    if spec.get("compile"):
        clip.compile(backend=spec.get("compile_backend", "inductor"))
    names = class_names(spec["classes"])
    m = LEARNERS[spec["method"]](clip, names).to(device)
    m.train()
    params = [p for _, p in m.trainable_named_parameters()]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9) if params else None
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
    scaler = torch.amp.GradScaler(device.type, enabled=prec == "fp16" and bool(params))
    B = spec["batch_size"]
    images = torch.randn(B, 3, clip.image_size, clip.image_size, device=device)
    labels = torch.randint(0, len(names), (B,), device=device)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            if not params:
                with torch.no_grad():
                    return m(images)
            logits, terms = m.forward_train(images, labels=labels)
            loss = F.cross_entropy(logits.float(), labels) + sum(terms.values())
        scaler.scale(loss).backward()
        if world > 1:
            import torch.distributed as dist

            for p in params:   # the engine's averaging: every rank, same tensors, same order
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                dist.all_reduce(g)
                p.grad = g / world
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    out = {"method": spec["method"], "mode": spec["mode"]}
    t = time.perf_counter()
    for _ in range(spec["warmup"]):
        step()
    sync()
    out["warmup_s"] = time.perf_counter() - t
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(spec["steps"]):
        sync()
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    out["step_s"] = statistics.median(times)
    out["text_chunks"] = clip.last_text_chunks
    if cuda:
        out["peak_gib"] = torch.cuda.max_memory_allocated(device) / GiB
        out["reserved_gib"] = torch.cuda.max_memory_reserved(device) / GiB
        out["gpu"] = torch.cuda.get_device_name(device)
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return out


def spawn(spec, timeout):
    """Run ``spec`` in fresh subprocess(es) (``world`` ranks); the result of rank 0 or an error."""
    world = spec.get("world", 1)
    files, procs = [], []
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 1000))
    for rank in range(world):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(dict(spec, rank=rank), f)
        f.close()
        files.append(f.name)
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", f.name], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    try:
        errs = [p.communicate(timeout=timeout)[1] for p in procs]
        if procs[0].returncode != 0:
            rc = procs[0].returncode
            lines = [ln for ln in (errs[0] or "").strip().splitlines() if ln.strip()]
            why = lines[-1] if lines else f"exit {rc}"
            if "OutOfMemoryError" in (errs[0] or "") or "out of memory" in (errs[0] or ""):
                why = "out of memory"
            return {"error": why[:120]}
        with open(files[0]) as fh:
            return json.load(fh)
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        return {"error": f"timeout after {timeout:.0f}s"}
    finally:
        for f in files:
            os.unlink(f)


def table(rows, estimates):
    head = "| method | mode | peak GiB | reserved GiB | step s | text chunks |" + (" estimate GiB |" if estimates else "")
    out = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        if "error" in r:
            cells = [r["method"], r["mode"], "error: " + r["error"], "", "", ""]
        else:
            f = (lambda k: f"{r[k]:.2f}" if r.get(k) is not None else "—")
            cells = [r["method"], r["mode"], f("peak_gib"), f("reserved_gib"), f"{r['step_s']:.3f}",
                     str(r.get("text_chunks", "—"))]
        if estimates:
            e = estimates.get((r["method"], r["mode"]))
            cells.append(f"{e:.2f}" if e is not None else "—")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="ViT-B/16")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cuda", help="cuda (the check) or cpu (wiring only: no memory figures)")
    ap.add_argument("--methods", default="", help="comma list (default: every method of mvlpt.prompts.LEARNERS)")
    ap.add_argument("--precs", default=",".join(PRECS), help="comma list of fp32, bf16, fp16")
    ap.add_argument("--compile-methods", default="CoOp", help="methods also run with TRAINER.COMPILE (none: '')")
    ap.add_argument("--compile-backend", default="inductor")
    ap.add_argument("--ddp-methods", default="CoOp,MaPLe", help="methods also run with 2-process NCCL DDP")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-tf32", action="store_true", help="fp32 without TF32 (TRAINER.ALLOW_TF32 False)")
    ap.add_argument("--timeout-s", type=float, default=180, help="per case")
    ap.add_argument("--budget-s", type=float, default=540, help="start no new case after this")
    ap.add_argument("--estimate", action="store_true", help="add the meta-device estimate (fp32/bf16 rows)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        with open(a.worker) as f:
            spec = json.load(f)
        res = run_case(spec)
        if spec.get("rank", 0) == 0:
            with open(a.worker, "w") as f:
                json.dump(res, f)
        return 0

    import torch

    from mvlpt.prompts import LEARNERS

    if a.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu for a wiring check (no memory figures)", file=sys.stderr)
        return 2
    methods = [m.strip() for m in a.methods.split(",") if m.strip()] or list(LEARNERS)
    split = (lambda s: [x.strip() for x in s.split(",") if x.strip()])
    base = dict(backbone=a.backbone, classes=a.classes, batch_size=a.batch_size, device=a.device,
                steps=a.steps, warmup=a.warmup, no_tf32=a.no_tf32)
    cases = [dict(base, method=m, prec=p, mode=p) for m in methods for p in split(a.precs)]
    cases += [dict(base, method=m, prec="fp32", mode="compile", compile=True, compile_backend=a.compile_backend)
              for m in split(a.compile_methods)]
    ngpu = torch.cuda.device_count() if a.device == "cuda" else 0
    if ngpu >= 2:
        cases += [dict(base, method=m, prec="fp32", mode="ddp2", world=2) for m in split(a.ddp_methods)]
    t0, rows = time.perf_counter(), []
    for spec in cases:
        if time.perf_counter() - t0 > a.budget_s:
            rows.append({"method": spec["method"], "mode": spec["mode"], "error": "skipped (--budget-s)"})
            continue
        r = dict(spawn(spec, a.timeout_s), method=spec["method"], mode=spec["mode"])
        rows.append(r)
        print(f"[{time.perf_counter() - t0:6.0f}s] {r['method']} {r['mode']}: "
              + (r.get("error") or f"{r['step_s']:.3f}s/step"
                 + (f", peak {r['peak_gib']:.2f} GiB" if "peak_gib" in r else "")),
              file=sys.stderr, flush=True)
    estimates = {}
    if a.estimate:
        from mvlpt.estimate import estimate_step

        for m in methods:
            for p in ("fp32", "bf16"):
                try:
                    estimates[(m, p)] = estimate_step(m, a.backbone, a.classes, a.batch_size, p)["peak_bytes"] / GiB
                except Exception:  # noqa: BLE001
                    pass
    gpu = next((r["gpu"] for r in rows if "gpu" in r), a.device)
    print(f"\n{a.backbone}, {a.classes} classes, batch {a.batch_size}, {gpu}"
          f"{'' if ngpu < 2 else f' ({ngpu} GPUs)'}; step = median of {a.steps}\n")
    print(table(rows, estimates))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": vars(a), "rows": rows,
                       "estimates": {f"{k[0]}/{k[1]}": v for k, v in estimates.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Speed / memory benchmark of the mvlpt prompt learners: optimised vs naive (official) behaviour.

For each method it times one **training step** (forward + cross-entropy + backward + SGD step on the
prompt parameters) and one **evaluation pass** (``--eval-batches`` batches, eval mode, no grad), once
with every optimisation of the core on ("optimised") and once with all of them off ("naive", the
official code's behaviour), and measures the **bound**: the encoder passes the optimised step cannot
avoid, timed on their own.

Optimisations (per variant flag; ``--ablations`` also runs each one switched off alone):

=============  ===============================================================  ==================
flag           optimised                                                        naive
=============  ===============================================================  ==================
``trim``       prompts cut to the longest class prompt (``trim_text=True``)     77 tokens
``cache``      frozen text features once per class list / eval pass            re-encoded per step
``imgcache``   text-only methods (CoOp, CoCoOp; ELEVATER protocol, no           image encoder every
               augmentation): image features computed once per image           step
``batched``    CoCoOp: one batched text pass over B*n_cls prompts              per-image loop
                                                                                (``text_chunk=n_cls``)
``chunk``      ``text_chunk="auto"``: chunks sized to the memory budget         one text pass
=============  ===============================================================  ==================

Usage (``--device meta``: no timing, the peak-memory estimate of ``python -m mvlpt.estimate``)::

    python bench/bench.py --backbone ViT-B-32 --batch-size 8 --classes 100 \\
        [--methods CoOp,VPT,...] [--device cpu|cuda] [--steps 3 --warmup 1] --json /tmp/bench.json

The training step is the engine's: ``forward_train`` (the method's own loss terms: KgCoOp's KG term,
PromptSRC's self-regulating terms and its frozen-image teacher pass), cross-entropy plus the terms,
backward, ``transform_gradients`` (ProGrad's projection, after its second backward for the KL gradient),
SGD step. Cache methods (Tip-Adapter, -F) first build their cache from ``--shots`` images per class
(timed: ``cache_build_s``); Tip-Adapter has no training step (only the cache build and the evaluation
pass are reported, ``--methods new`` = the six methods of issue 12).

Every (method, variant) runs in a fresh subprocess so that peak memory is honest (CPU: peak RSS via
``/proc/self/status`` VmHWM, reset through ``/proc/self/clear_refs``; fallback ``ru_maxrss``;
CUDA: ``torch.cuda.max_memory_allocated``). ``peak_mem_mb`` is the increase over the resident size
after setup (frozen CLIP, learner, data, caches), i.e. what the training step itself needs.
"""
import argparse
import contextlib
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# name -> (learner, kwargs). MVLPT names follow the MVLPT recipe (MCoOp / MVPT / MUPT).
METHODS = {
    "CoOp": ("CoOp", dict(n_ctx=16, position="end")),
    "CoCoOp": ("CoCoOp", dict(n_ctx=4, ctx_init="a photo of a")),
    "VPT": ("VPT", dict(n_ctx=8, deep=False, position="after_cls")),               # VPT-shallow
    "UPT": ("UPT", dict(n_ctx_text=4, n_ctx_vision=4, coupling="attention")),      # paper's coupling
    "MaPLe": ("MaPLe", dict(n_ctx=2, depth=9, ctx_init="a photo of a")),
    "IVLP": ("IVLP", dict(n_ctx_text=2, n_ctx_vision=2, depth_text=9, depth_vision=9)),
    "MCoOp": ("CoOp", dict(n_ctx=16, position="middle")),
    "MVPT": ("VPT", dict(n_ctx=8, deep=True, position="after_cls")),
    "MUPT": ("UPT", dict(n_ctx_text=4, n_ctx_vision=4, coupling="tokenwise")),
    # issue 12's methods, each with its official settings (the learners' defaults)
    "KgCoOp": ("KgCoOp", dict(n_ctx=4, ctx_init=True, w=8.0)),                    # + the KG term
    "CLIP_Adapter": ("CLIP_Adapter", dict(reduction=4, ratio=0.2)),               # trains on image features
    "TipAdapter": ("TipAdapter", dict(init_alpha=1.0, init_beta=1.0)),            # nothing trains: cache + eval
    "TipAdapterF": ("TipAdapterF", dict(init_alpha=1.0, init_beta=1.0)),          # fine-tunes the cache keys
    "PromptSRC": ("PromptSRC", dict(n_ctx_text=4, n_ctx_vision=4, depth_text=9, depth_vision=9)),  # 60-template teacher
    "ProGrad": ("ProGrad", dict(n_ctx=16, ctx_init=True)),                        # two backward passes
}
DEFAULT_METHODS = "CoOp,CoCoOp,VPT,UPT,MaPLe,MCoOp,MVPT,MUPT"
#: ``--methods`` shorthands
METHOD_GROUPS = {"new": "KgCoOp,CLIP_Adapter,TipAdapter,TipAdapterF,PromptSRC,ProGrad",
                 "default": DEFAULT_METHODS}
#: methods without a training step: the cache build and the evaluation pass are timed instead
TRAINING_FREE = {"TipAdapter"}

OPT = dict(trim=True, cache=True, imgcache=True, batched=True, chunk=True)
NAIVE = dict(trim=False, cache=False, imgcache=False, batched=False, chunk=False)

# real-ish words for synthetic class names (1-3 words each: 1-8 BPE tokens, like real label sets)
WORDS = """apple armadillo balloon bamboo barn basket beetle bicycle biscuit blossom boulder bracelet
bridge broccoli buffalo butterfly cabbage cactus camel candle canoe canyon cardinal carousel castle
cathedral cello chameleon cheetah chestnut chimney cinnamon clarinet cliff cobra compass coral cottage
coyote crane cricket crocodile cucumber daisy dandelion desert dolphin dragonfly eagle eggplant elephant
emerald falcon ferret fjord flamingo forest fountain fox galaxy gazelle geyser giraffe glacier gondola
gorilla granite harbor harp hedgehog heron hibiscus hippo hummingbird iguana island jaguar jellyfish
kangaroo kayak kettle koala lagoon lantern lemur leopard lighthouse lily lobster lynx macaw magnolia
mandolin mango marmot meadow meerkat mongoose moose mosque mushroom narwhal nectarine nightingale
oasis octopus orchid ostrich otter owl pagoda panda pangolin papaya parrot peacock pelican penguin
pepper pheasant piano pineapple platypus poppy porcupine pretzel puffin pumpkin quail quartz raccoon
radish raven reindeer rhino saxophone scorpion seahorse sequoia shrimp skyscraper sloth snail sparrow
squirrel starfish stingray sunflower swan tamarind tapir temple thistle tiger tortoise toucan trombone
tulip turnip umbrella urchin valley violin volcano vulture walnut walrus warbler waterfall weasel whale
willow wolf wombat woodpecker yak zebra""".split()
ADJ = """red blue green golden spotted striped giant dwarf wild common lesser greater northern southern
eastern western alpine desert arctic tropical royal crested horned ringed""".split()


def class_names(n: int, kind: str = "imagenet", seed: int = 0):
    """``n`` class names: ImageNet-1k names (shuffled, seeded) or synthetic 1-3 word names."""
    rng = random.Random(seed)
    names = []
    if kind == "imagenet":
        try:
            from mvlpt.data._imagenet_names import IMAGENET_CLASSNAMES
            names = list(IMAGENET_CLASSNAMES)
            rng.shuffle(names)
        except ImportError:
            names = []
    seen = set(names)
    while len(names) < n:  # synthetic (or beyond the 1,000 ImageNet names)
        k = rng.choice([1, 1, 2, 2, 2, 3])
        w = [rng.choice(ADJ)] * (k == 3) + [rng.choice(WORDS) for _ in range(min(k, 2))]
        name = " ".join(w)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names[:n]


# ============================================================================ worker (one variant)
def _rss_kb(field="VmRSS"):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMem:
    """Peak memory increase of a code region (CUDA allocator, or process RSS on CPU)."""

    def __init__(self, device):
        self.device = device
        self.method = None

    def start(self):
        import torch

        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            self.method = "torch.cuda.max_memory_allocated"
            return
        self.base = _rss_kb() or 0
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            self.method = "VmHWM (reset via clear_refs) - VmRSS"
        except OSError:
            self.method = "ru_maxrss - VmRSS (monotonic: may include setup)"

    def stop_mb(self):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - self.base) / 2 ** 20, torch.cuda.max_memory_allocated() / 2 ** 20
        peak = _rss_kb("VmHWM") if self.method.startswith("VmHWM") else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(0.0, (peak - self.base) / 1024), peak / 1024


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device, n, warmup, budget_s, slow_s):
    """Median-ready list of timings: ``warmup`` untimed calls, then up to ``n`` timed ones.

    A warmup call slower than ``slow_s`` counts as a timed call (one-off costs are negligible
    against it); timing stops once ``budget_s`` is spent and at least one call was timed."""
    times, cpu, t_all = [], [], time.perf_counter()
    for i in range(warmup + n):
        _sync(device)
        t, c = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        if i >= warmup or dt > slow_s:
            times.append(dt)
            cpu.append(dc)
        if len(times) >= n or (times and time.perf_counter() - t_all > budget_s):
            break
    return times, cpu


def _leaf(v):
    import torch

    if isinstance(v, torch.Tensor):
        return v.detach().clone().requires_grad_(v.is_floating_point())
    if isinstance(v, (list, tuple)):
        return type(v)(_leaf(x) for x in v)
    if isinstance(v, dict):
        return {k: _leaf(x) for k, x in v.items()}
    return v


def run_variant(spec: dict) -> dict:
    """Set up one (method, variant) and time its step, eval pass and (optimised) bound."""
    import torch
    import torch.nn.functional as F

    from mvlpt.clip import load_clip
    from mvlpt.prompts import build_learner

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    device = torch.device(spec["device"])
    v = spec["variant"]
    out = {"variant_flags": v}
    learner, kw = METHODS[spec["method"]]
    names = class_names(spec["classes"], spec["names"])

    clip = load_clip(spec["backbone"], pretrained=spec["pretrained"], device=device)
    clip.grad_checkpointing = bool(spec.get("grad_ckpt"))
    kw = dict(kw, trim_text=v["trim"], cache=v["cache"])
    if learner == "CoCoOp" and not v["batched"]:
        kw["text_chunk"] = len(names)          # the official per-image loop: n_cls prompts at a time
    elif not v.get("chunk", True):
        kw["text_chunk"] = 0                   # the official single text pass
    elif spec.get("text_chunk") not in (None, "", "auto"):
        kw["text_chunk"] = spec["text_chunk"]
    m = build_learner(learner, clip, names, **kw).to(device)
    m.train()
    B = spec["batch_size"]
    g = torch.Generator().manual_seed(0)
    amp = (torch.autocast(device.type, dtype=torch.bfloat16) if spec.get("amp") == "bf16"
           else contextlib.nullcontext())
    if hasattr(m, "build_cache"):  # Tip-Adapter(-F): the key-value cache of shots x classes training images
        n = max(1, int(spec.get("shots", 4))) * len(names)
        shot_images = torch.randn(n, 3, clip.image_size, clip.image_size, generator=g)
        shot_labels = (torch.arange(n) % len(names)).to(device)
        _sync(device)
        t, c = time.perf_counter(), time.process_time()
        with torch.no_grad(), amp:
            f = torch.cat([m.encode_images(shot_images[i:i + B].to(device)) for i in range(0, n, B)])
        m.build_cache(f, shot_labels)
        _sync(device)
        out["cache_build_s"], out["cache_build_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        out["cache_images"] = n
    params = [p for _, p in m.trainable_named_parameters()]
    out["trainable_params"] = sum(p.numel() for p in params)
    out["text_len"] = int(m.token_suffix.shape[1] + 1 + m.n_ctx) if hasattr(m, "token_suffix") else None
    opt = torch.optim.SGD(params, lr=2e-3, momentum=0.9) if params else None
    images = torch.randn(B, 3, clip.image_size, clip.image_size, generator=g).to(device)
    labels = torch.randint(0, len(names), (B,), generator=g).to(device)
    use_feats = v["imgcache"] and not m.vision_trainable
    out["image_features_cached"] = use_feats

    # one-off setup costs (not part of the step): cached image features, fixed text features
    feats = None
    if use_feats:
        with torch.no_grad(), amp:
            _sync(device)
            t = time.perf_counter()
            feats = m.encode_images(images)
            _sync(device)
        out["setup_image_features_s_per_batch"] = time.perf_counter() - t
    if v["cache"] and not m.text_trainable:
        with torch.no_grad(), amp:
            _sync(device)
            t = time.perf_counter()
            m.text_features(m.make_prompts())
            _sync(device)
        out["setup_text_cache_s"] = time.perf_counter() - t

    if hasattr(m, "fixed_embeddings"):  # PromptSRC's frozen teacher (60 templates): once per class list, as officially
        with torch.no_grad(), amp:
            _sync(device)
            t = time.perf_counter()
            m.fixed_embeddings()
            _sync(device)
        out["setup_teacher_s"] = time.perf_counter() - t

    def step():  # the engine's step (mvlpt.engine.step): forward_train, CE + terms, backward, transform_gradients
        opt.zero_grad(set_to_none=True)
        with amp:
            logits, terms = (m.forward_train(image_features=feats, labels=labels) if use_feats
                             else m.forward_train(images, labels=labels))
            loss = F.cross_entropy(logits.float(), labels) + sum(terms.values(), torch.zeros((), device=device))
        loss.backward()
        m.transform_gradients()
        opt.step()

    mem = PeakMem(device)
    if params:
        mem.start()
        times, cpu = _timed(step, device, spec["steps"], spec["warmup"], spec["budget_s"], spec["slow_s"])
        out["peak_mem_mb"], out["peak_abs_mb"] = mem.stop_mb()
        out["peak_mem_method"] = mem.method
        out["step_times"] = times
        out["step_s"] = statistics.median(times)
        out["step_cpu_times"] = cpu
        out["step_cpu_s"] = statistics.median(cpu)

    if spec.get("eval"):
        def eval_pass():
            with torch.no_grad():
                for p in params:          # parameters changed since the last pass (as after training)
                    p.add_(0)
            m.eval()
            with torch.no_grad(), amp:
                for _ in range(spec["eval_batches"]):
                    m(images).argmax(-1)
            m.train()

        mem.start()
        et, ec = _timed(eval_pass, device, spec.get("eval_reps", 1), 0, spec["budget_s"], spec["slow_s"])
        out["eval_peak_mem_mb_lower_bound"], _ = mem.stop_mb()  # freed step memory is reused
        out["eval_times"], out["eval_cpu_times"] = et, ec
        out["eval_s"], out["eval_cpu_s"] = statistics.median(et), statistics.median(ec)

    if spec.get("bound"):
        out.update(measure_bound(m, clip, images, feats, use_feats, spec, device, amp))
    return out


def measure_bound(m, clip, images, feats, use_feats, spec, device, amp):
    """Time the encoder passes an optimised step cannot avoid, with the step's own inputs:
    image encoder fwd+bwd through the visual prompts (if they train) and text encoder fwd+bwd
    through the text prompts (if they train; CoCoOp: the batched B*n_cls pass)."""
    rec = {}
    orig_text, orig_img = m.encode_text_embeddings, m.encode_images

    def rec_text(x, eot, deep=None):
        rec["text"] = (x, eot, deep)
        return orig_text(x, eot, deep)

    def rec_img(imgs, state=None):
        state = m.make_prompts() if state is None else state
        rec["image"] = (imgs, state.get("vision", {}))
        return orig_img(imgs, state)

    m.encode_text_embeddings, m.encode_images = rec_text, rec_img
    try:
        with amp:
            m(image_features=feats) if use_feats else m(images)
    finally:
        del m.encode_text_embeddings, m.encode_images
    out = {"bound_image_s": 0.0, "bound_text_s": 0.0, "bound_image_cpu_s": 0.0, "bound_text_cpu_s": 0.0}
    reps, W = spec.get("bound_reps", 2), spec["warmup"]
    if m.vision_trainable and "image" in rec:
        imgs, kw = rec["image"]
        kw = _leaf(kw)

        def vis():
            with amp:
                f = clip.encode_image(imgs, **kw)
            f.float().sum().backward()

        t, c = _timed(vis, device, reps, W, spec["budget_s"], spec["slow_s"])
        out["bound_image_s"], out["bound_image_cpu_s"] = statistics.median(t), statistics.median(c)
    if m.text_trainable and "text" in rec:
        x, eot, deep = rec["text"]
        x, deep = _leaf(x), _leaf(deep)
        chunk = m.text_chunk

        def txt():
            with amp:
                f = clip.encode_text_chunked(x, eot, deep, chunk=chunk)
            f.float().sum().backward()

        t, c = _timed(txt, device, reps, W, spec["budget_s"], spec["slow_s"])
        out["bound_text_s"], out["bound_text_cpu_s"] = statistics.median(t), statistics.median(c)
        out["bound_text_rows"] = int(x.shape[0])
        out["bound_text_len"] = int(x.shape[1])
    out["bound_s"] = out["bound_image_s"] + out["bound_text_s"]
    out["bound_cpu_s"] = out["bound_image_cpu_s"] + out["bound_text_cpu_s"]
    return out


# ============================================================================ driver
def variants_for(method: str, ablations: bool):
    learner = METHODS[method][0]
    vs = {"opt": dict(OPT), "naive": dict(NAIVE)}
    if ablations:
        relevant = ["trim"]
        if learner in ("VPT", "ZeroshotCLIP"):
            relevant.append("cache")
        if learner in ("CoOp", "CoCoOp"):
            relevant.append("imgcache")
        if learner == "CoCoOp":
            relevant.append("batched")
        for f in relevant:
            vs["no_" + f] = dict(OPT, **{f: False})
    return vs


def run_spec(spec, inprocess=False, timeout=None):
    if inprocess:
        try:
            return run_variant(spec)
        except Exception as e:  # noqa: BLE001 - reported in the table
            return {"error": f"{type(e).__name__}: {e}"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        path = f.name
    try:
        t = time.perf_counter()
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if p.returncode != 0:
            tail = (p.stderr or "").strip().splitlines()[-1:] or [""]
            why = "killed (out of memory?)" if p.returncode in (-9, 137) else tail[0]
            return {"error": f"exit {p.returncode}: {why}"}
        with open(path) as f:
            res = json.load(f)
        res["wall_s"] = time.perf_counter() - t
        return res
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout}s"}
    finally:
        os.unlink(path)


def machine_info(device):
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "processor": platform.processor()}
    try:
        import open_clip
        info["open_clip"] = open_clip.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _f(x, fmt="{:.2f}"):
    return "—" if x is None else fmt.format(x)


def _pair(r, wall, cpu, fmt="{:.2f}"):
    """'wall (cpu)' for a timing; the CPU time is robust to other processes on the machine."""
    w, c = r.get(wall), r.get(cpu)
    if w is None:
        return "—"
    return fmt.format(w) + ("" if c is None else " (" + fmt.format(c) + ")")


def table(results: dict) -> str:
    rows = ["| method | step optimised (s) | img/s | step naive (s) | speed-up | eval (s) | eval naive (s) "
            "| peak MB opt / naive | bound (s) | step / bound |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if "error" in r and "step_s" not in r:
            rows.append(f"| {name} | error: {r['error']} |  |  |  |  |  |  |  |  |")
            continue
        naive = _pair(r, "step_s_naive", "step_cpu_s_naive") if r.get("step_s_naive") is not None \
            else r.get("naive_error", "—")
        rows.append(f"| {name} | {_pair(r, 'step_s', 'step_cpu_s')} | {_f(r.get('images_per_s'), '{:.2f}')} | "
                    f"{naive} | {_pair(r, 'speedup', 'speedup_cpu', '{:.1f}×')} | "
                    f"{_pair(r, 'eval_s', 'eval_cpu_s')} | {_pair(r, 'eval_s_naive', 'eval_cpu_s_naive')} | "
                    f"{_f(r.get('peak_mem_mb'), '{:.0f}')} / {_f(r.get('peak_mem_mb_naive'), '{:.0f}')} | "
                    f"{_pair(r, 'bound_s', 'bound_cpu_s')} | {_pair(r, 'step_over_bound', 'step_over_bound_cpu', '{:.2f}×')} |")
    abl = [(n, r["ablations"]) for n, r in results.items() if r.get("ablations")]
    if abl:
        rows += ["", "Ablations (optimised step with one optimisation switched off; slowdown vs optimised):", "",
                 "| method | switched off | step (s) | slowdown |", "|---|---|---|---|"]
        for n, a in abl:
            for k, r in a.items():
                if r.get("step_s"):
                    slow = f"{r['step_s'] / results[n]['step_s']:.1f}×"
                    if r.get("step_cpu_s") and results[n].get("step_cpu_s"):
                        slow += f" ({r['step_cpu_s'] / results[n]['step_cpu_s']:.1f}×)"
                else:
                    slow = r.get("error", "—")
                rows.append(f"| {n} | {k[3:]} | {_pair(r, 'step_s', 'step_cpu_s')} | {slow} |")
    cache = [(n, r) for n, r in results.items() if r.get("cache_build_s") is not None]
    if cache:
        rows += ["", "Cache methods (Tip-Adapter, -F): building the cache (frozen image encoder over the shots, "
                     "one pass) and the evaluation pass:", "",
                 "| method | cache images | cache build (s) | eval (s) | eval naive (s) | eval speed-up |",
                 "|---|---|---|---|---|---|"]
        for n, r in cache:
            rows.append(f"| {n} | {r.get('cache_images', '—')} | {_pair(r, 'cache_build_s', 'cache_build_cpu_s')} | "
                        f"{_pair(r, 'eval_s', 'eval_cpu_s')} | {_pair(r, 'eval_s_naive', 'eval_cpu_s_naive')} | "
                        f"{_pair(r, 'eval_speedup', 'eval_speedup_cpu', '{:.1f}×')} |")
    rows += ["", "Times are medians, wall clock (in brackets: process CPU time, robust to other load; "
                 "with --threads 1 it equals compute time). speed-up = naive / optimised step; "
                 "step / bound = optimised step / unavoidable encoder passes."]
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="ViT-B-32")
    ap.add_argument("--pretrained", default="none", help="weights (random 'none' is enough for timing)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--names", choices=["imagenet", "synthetic"], default="imagenet",
                    help="class names: ImageNet-1k names (synthetic beyond 1,000) or synthetic 1-3 word names")
    ap.add_argument("--methods", default=DEFAULT_METHODS,
                    help=f"comma list of {', '.join(METHODS)}; 'new' = {METHOD_GROUPS['new']}")
    ap.add_argument("--shots", type=int, default=4, help="Tip-Adapter(-F): cache images per class")
    ap.add_argument("--device", default="cpu",
                    help="cpu | cuda | meta (meta: the memory estimate of python -m mvlpt.estimate, no timing)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--steps", type=int, default=3, help="timed training steps (optimised)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--naive-steps", type=int, default=None, help="timed naive steps (default --steps)")
    ap.add_argument("--naive-warmup", type=int, default=None, help="naive warmup steps (default --warmup)")
    ap.add_argument("--budget-s", type=float, default=120.0,
                    help="stop timing a phase once this is spent and one call was timed")
    ap.add_argument("--slow-s", type=float, default=30.0,
                    help="a warmup call slower than this counts as a timed call")
    ap.add_argument("--eval-batches", type=int, default=2, help="batches in one evaluation pass")
    ap.add_argument("--no-eval-naive", action="store_true", help="skip the naive evaluation pass")
    ap.add_argument("--no-naive", action="store_true", help="optimised variant only")
    ap.add_argument("--bound-reps", type=int, default=2)
    ap.add_argument("--ablations", action="store_true", help="also time each optimisation switched off alone")
    ap.add_argument("--amp", choices=["none", "bf16"], default="none")
    ap.add_argument("--grad-ckpt", action="store_true", help="clip.grad_checkpointing = True")
    ap.add_argument("--text-chunk", default="auto",
                    help="text_chunk for the optimised variant: auto (default), 0 (one pass) or N prompts")
    ap.add_argument("--timeout-s", type=float, default=None, help="per (method, variant) subprocess")
    ap.add_argument("--in-process", action="store_true",
                    help="run variants in this process (faster; peak memory less honest)")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--prec", default="fp32,bf16", help="--device meta: precisions to estimate")
    ap.add_argument("--gpu-gb", type=float, default=16.0, help="--device meta: GPU size auto chunking plans for")
    a = ap.parse_args(argv)

    if a.device == "meta":  # no timing: peak tensor memory per method on meta tensors
        from mvlpt.estimate import main as estimate

        names = [m for x in a.methods.split(",") if x.strip() for m in METHOD_GROUPS.get(x.strip(), x.strip()).split(",")]
        meth = [] if a.methods == DEFAULT_METHODS else ["--methods", ",".join(dict.fromkeys(
            METHODS.get(m, (m,))[0] for m in names))]
        return estimate(["--backbone", a.backbone, "--classes", str(a.classes), "--batch-size", str(a.batch_size),
                         "--prec", a.prec, "--gpu-gb", str(a.gpu_gb)] + meth + (["--json", a.json] if a.json else []))

    if a.worker:
        with open(a.worker) as f:
            spec = json.load(f)
        res = run_variant(spec)
        with open(a.worker, "w") as f:
            json.dump(res, f)
        return 0

    methods = list(dict.fromkeys(m for x in a.methods.split(",") if x.strip()
                                 for m in METHOD_GROUPS.get(x.strip(), x.strip()).split(",")))
    unknown = [x for x in methods if x not in METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    base = dict(backbone=a.backbone, pretrained=a.pretrained, batch_size=a.batch_size, classes=a.classes,
                names=a.names, device=a.device, threads=a.threads, budget_s=a.budget_s, slow_s=a.slow_s,
                eval_batches=a.eval_batches, bound_reps=a.bound_reps, amp=a.amp, grad_ckpt=a.grad_ckpt,
                text_chunk=a.text_chunk, shots=a.shots)
    settings = {k: v for k, v in vars(a).items() if k not in ("worker", "json")}
    report = {"machine": machine_info(a.device), "settings": settings, "methods": {}}
    results = report["methods"]
    t0 = time.perf_counter()
    for name in methods:
        r = {}
        for vname, flags in variants_for(name, a.ablations).items():
            if vname != "opt" and a.no_naive:
                continue
            naive = vname == "naive"
            spec = dict(base, method=name, variant=flags,
                        steps=(a.naive_steps if naive and a.naive_steps else a.steps) if vname in ("opt", "naive") else max(1, a.steps - 1),
                        warmup=(a.naive_warmup if naive and a.naive_warmup is not None else a.warmup),
                        eval=vname == "opt" or (naive and (not a.no_eval_naive or name in TRAINING_FREE)),
                        bound=vname == "opt" and name not in TRAINING_FREE)
            print(f"[{time.perf_counter() - t0:7.1f}s] {name}/{vname} ...", file=sys.stderr, flush=True)
            res = run_spec(spec, a.in_process, a.timeout_s)
            print(f"[{time.perf_counter() - t0:7.1f}s] {name}/{vname}: "
                  + (res.get("error") or (f"step {res['step_s']:.3f}s, peak +{res['peak_mem_mb']:.0f} MB"
                                          if "step_s" in res else "no training step")
                     + (f", cache build {res['cache_build_s']:.3f}s" if "cache_build_s" in res else "")
                     + (f", eval {res['eval_s']:.3f}s" if "eval_s" in res else "")
                     + (f", bound {res['bound_s']:.3f}s" if "bound_s" in res else "")),
                  file=sys.stderr, flush=True)
            if vname == "opt":
                r.update(res)
                if "step_s" in res:
                    r["images_per_s"] = a.batch_size / res["step_s"]
                if "eval_s" in res:
                    r["eval_images_per_s"] = a.batch_size * a.eval_batches / res["eval_s"]
            elif naive:
                r["naive"] = res
                if "error" in res:
                    r["naive_error"] = res["error"]
                r["step_s_naive"] = res.get("step_s")
                r["step_cpu_s_naive"] = res.get("step_cpu_s")
                r["eval_s_naive"] = res.get("eval_s")
                r["eval_cpu_s_naive"] = res.get("eval_cpu_s")
                r["peak_mem_mb_naive"] = res.get("peak_mem_mb")
                if res.get("step_s"):
                    r["images_per_s_naive"] = a.batch_size / res["step_s"]
            else:
                r.setdefault("ablations", {})[vname] = res
        if r.get("step_s") and r.get("step_s_naive"):
            r["speedup"] = r["step_s_naive"] / r["step_s"]
        if r.get("step_cpu_s") and r.get("step_cpu_s_naive"):
            r["speedup_cpu"] = r["step_cpu_s_naive"] / r["step_cpu_s"]
        if r.get("step_cpu_s") and r.get("bound_cpu_s"):
            r["step_over_bound_cpu"] = r["step_cpu_s"] / r["bound_cpu_s"]
        if r.get("eval_s") and r.get("eval_s_naive"):
            r["eval_speedup"] = r["eval_s_naive"] / r["eval_s"]
        if r.get("eval_cpu_s") and r.get("eval_cpu_s_naive"):
            r["eval_speedup_cpu"] = r["eval_cpu_s_naive"] / r["eval_cpu_s"]
        if r.get("step_s") and r.get("bound_s"):
            r["step_over_bound"] = r["step_s"] / r["bound_s"]
        results[name] = r
        if a.json:  # keep partial results of long runs
            _write(a.json, report)
    report["total_s"] = time.perf_counter() - t0
    try:
        report["machine"]["loadavg_end"] = os.getloadavg()
    except OSError:
        pass
    md = table(results)
    report["table_md"] = md
    print(f"\n{a.backbone}, batch {a.batch_size}, {a.classes} classes, {a.device}, "
          f"{'bf16 autocast' if a.amp == 'bf16' else 'fp32'}; times are medians\n")
    print(md)
    if a.json:
        _write(a.json, report)
    return 0


def _write(path, report):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())

"""Peak tensor memory of one training step per method, estimated without a GPU.

    python -m mvlpt.estimate --backbone ViT-B/16 --classes 1000 --batch-size 32 [--prec fp32,bf16] \\
        [--methods CoOp,CoCoOp,...] [--gpu-gb 16] [--json OUT.json]

Every method of :data:`mvlpt.prompts.LEARNERS` is built with its constructor defaults (what a user
gets with no flag) and runs one training step (``forward_train`` on a batch of images, cross-entropy,
backward, SGD with momentum) on **fake tensors**: PyTorch's meta device (shapes and dtypes, no data,
no memory) behind CPU-typed tensors, so ``torch.autocast("cpu", bfloat16)`` applies its casts for
``--prec bf16``. A ``TorchDispatchMode`` counts every storage an operation creates and frees it when
the storage dies (autograd's saved tensors included); the peak plus the model's own tensors (frozen
CLIP in fp32, prompts, gradients, optimizer state) is the figure reported. Two variants per method:

* ``default``: the learner's defaults: trimmed prompts, ``text_chunk="auto"`` with the budget of a
  ``--gpu-gb`` GPU (half of what is free when the text pass starts, as on CUDA), caching on;
* ``naive``: the official code's behaviour: 77-token prompts, one text pass, no caching.

Not counted: the CUDA context (≈0.3-0.5 GB), allocator fragmentation, and cuDNN/cuBLAS workspaces.
Attention is traced with PyTorch's CPU kernel choice; ``bench/gpu_check.py`` compares with a GPU.
"""
import argparse
import json
import sys
import time
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

GiB = 2 ** 30


class PeakMemory(TorchDispatchMode):
    """Bytes of the storages created by operations while active: ``current`` and ``peak``.
    Storages are counted once (views and in-place results share them) and released when they die."""

    def __init__(self):
        super().__init__()
        self.current = self.peak = 0
        self._live = {}

    def _add(self, t):
        st = t.untyped_storage()
        key = id(st)
        if key in self._live:
            return
        nbytes = st.nbytes()

        def release(_, key=key, nbytes=nbytes):
            self.current -= nbytes
            self._live.pop(key, None)

        self._live[key] = weakref.ref(st, release)
        self.current += nbytes
        self.peak = max(self.peak, self.current)

    def known(self, tensors):
        """Storages that exist already (the model's): never counted, even when a view of them is made."""
        for t in tensors:
            st = t.untyped_storage()
            self._live.setdefault(id(st), st)   # a strong reference: they outlive the trace anyway

    def reset_peak(self):
        self.peak = self.current

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._add(t)
        return out


def tensor_bytes(module: nn.Module) -> int:
    """Bytes of the distinct storages of a module's parameters and buffers."""
    seen = {}
    for t in list(module.parameters()) + list(module.buffers()):
        st = t.untyped_storage()
        seen[id(st)] = st.nbytes()
    return sum(seen.values())


class _EmbeddingToMeta(nn.Embedding):
    """A CPU token embedding (real token ids in, so learners can build their prompts) whose output moves
    to the meta device while the learner is being built (the encoders are on meta: fixed text features
    that a learner encodes in its constructor - KgCoOp, ProGrad - come out as meta tensors); fake tensors
    (the traced step) pass unchanged."""

    def forward(self, ids):
        from torch._subclasses.fake_tensor import FakeTensor

        out = super().forward(ids)
        return out if isinstance(out, FakeTensor) or out.device.type == "meta" else out.to("meta")


def meta_clip(backbone: str):
    """A :class:`~mvlpt.clip.FrozenCLIP` whose weights live on the meta device (no memory, no
    initialisation cost), except the token embedding, kept on the CPU so that learners can tokenise
    and embed their class prompts when they are built (its output goes to meta: :class:`_EmbeddingToMeta`)."""
    import open_clip

    from mvlpt.clip import FrozenCLIP, open_clip_name

    name = open_clip_name(backbone)
    with torch.device("meta"):
        model = open_clip.create_model(name, pretrained=None, force_quick_gelu=True, device="meta")
    emb = model.token_embedding
    model.token_embedding = _EmbeddingToMeta(emb.num_embeddings, emb.embedding_dim, device="cpu")
    return FrozenCLIP(model, open_clip.get_tokenizer(name), name=name, pretrained="none")


def to_fake(module: nn.Module, mode):
    """Replace every parameter and buffer by a fake CPU tensor of ``mode`` (same shape, dtype and
    ``requires_grad``; the data is dropped)."""
    from torch._subclasses.fake_tensor import FakeTensor

    memo = {}

    def fake(t):
        if id(t) not in memo:
            memo[id(t)] = FakeTensor(mode, t.detach().to("meta"), torch.device("cpu"))
        return memo[id(t)]

    for mod in module.modules():
        for k, p in list(mod._parameters.items()):
            if p is not None:
                mod._parameters[k] = nn.Parameter(fake(p), requires_grad=p.requires_grad)
        for k, b in list(mod._buffers.items()):
            if b is not None:
                mod._buffers[k] = fake(b)
    return module


def class_names(n: int):
    from mvlpt.data._imagenet_names import IMAGENET_CLASSNAMES

    names = list(IMAGENET_CLASSNAMES)[:n]
    return names + [f"{names[i % len(names)] if names else 'class'} {i}" for i in range(len(names), n)]


NAIVE = dict(trim_text=False, text_chunk=0, cache=False)


def estimate_step(learner_name: str, backbone: str = "ViT-B/16", classes: int = 1000, batch_size: int = 32,
                  prec: str = "fp32", naive: bool = False, gpu_gb: float = 16.0, learner_kwargs=None) -> dict:
    """Peak tensor bytes of one training step; returns ``{"peak", "model", "step", "text_chunks", ...}``."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from mvlpt.clip.model import CUDA_FREE_FRACTION
    from mvlpt.prompts import LEARNERS

    if prec not in ("fp32", "bf16"):
        raise ValueError(f"prec must be fp32 or bf16, got {prec!r}")
    clip = meta_clip(backbone)
    kw = dict(learner_kwargs or {}, **(NAIVE if naive else {}))
    learner = LEARNERS[learner_name](clip, class_names(classes), **kw)
    learner.train()
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    tokenize = learner.tokenize

    def real_tokenize(texts):  # fixed-text learners tokenise in their first forward: real ids
        from torch._subclasses.fake_tensor import unset_fake_temporarily

        with unset_fake_temporarily():
            return tokenize(texts)

    learner.tokenize = real_tokenize
    to_fake(learner, mode)
    model_bytes = tensor_bytes(learner)
    tracker = PeakMemory()
    tracker.known(list(learner.parameters()) + list(learner.buffers()))
    gpu = gpu_gb * GiB
    clip.text_memory = lambda device: max(0, CUDA_FREE_FRACTION * (gpu - model_bytes - tracker.current))
    params = [p for _, p in learner.trainable_named_parameters()]
    t0 = time.perf_counter()
    amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16")
    with mode, tracker:
        images = torch.randn(batch_size, 3, clip.image_size, clip.image_size)
        labels = torch.randint(0, classes, (batch_size,))
        if getattr(learner, "needs_train_features", False):  # a 16-shot training set (the same labels each pass)
            shots = torch.arange(classes * 16) % classes
            learner.on_train_begin(lambda: (torch.randn(classes * 16, clip.embed_dim), shots))
        tracker.reset_peak()
        if params:
            opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
            with amp:
                logits, terms = learner.forward_train(images, labels=labels)
                loss = F.cross_entropy(logits.float(), labels) + sum(terms.values())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        else:  # nothing to train: the evaluation forward
            with torch.no_grad(), amp:
                learner(images)
    return {"method": learner_name, "backbone": backbone, "classes": classes, "batch_size": batch_size,
            "prec": prec, "variant": "naive" if naive else "default", "model_bytes": model_bytes,
            "step_bytes": tracker.peak, "peak_bytes": model_bytes + tracker.peak,
            "text_chunks": clip.last_text_chunks, "trace_s": time.perf_counter() - t0}


def table(rows, gpu_gb: float) -> str:
    precs = sorted({r["prec"] for r in rows}, key=["fp32", "bf16"].index)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    get = {(r["method"], r["prec"], r["variant"]): r for r in rows}
    head = "| method | " + " | ".join(f"{p} default | {p} naive" for p in precs) + " | text chunks (fp32 default) |"
    out = [head, "|---" * (2 * len(precs) + 2) + "|"]
    for m in methods:
        cells = []
        for p in precs:
            for v in ("default", "naive"):
                r = get.get((m, p, v))
                if r is None:
                    cells.append("—")
                elif "error" in r:
                    cells.append("error: " + r["error"][:60])
                else:
                    gb = r["peak_bytes"] / GiB
                    cells.append(f"{gb:.1f}" + (" ⚠" if v == "default" and gb > gpu_gb else ""))
        r = get.get((m, precs[0], "default"), {})
        out.append(f"| {m} | " + " | ".join(cells) + f" | {r.get('text_chunks', '—')} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mvlpt.estimate", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--backbone", default="ViT-B/16")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--prec", default="fp32,bf16", help="comma list of fp32, bf16")
    ap.add_argument("--methods", default="", help="comma list (default: every method of mvlpt.prompts.LEARNERS)")
    ap.add_argument("--variants", default="default,naive")
    ap.add_argument("--gpu-gb", type=float, default=16.0, help="GPU size the automatic text chunking plans for")
    ap.add_argument("--json", default=None, help="also write the rows here")
    a = ap.parse_args(argv)
    from mvlpt.prompts import LEARNERS

    methods = [m.strip() for m in a.methods.split(",") if m.strip()] or list(LEARNERS)
    unknown = [m for m in methods if m not in LEARNERS]
    if unknown:
        print(f"unknown methods {unknown}; choose from {', '.join(LEARNERS)}", file=sys.stderr)
        return 2
    rows = []
    for m in methods:
        for p in [x.strip() for x in a.prec.split(",") if x.strip()]:
            for v in [x.strip() for x in a.variants.split(",") if x.strip()]:
                try:
                    r = estimate_step(m, a.backbone, a.classes, a.batch_size, p, v == "naive", a.gpu_gb)
                except Exception as e:  # noqa: BLE001 - one method's failure is a table cell
                    r = {"method": m, "prec": p, "variant": v, "error": f"{type(e).__name__}: {e}"}
                rows.append(r)
                msg = r.get("error") or f"{r['peak_bytes'] / GiB:.2f} GiB, {r['text_chunks']} chunk(s), " \
                                        f"traced in {r['trace_s']:.1f}s"
                print(f"{m} {p} {v}: {msg}", file=sys.stderr, flush=True)
    print(f"\nPeak tensor memory (GiB) of one training step: {a.backbone}, {a.classes} classes, batch "
          f"{a.batch_size}; default = learner defaults planned for a {a.gpu_gb:g} GB GPU, naive = official "
          f"behaviour (77 tokens, one text pass, no caching)\n")
    print(table(rows, a.gpu_gb))
    if a.json:
        from mvlpt.utils import atomic_write_json

        atomic_write_json(a.json, {"settings": vars(a), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

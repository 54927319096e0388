"""A frozen open_clip CLIP with the points where prompts enter.

``FrozenCLIP`` wraps an ``open_clip`` CLIP model (ViT or ResNet image tower, CLIP text transformer)
and re-exposes its two encoders as functions that take prompts:

Text side (``encode_text``)
    input: token embeddings ``x (n, L, d_t)`` (prompt vectors already placed), ``eot (n,)`` the
    end-of-text index per row, and optional ``deep``: a list over layers whose entry ``i`` is
    ``None`` or a tensor ``(k, d_t)`` / ``(n, k, d_t)`` that **replaces** positions ``1..k`` right
    before transformer block ``i`` (entry 0 is ignored: layer-0 prompts are part of ``x``).
    ``L`` may be shorter than 77: positional embedding and causal mask are cut to ``L``, which gives
    the same features as padding to 77 (causal mask: nothing before EOT attends to the padding).
    ``encode_text_chunked`` encodes many prompts in chunks sized to a memory budget (``"auto"``:
    half the free CUDA memory, ``MVLPT_TEXT_MEMORY`` or ``text_memory`` elsewhere; 2 GiB on CPU),
    checkpointing each chunk under grad: same results, memory capped.

Image side (``encode_image``)
    ``shallow (k, d_v)`` or ``(B, k, d_v)`` visual prompt tokens and where they go:
      * ``"after_cls"``: after ``ln_pre``, between the class token and the patches (VPT / MVLPT);
        the sequence is ``[cls, p_1..p_k, patches]``; deep prompts replace positions ``1..k``.
      * ``"after_patches"``: appended after the patches, after the positional embedding and before
        ``ln_pre`` (MaPLe / IVLP); deep prompts replace the last ``k`` positions.
    ``deep`` is a list over layers like the text side (entry ``i`` replaces the prompt positions right
    before block ``i``; ``None`` = carry the previous tokens forward).

All CLIP weights are frozen (``requires_grad=False``) and the module stays in eval mode whatever
``train()`` is called with (there is no dropout in CLIP, but open_clip's patch dropout would be).

Example::

    >>> from mvlpt.clip import load_clip
    >>> clip = load_clip("ViT-B/32", pretrained="none")
    >>> tok = clip.tokenize(["a photo of a dog."])
    >>> feats = clip.encode_text(clip.token_embedding(tok), tok.argmax(-1))   # (1, 512)
"""
import os
import re
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class PromptNotSupported(ValueError):
    pass


#: text-pass memory budget (bytes) where no free-memory figure exists (CPU, meta); ``MVLPT_TEXT_MEMORY``
#: or ``FrozenCLIP.text_memory`` override it
DEFAULT_TEXT_MEMORY = 2 * 2 ** 30
#: on CUDA the text pass may use this fraction of the free memory (the rest of the step needs some)
CUDA_FREE_FRACTION = 0.5
_UNITS = {"": 1, "B": 1, "KB": 2 ** 10, "MB": 2 ** 20, "GB": 2 ** 30, "TB": 2 ** 40}


def parse_bytes(value) -> int:
    """``4GB`` / ``512MB`` / ``1.5e9`` / ``2**30`` (int) -> bytes (binary units: 1 GB = 2**30)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([KMGT]?B?)\s*", str(value).upper())
    if not m:
        raise ValueError(f"memory size {value!r} not understood; write e.g. 4GB, 512MB or a number of bytes")
    return int(float(m.group(1)) * _UNITS[m.group(2) if m.group(2) in _UNITS else m.group(2) + "B"])


def parse_text_chunk(value) -> Union[int, str]:
    """``text_chunk`` as given in code, a yaml file or the command line -> ``"auto"`` or an int >= 0.

    ``"auto"`` (the default): as many prompts per pass as the memory budget allows; ``0`` / ``"all"``:
    every prompt in one pass (the official behaviour); ``N`` / ``"N"``: at most ``N`` prompts per pass."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("auto", ""):
            return "auto"
        if v in ("all", "none", "0"):
            return 0
        if v.isdigit():
            return int(v)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    elif value is None:
        return "auto"
    raise ValueError(f"text_chunk must be 'auto', 0 (all prompts in one pass) or a positive number of prompts, "
                     f"got {value!r}")


def _expand(p: torch.Tensor, n: int) -> torch.Tensor:
    return p.unsqueeze(0).expand(n, -1, -1) if p.dim() == 2 else p


class FrozenCLIP(nn.Module):
    """Frozen CLIP whose encoders accept prompts. Build it with :func:`mvlpt.clip.load_clip`.

    Attributes: ``embed_dim`` (joint space), ``text_width``, ``vision_width`` (``None`` for ResNets),
    ``text_layers``, ``vision_layers``, ``image_size``, ``mean``/``std`` (preprocessing),
    ``is_vit``, ``context_length``, ``name``.
    """

    def __init__(self, model: nn.Module, tokenizer, name: str = "", pretrained: str = ""):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.name, self.pretrained = name, pretrained
        self.model.requires_grad_(False)
        self.model.eval()
        visual = model.visual
        self.is_vit = hasattr(visual, "class_embedding") and hasattr(visual, "conv1")
        self.embed_dim = int(model.text_projection.shape[1]) if not isinstance(model.text_projection, nn.Linear) \
            else model.text_projection.out_features
        self.text_width = int(model.token_embedding.weight.shape[1])
        self.text_layers = len(model.transformer.resblocks)
        self.context_length = int(model.positional_embedding.shape[0])
        if self.is_vit:
            if getattr(visual, "attn_pool", None) is not None or getattr(visual, "pool_type", "tok") != "tok" \
                    or getattr(visual, "final_ln_after_pool", False):
                raise PromptNotSupported(f"{name}: only CLIP ViTs with class-token pooling are supported")
            self.vision_width = int(visual.class_embedding.shape[0])
            self.vision_layers = len(visual.transformer.resblocks)
        else:
            self.vision_width, self.vision_layers = None, 0
        size = getattr(visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.mean = tuple(getattr(visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073))
        self.std = tuple(getattr(visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711))
        self.grad_checkpointing = False
        self.text_memory = None  # text-pass budget: None (automatic), bytes / "4GB", or device -> bytes
        self.last_text_chunks = 0

    def compile(self, **kwargs):
        """``torch.compile`` every transformer block of both encoders (``dynamic=True`` by default,
        since the number of prompt/text tokens varies). Results are unchanged; the first call compiles.
        kwargs go to ``torch.compile`` (e.g. ``mode="max-autotune"``, ``backend="eager"``)."""
        kwargs.setdefault("dynamic", True)
        blocks = list(self.model.transformer.resblocks)
        if self.is_vit:
            blocks += list(self.model.visual.transformer.resblocks)
        for blk in blocks:
            blk.forward = torch.compile(blk.forward, **kwargs)
        return self

    # the frozen model never leaves eval mode
    def train(self, mode: bool = True):
        super().train(False)
        return self

    @property
    def dtype(self) -> torch.dtype:
        return self.model.token_embedding.weight.dtype

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale

    # ------------------------------------------------------------------ tokens
    def tokenize(self, texts: Sequence[str], context_length: Optional[int] = None) -> torch.Tensor:
        """``(n, 77)`` token ids (SOT ... EOT 0-padded); device of the model."""
        ids = self.tokenizer(list(texts), context_length or self.context_length)
        return ids.to(self.model.token_embedding.weight.device)

    def bpe_length(self, text: str) -> int:
        """Number of BPE tokens of ``text`` without SOT/EOT (e.g. a class name)."""
        return len(self.tokenizer.encode(text))

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.token_embedding(ids)

    # ------------------------------------------------------------------ text
    def encode_text(self, x: torch.Tensor, eot: torch.Tensor, deep: Optional[List[Optional[torch.Tensor]]] = None):
        """Token embeddings ``(n, L, d_t)`` → text features ``(n, embed_dim)`` (not normalised)."""
        m = self.model
        n, L, _ = x.shape
        x = x.to(self.dtype) + m.positional_embedding[:L].to(self.dtype)
        mask = m.attn_mask[:L, :L] if m.attn_mask is not None else None
        for i, blk in enumerate(m.transformer.resblocks):
            if deep is not None and 0 < i < len(deep) and deep[i] is not None:
                p = _expand(deep[i].to(x.dtype), n)
                x = torch.cat([x[:, :1], p, x[:, 1 + p.shape[1]:]], dim=1)
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(blk, x, None, None, mask, use_reentrant=False)
            else:
                x = blk(x, attn_mask=mask)
        x = m.ln_final(x)
        x = x[torch.arange(n, device=x.device), eot]
        proj = m.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj

    def encode_text_chunked(self, x, eot, deep=None, chunk="auto"):
        """``encode_text`` in chunks of at most ``chunk`` rows, to cap activation memory for many prompts.

        ``chunk``: ``"auto"`` (the size the memory budget allows, see :meth:`auto_text_chunk`), ``0`` /
        ``"all"`` (one pass), or a number of rows. With gradients on and more than one chunk, each
        chunk is recomputed in the backward pass (activation checkpointing), so only one chunk's
        activations are alive at a time; the result is the same. ``self.last_text_chunks`` records
        how many chunks the last call used.
        """
        return self.encode_text_rows(lambda s, e: x[s:e], x.shape[0], x.shape[1], eot, deep, chunk, x.device)

    def encode_text_rows(self, rows, n: int, length: int, eot, deep=None, chunk="auto", device=None):
        """Like :meth:`encode_text_chunked`, for ``n`` prompts whose token embeddings are built one
        chunk at a time by ``rows(s, e) -> (e - s, length, d_t)`` (and rebuilt in the backward pass), so
        that the embeddings of all ``n`` prompts never exist at once (CoCoOp's ``B * n_cls`` prompts)."""
        chunk = parse_text_chunk(chunk)
        if chunk == "auto":
            chunk = self.auto_text_chunk(n, length, device if device is not None else eot.device,
                                         torch.is_grad_enabled())
        if not chunk or n <= chunk:
            self.last_text_chunks = 1
            return self.encode_text(rows(0, n), eot, deep)
        outs = []
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            # shared (k, d) prompts stay shared; per-row (n, k, d) prompts are sliced with the rows
            d = None if deep is None else [p if p is None or p.dim() == 2 else p[s:e] for p in deep]
            if torch.is_grad_enabled():
                outs.append(checkpoint(lambda b, s=s, e=e, d=d: self.encode_text(rows(s, e), b, d), eot[s:e],
                                       use_reentrant=False))
            else:
                outs.append(self.encode_text(rows(s, e), eot[s:e], d))
        self.last_text_chunks = len(outs)
        return torch.cat(outs)

    def text_row_bytes(self, length: int, grad: bool, device=None) -> int:
        """A conservative estimate of the activation bytes one prompt of ``length`` tokens needs in the
        text encoder: everything autograd keeps for backward (``grad``), else one block's transients.
        Calibrated against traced peaks (``tests/test_memory.py``)."""
        L, d = length, self.text_width
        h = int(getattr(getattr(self.model.transformer.resblocks[0], "attn", None), "num_heads", 0) or max(1, d // 64))
        elt = float(self.dtype.itemsize)
        dev = getattr(device, "type", device) or "cpu"
        if torch.amp.is_autocast_available(dev) and torch.is_autocast_enabled(dev) \
                and torch.get_autocast_dtype(dev).itemsize < elt:
            elt *= 0.85   # traced: 16-bit autocast needs 0.6-0.8x of fp32 (the residual stream stays fp32)
        block = 16 * L * d + 2 * h * L * L   # traced: 15 L*d per block (QuickGELU MLP, ln, qkv, attention)
        if not grad:
            return int((block + 2 * L * d) * elt)
        if self.grad_checkpointing:       # block inputs kept, one block recomputed at a time
            return int((self.text_layers * L * d + 2 * block) * elt)
        return int((self.text_layers * block + 4 * L * d) * elt)

    def text_memory_budget(self, device) -> int:
        """Bytes the text pass may use: ``self.text_memory`` when set (bytes, or a callable
        ``device -> bytes``), else the ``MVLPT_TEXT_MEMORY`` environment variable (``"4GB"``,
        ``"512MB"``, bytes), else on CUDA :data:`CUDA_FREE_FRACTION` of the free memory (the device's
        free memory plus what PyTorch's allocator holds unused), else :data:`DEFAULT_TEXT_MEMORY`."""
        budget = self.text_memory
        if callable(budget):
            return int(budget(device))
        if budget is not None:
            return int(parse_bytes(budget))
        env = os.environ.get("MVLPT_TEXT_MEMORY", "").strip()
        if env:
            return int(parse_bytes(env))
        device = torch.device(device)
        if device.type == "cuda" and torch.cuda.is_available():
            free, _ = torch.cuda.mem_get_info(device)
            cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
            return int(CUDA_FREE_FRACTION * (free + cached))
        return DEFAULT_TEXT_MEMORY

    def auto_text_chunk(self, n: int, length: int, device, grad: bool) -> int:
        """Rows per chunk for ``n`` prompts of ``length`` tokens: ``n`` (one pass) when they fit the
        budget, else as many as fit (at least 1)."""
        rows = self.text_memory_budget(device) // max(1, self.text_row_bytes(length, grad, device))
        return n if rows >= n else max(1, int(rows))

    # ------------------------------------------------------------------ image
    def encode_image(self, images: torch.Tensor, shallow: Optional[torch.Tensor] = None,
                     position: str = "after_cls", deep: Optional[List[Optional[torch.Tensor]]] = None):
        """Images ``(B, 3, H, W)`` → image features ``(B, embed_dim)`` (not normalised)."""
        v = self.model.visual
        if not self.is_vit:
            if shallow is not None or (deep is not None and any(p is not None for p in deep)):
                raise PromptNotSupported(
                    f"visual prompts need a ViT image encoder; {self.name} is a ResNet "
                    "(use a text-prompt method: CoOp, CoCoOp, ZeroshotCLIP)")
            return v(images.to(self.dtype))
        if position not in ("after_cls", "after_patches"):
            raise ValueError(f"visual prompt position must be 'after_cls' or 'after_patches', got {position!r}")
        x = v.conv1(images.to(self.dtype))
        B = x.shape[0]
        x = x.reshape(B, x.shape[1], -1).permute(0, 2, 1)
        cls = v.class_embedding.to(x.dtype).view(1, 1, -1).expand(B, -1, -1)
        x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)
        k = 0
        if shallow is not None:
            shallow = _expand(shallow.to(x.dtype), B)
            k = shallow.shape[1]
        if shallow is not None and position == "after_patches":
            x = torch.cat([x, shallow], dim=1)
        x = v.ln_pre(x)
        if shallow is not None and position == "after_cls":
            x = torch.cat([x[:, :1], shallow, x[:, 1:]], dim=1)
        for i, blk in enumerate(v.transformer.resblocks):
            if deep is not None and 0 < i < len(deep) and deep[i] is not None:
                p = _expand(deep[i].to(x.dtype), B)
                if p.shape[1] != k:
                    raise ValueError(f"deep visual prompt of layer {i} has {p.shape[1]} tokens, shallow has {k}")
                if position == "after_cls":
                    x = torch.cat([x[:, :1], p, x[:, 1 + k:]], dim=1)
                else:
                    x = torch.cat([x[:, :x.shape[1] - k], p], dim=1)
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(blk, x, None, None, None, use_reentrant=False)
            else:
                x = blk(x)
        x = v.ln_post(x[:, 0])
        return x @ v.proj if v.proj is not None else x


def configure_tf32(allow: bool = True, device="cuda") -> bool:
    """Let fp32 matrix products and convolutions on CUDA use TF32 tensor cores (Ampere and later:
    inputs rounded to a 10-bit mantissa, fp32 accumulation; several times faster, relative error
    ~1e-3) or not (``allow=False``: full fp32, bit-comparable with CPU runs). Process-wide; only
    CUDA settings are touched and nothing happens for other devices. The engine calls it with
    ``TRAINER.ALLOW_TF32`` (default True). Returns whether TF32 is now allowed."""
    if torch.device(device).type != "cuda":
        return False
    prec = "tf32" if allow else "ieee"
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):       # torch >= 2.9; the allow_tf32 flags are deprecated
        matmul.fp32_precision = prec
        torch.backends.cudnn.conv.fp32_precision = prec
    else:
        matmul.allow_tf32 = bool(allow)
        torch.backends.cudnn.allow_tf32 = bool(allow)
    return bool(allow)

"""Load a frozen CLIP through open_clip from any of the usual sources.

``load_clip(name, pretrained)``:

* ``name``: an open_clip model name (``ViT-B-16``, ``ViT-L-14``, ``RN50`` ...) or the Dassl/OpenAI
  spelling (``ViT-B/16``, ``ViT-L/14@336px``); see :func:`open_clip_name`.
* ``pretrained``:
    - ``"none"`` / ``""`` / ``None``: random weights (tests, smoke runs);
    - ``"demo"``: the tiny CLIP pre-trained on the demo world that ships with the package (backbone
      ``mvlpt-tiny`` only; made by ``datasets/demo/pretrain_tiny_clip.py``, see :func:`demo_weights_path`);
    - an open_clip pretrained tag: ``"openai"``, ``"laion2b_s34b_b88k"`` ... (downloaded and cached
      by open_clip, ``cache_dir`` honoured);
    - a path to an OpenAI checkpoint: the TorchScript archive OpenAI releases, or a plain state dict
      (with or without the integer ``input_resolution/context_length/vocab_size`` entries);
    - a path to an open_clip checkpoint (``{"state_dict": ...}`` with or without ``module.``
      prefixes, or a bare state dict in open_clip's layout).

OpenAI weights (tag ``openai`` or an OpenAI file) use QuickGELU; ``quick_gelu`` overrides the choice.
Random weights default to QuickGELU too (the OpenAI architecture), so stand-in weights saved in the
OpenAI format and loaded from the file give the same network.
"""
import logging
import os
import re
import warnings
from typing import Optional

import torch

from .model import FrozenCLIP

log = logging.getLogger(__name__)

_DASSL_TO_OPENCLIP = {"RN50x4": "RN50x4", "RN50x16": "RN50x16", "RN50x64": "RN50x64"}


class CLIPLoadError(ValueError):
    """A CLIP model or weights could not be loaded; the message says which and how to fix it."""


def open_clip_name(name: str) -> str:
    """``ViT-B/16`` → ``ViT-B-16``; ``ViT-L/14@336px`` → ``ViT-L-14-336``; open_clip names pass through."""
    import open_clip

    n = name.strip()
    n = _DASSL_TO_OPENCLIP.get(n, n)
    m = re.fullmatch(r"(.*)@(\d+)px", n)
    if m:
        n = f"{m.group(1)}-{m.group(2)}"
    n = n.replace("/", "-")
    known = open_clip.list_models()
    if n not in known:
        import difflib

        close = difflib.get_close_matches(n, known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise CLIPLoadError(f'unknown CLIP backbone "{name}"{hint} (see open_clip.list_models())')
    return n


def _read_weights_file(path: str):
    """Return ``(kind, state_dict)``: ``"openai"`` for a TorchScript archive or a bare state dict,
    ``"open_clip"`` for a training checkpoint that wraps it (``{"state_dict": ..., "epoch": ...}``)."""
    import zipfile

    from mvlpt.safeload import read_torchscript_tensors

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            scripted = any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
        if scripted:  # an OpenAI release (TorchScript): tensors only, no TorchScript code is run
            try:
                return "openai", read_torchscript_tensors(path)
            except Exception as e:  # noqa: BLE001 - one line for any unreadable archive
                raise CLIPLoadError(f"cannot read CLIP weights {path}: {e.__class__.__name__}: "
                                    f"{str(e).splitlines()[0] if str(e) else ''}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - report any unpickling problem as one line
        raise CLIPLoadError(f"cannot read CLIP weights {path}: {e.__class__.__name__}: {str(e).splitlines()[0]}") from e
    kind = "openai"
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj, kind = obj["state_dict"], "open_clip"
    if not isinstance(obj, dict) or not obj:
        raise CLIPLoadError(f"{path} holds a {type(obj).__name__}, not a CLIP state dict")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return kind, obj


def _local_pretrained(oc_name: str, tag: str, cache_dir: Optional[str] = None) -> Optional[str]:
    """A local copy of the open_clip pretrained ``tag`` for ``oc_name`` (a path), or ``None`` (download).

    Looked up without any network access: the release's file name (``ViT-B-16.pt``, ``RN50.pt`` ...) in
    ``cache_dir``, ``$MVLPT_CLIP_DIR`` and ``~/.cache/clip`` (where OpenAI's ``clip`` package and open_clip
    keep the OpenAI release); the Hugging Face cache open_clip uses is left to open_clip (``None``).
    Offline (``HF_HUB_OFFLINE`` set, or the download host not reachable within 3 s) with no local copy:
    one :class:`CLIPLoadError` at once instead of minutes of download retries.
    """
    import open_clip

    pcfg = open_clip.get_pretrained_cfg(oc_name, tag) or {}
    if not pcfg:
        return None  # not a known tag: the caller says which tags exist
    url, hub = pcfg.get("url") or "", (pcfg.get("hf_hub") or "").rstrip("/")
    fname = os.path.basename(url) if url else f"{oc_name}.pt"
    home = os.path.join(os.path.expanduser("~"), ".cache", "clip")
    dirs = [d for d in (cache_dir, os.environ.get("MVLPT_CLIP_DIR"), home) if d]
    for d in dirs:
        p = os.path.join(os.path.expanduser(d), fname)
        if os.path.isfile(p):
            log.info("CLIP weights %s %s: local copy %s", oc_name, tag, p)
            return p
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache

            for fn in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
                if isinstance(try_to_load_from_cache(hub, fn, cache_dir=cache_dir), str):
                    return None  # cached by open_clip: it loads it without downloading
        except Exception:  # noqa: BLE001 - no hub package / unreadable cache: treat as not cached
            pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")
    if not offline:
        import socket
        from urllib.parse import urlparse

        host = urlparse(url).hostname if url and not hub else "huggingface.co"
        try:
            socket.create_connection((host, 443), timeout=3).close()
        except OSError:
            offline = True
    if offline:
        raise CLIPLoadError(
            f'no local copy of the "{tag}" weights for {oc_name} (looked for {fname} in {", ".join(dirs)} and the '
            f"Hugging Face cache) and no network: put {fname} in ~/.cache/clip or in $MVLPT_CLIP_DIR, or pass its path "
            f"(MODEL.BACKBONE.PRETRAINED /path/to/{fname}), or none (random weights)")
    return None


DEMO_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "demo-tiny-clip.pt")
DEMO_BACKBONE = "mvlpt-tiny"


def demo_weights_path() -> str:
    """The shipped demo weights (``$MVLPT_DEMO_CLIP`` overrides the path)."""
    return os.environ.get("MVLPT_DEMO_CLIP", "") or DEMO_WEIGHTS


def _demo_state_dict(oc_name: str):
    """The full state dict of the demo CLIP (fp32): the file stores the token table's used rows only."""
    path = demo_weights_path()
    if oc_name != DEMO_BACKBONE:
        raise CLIPLoadError(f'pretrained "demo" is the tiny demo CLIP: use backbone {DEMO_BACKBONE} '
                            f"(MODEL.BACKBONE.NAME {DEMO_BACKBONE}), not {oc_name}")
    if not os.path.isfile(path):
        raise CLIPLoadError(f"demo CLIP weights not found at {path}; make them with "
                            f"python datasets/demo/pretrain_tiny_clip.py --out {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        sd = {k: v.float() for k, v in obj["state_dict"].items()}
        table = torch.zeros(int(obj["vocab_size"]), obj["token_values"].shape[1])
        table[obj["token_rows"].long()] = obj["token_values"].float()
    except Exception as e:  # noqa: BLE001 - one line for any unreadable file
        raise CLIPLoadError(f"cannot read the demo CLIP weights {path}: {e.__class__.__name__}: {e} "
                            f"(regenerate with python datasets/demo/pretrain_tiny_clip.py)") from e
    sd["token_embedding.weight"] = table
    return sd


def _architecture_mismatch(model, oc_name: str) -> str:
    """'' if ``model`` has the architecture open_clip's config gives for ``oc_name``, else what differs."""
    import open_clip

    cfg = open_clip.get_model_config(oc_name) or {}
    v, t = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
    got = {"embed_dim": model.text_projection.shape[-1], "text width": model.token_embedding.weight.shape[1],
           "text layers": len(model.transformer.resblocks)}
    want = {"embed_dim": cfg.get("embed_dim"), "text width": t.get("width"), "text layers": t.get("layers")}
    if hasattr(model.visual, "conv1") and hasattr(model.visual, "class_embedding"):
        got.update({"patch size": model.visual.conv1.kernel_size[0], "vision width": model.visual.conv1.out_channels,
                    "vision layers": len(model.visual.transformer.resblocks)})
        want.update({"patch size": v.get("patch_size"), "vision width": v.get("width"), "vision layers": v.get("layers")})
    diff = [f"{k} {got[k]} (file) vs {want[k]} ({oc_name})" for k in got if want.get(k) is not None and got[k] != want[k]]
    return ", ".join(diff)


def check_pretrained(name: str, pretrained: Optional[str], cache_dir: Optional[str] = None) -> None:
    """Raise :class:`CLIPLoadError` now if :func:`load_clip` ``(name, pretrained)`` would find an open_clip
    tag (``openai`` ...) neither on disk nor on the network (see :func:`_local_pretrained`); nothing is
    loaded. Other sources (``none``, ``demo``, a file) and names open_clip does not know pass: the loader
    reports those."""
    src = "none" if pretrained in (None, "", "none", "None", False) else str(pretrained)
    if src in ("none", "demo") or os.path.sep in src or src.endswith((".pt", ".pth", ".bin", ".safetensors")) \
            or os.path.isfile(src):
        return
    try:
        oc_name = open_clip_name(name)
    except CLIPLoadError:
        return
    _local_pretrained(oc_name, src, cache_dir)


def load_clip(name: str = "ViT-B/16", pretrained: Optional[str] = "openai", device="cpu",
              precision: str = "fp32", cache_dir: Optional[str] = None, quick_gelu: Optional[bool] = None,
              init_seed: int = 0) -> FrozenCLIP:
    """Build a frozen :class:`FrozenCLIP`. See the module docstring for the accepted sources.

    ``precision``: ``fp32`` (default; use autocast for mixed precision) or ``fp16``/``bf16`` to store
    the frozen weights in half precision (saves memory on GPU; prompts stay fp32).
    ``init_seed``: seed of the random weights when ``pretrained="none"`` (deterministic stand-ins).
    """
    import open_clip

    oc_name = open_clip_name(name)
    src = "none" if pretrained in (None, "", "none", "None", False) else str(pretrained)
    is_file = src != "none" and (os.path.sep in src or src.endswith((".pt", ".pth", ".bin", ".safetensors"))
                                 or os.path.isfile(src))
    if is_file:
        path = os.path.expanduser(src)
        if not os.path.isfile(path):
            raise CLIPLoadError(f"CLIP weights file not found: {path} (pass an existing .pt file, "
                                f"an open_clip tag such as 'openai', or 'none')")
        kind, sd = _read_weights_file(path)
        # bare state dicts / archives follow OpenAI (QuickGELU); wrapped open_clip checkpoints follow
        # open_clip's config for the name (GELU unless the name ends in -quickgelu)
        qg = (kind == "openai" or oc_name.endswith("quickgelu")) if quick_gelu is None else quick_gelu
        model = None
        if kind == "openai":
            sd = {k: v for k, v in sd.items() if not k.endswith("attn_mask")}  # traced archives keep the mask
            try:
                model = open_clip.model.build_model_from_openai_state_dict(dict(sd), quick_gelu=qg, cast_dtype=None)
                # the builder stores fp16 (as OpenAI's release); reload in fp32 so fp32 files stay exact
                model = model.float()
                model.load_state_dict({k: v for k, v in sd.items()
                                       if k not in ("input_resolution", "context_length", "vocab_size")})
            except (KeyError, RuntimeError, ValueError, IndexError, AttributeError):
                model = None  # not the OpenAI architecture: build from the name below
            if model is not None:
                diff = _architecture_mismatch(model, oc_name)
                if diff:
                    raise CLIPLoadError(f"{path} does not match backbone {oc_name}: {diff} "
                                        f"(pass the backbone the weights were trained with)")
        if model is None:
            model = open_clip.create_model(oc_name, pretrained=None, force_quick_gelu=qg)
            try:
                model.load_state_dict({k: v for k, v in sd.items()
                                       if k not in ("input_resolution", "context_length", "vocab_size")}, strict=True)
            except RuntimeError as e:
                first = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
                raise CLIPLoadError(f"{path} does not match backbone {oc_name}: {' '.join(first[1:3])[:300]}") from e
    elif src == "demo":
        qg = True if quick_gelu is None else quick_gelu
        sd = _demo_state_dict(oc_name)
        with warnings.catch_warnings():  # open_clip's "no pretrained weights loaded": they are, below
            warnings.simplefilter("ignore")
            logging.getLogger().disabled, was = True, logging.getLogger().disabled
            try:
                model = open_clip.create_model(oc_name, pretrained=None, force_quick_gelu=qg)
            finally:
                logging.getLogger().disabled = was
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if [k for k in missing if not k.endswith("attn_mask")] or unexpected:
            raise CLIPLoadError(f"demo CLIP weights do not fit {oc_name}: missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]} (regenerate with datasets/demo/pretrain_tiny_clip.py)")
    elif src == "none":
        # random weights from a fixed seed (``init_seed``), independent of and not advancing the global
        # RNG: every run, process and rank gets the same frozen stand-in network
        qg = True if quick_gelu is None else quick_gelu
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            torch.manual_seed(init_seed)
            logging.getLogger().disabled, was = True, logging.getLogger().disabled
            try:
                model = open_clip.create_model(oc_name, pretrained=None, force_quick_gelu=qg)
            finally:
                logging.getLogger().disabled = was
    else:
        local = _local_pretrained(oc_name, src, cache_dir)  # offline: a local copy, or one clear error at once
        if local:
            return load_clip(name, local, device, precision, cache_dir, src == "openai" if quick_gelu is None
                             else quick_gelu, init_seed)
        tags = open_clip.list_pretrained_tags_by_model(oc_name)
        if src not in tags:
            raise CLIPLoadError(f'unknown pretrained tag "{src}" for {oc_name}; available: {", ".join(tags) or "none"} '
                                f"(or pass a path to a .pt file, or 'none')")
        qg = (src == "openai") if quick_gelu is None else quick_gelu
        model = open_clip.create_model(oc_name, pretrained=src, force_quick_gelu=qg, cache_dir=cache_dir)
    if precision in ("fp16", "bf16"):
        model = model.to(torch.float16 if precision == "fp16" else torch.bfloat16)
    elif precision not in ("fp32", "amp"):
        raise CLIPLoadError(f"precision must be fp32, fp16 or bf16, got {precision!r}")
    tokenizer = open_clip.get_tokenizer(oc_name)
    if not hasattr(tokenizer, "encode"):
        raise CLIPLoadError(f"{oc_name} does not use CLIP's BPE tokenizer; prompt learners need it")
    clip = FrozenCLIP(model, tokenizer, name=oc_name, pretrained=src)
    return clip.to(device)

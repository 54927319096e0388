"""In-process speed-ups for recipes that run many short trainings in one Python process (exact).

:func:`shared_resources` is a context manager that, while active,

* memoises :func:`mvlpt.clip.load_clip` per ``(name, pretrained, device, precision)`` - the CLIP is
  frozen, so runs may share it (random ``"none"`` weights are deterministic too: ``init_seed``);
* memoises prompt-free image features (``FrozenCLIP.encode_image`` without visual prompts) by the
  digest of the input tensor: the same preprocessed image gives the same features, bit for bit.
  Methods with visual prompts (VPT, UPT, MaPLe) always go through the encoder.

Used by the demo and the transferability driver; ordinary ``python -m mvlpt`` runs don't need it.
"""
import contextlib
import hashlib

import torch

__all__ = ["shared_resources"]


def _digest(t: torch.Tensor) -> str:
    t = t.detach().contiguous().cpu()
    return hashlib.sha1(t.numpy().tobytes()).hexdigest() + str(tuple(t.shape)) + str(t.dtype)


@contextlib.contextmanager
def shared_resources(max_images: int = 20000):
    import mvlpt.clip as mclip
    from mvlpt.clip.model import FrozenCLIP

    orig_load = mclip.load_clip
    orig_encode = FrozenCLIP.encode_image
    models = {}
    feats = {}

    def load_clip(name="ViT-B/16", pretrained="openai", device="cpu", precision="fp32", **kw):
        key = (name, str(pretrained), str(device), precision, tuple(sorted(kw.items())))
        if key not in models:
            models[key] = orig_load(name, pretrained=pretrained, device=device, precision=precision, **kw)
            models[key]._mvlpt_shared_key = key
        return models[key]

    def encode_image(self, images, shallow=None, position="after_cls", deep=None):
        key0 = getattr(self, "_mvlpt_shared_key", None)
        no_prompt = shallow is None and (deep is None or all(p is None for p in deep))
        if key0 is None or not no_prompt or torch.is_grad_enabled() and images.requires_grad:
            return orig_encode(self, images, shallow=shallow, position=position, deep=deep)
        rows = [(key0, _digest(images[i])) for i in range(images.shape[0])]
        missing = [i for i, k in enumerate(rows) if k not in feats]
        if missing:
            with torch.no_grad():
                out = orig_encode(self, images[missing])
            for i, f in zip(missing, out):
                if len(feats) < max_images:
                    feats[rows[i]] = f.detach().clone()
            if len(missing) == len(rows):
                return out
            got = {i: f for i, f in zip(missing, out)}
            return torch.stack([got[i] if i in got else feats[k] for i, k in enumerate(rows)])
        return torch.stack([feats[k] for k in rows])

    mclip.load_clip = load_clip
    FrozenCLIP.encode_image = encode_image
    try:
        yield {"models": models, "features": feats}
    finally:
        mclip.load_clip = orig_load
        FrozenCLIP.encode_image = orig_encode

#!/usr/bin/env python
"""Pre-train the tiny demo CLIP (``mvlpt-tiny``: 3 layers, 64 wide, 32x32 images) on the demo world.

    python datasets/demo/pretrain_tiny_clip.py                      # -> mvlpt/clip/weights/demo-tiny-clip.pt
    python datasets/demo/pretrain_tiny_clip.py --out /tmp/w.pt --steps 300   # quick try

What it sees: captioned 64x64 scenes drawn like the demo tasks (downscaled to 32x32 exactly as the
engine's test transform does) -

* objects: a shape (circle ... cross), an arrow (up ... right) or a digit (zero ... nine) in one of
  the eight named colours, on a plain or a textured background; captions such as
  "a red star on a striped background", "a photo of a star.", "the number seven in blue";
* colour swatches ("a photo of the color orange."), textures ("a green zigzagged texture").

Held out (never drawn): the colour/object and colour/texture pairs in :data:`HELD_OUT`, so zero-shot
on the demo tasks has to generalise to unseen compositions and is good but not perfect.

Loss: CLIP's symmetric contrastive loss, with every caption in the batch that is *true* of an image
counted as a positive (a caption names some attributes - kind, object, colour, background - and is
true of every image that has them), so "a photo of a star." is not a negative for another star.

Deterministic in ``--seed`` (single-threaded math by default; the digest printed at the end is the
sha256 of the file). The file holds fp16 tensors only (loads with ``torch.load(weights_only=True)``):
every trained tensor except the token table, plus the token-table rows of the words in the captions
(all other rows are zero: words never seen in pre-training mean nothing to this model).
Load it with ``load_clip("mvlpt-tiny", "demo")`` / ``MODEL.BACKBONE.NAME mvlpt-tiny
MODEL.BACKBONE.PRETRAINED demo``.
"""
import argparse
import hashlib
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from mvlpt.data.demo import DEMO_TASKS, IMG, draw_texture as _texture  # noqa: E402

SHAPES = DEMO_TASKS["DemoShapes"]
ARROWS = DEMO_TASKS["DemoArrows"]
DIGITS = DEMO_TASKS["DemoDigits"]
TEXTURES = DEMO_TASKS["DemoTextures"]
COLORS = {"red": (215, 35, 35), "green": (30, 150, 50), "blue": (35, 90, 215), "yellow": (235, 215, 35),
          "purple": (125, 40, 165), "orange": (240, 135, 20), "black": (20, 20, 20), "white": (245, 245, 245)}
#: (colour, object-or-texture) pairs never drawn in pre-training
HELD_OUT = {("red", "star"), ("blue", "circle"), ("green", "triangle"), ("purple", "square"), ("orange", "cross"),
            ("black", "up arrow"), ("blue", "left arrow"), ("red", "right arrow"), ("green", "down arrow"),
            ("red", "three"), ("blue", "seven"), ("purple", "zero"),
            ("blue", "striped"), ("red", "chequered"), ("green", "grid"), ("black", "zigzagged")}
KINDS = ("shape", "arrow", "digit", "swatch", "texture")
OBJECTS = SHAPES + ARROWS + DIGITS + ["swatch"]
BGS = ["plain"] + TEXTURES
FORMAT = "mvlpt-demo-tiny-clip-v1"


# --------------------------------------------------------------------------- drawing
def _jitter(rng, col, d=20):
    return tuple(int(np.clip(v + rng.integers(-d, d + 1), 0, 255)) for v in col)


def _light(rng):
    base = int(rng.integers(185, 245))
    return tuple(int(np.clip(base + t, 0, 255)) for t in rng.integers(-15, 16, size=3))


def _poly(cx, cy, r, n, rot):
    return [(cx + r * math.cos(rot + 2 * math.pi * i / n), cy + r * math.sin(rot + 2 * math.pi * i / n))
            for i in range(n)]


def _object(d, obj, rng, col):
    if obj in ARROWS:
        L = float(rng.uniform(20, 27))
        cx, cy = (float(rng.uniform(L + 3, IMG - L - 3)) for _ in range(2))
        w = float(rng.uniform(4, 7))
        hw, hl = w * 2.4, L * 0.7
        shape = [(-L, -w), (L - hl, -w), (L - hl, -hw), (L, 0), (L - hl, hw), (L - hl, w), (-L, w)]
        ang = {"right arrow": 0.0, "down arrow": math.pi / 2, "left arrow": math.pi, "up arrow": -math.pi / 2}[obj]
        ang += float(rng.uniform(-0.15, 0.15))
        c, s = math.cos(ang), math.sin(ang)
        d.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in shape], fill=col)
        return
    if obj in DIGITS:
        font = ImageFont.load_default(size=int(rng.integers(38, 50)))
        x0, y0, x1, y1 = d.textbbox((0, 0), str(DIGITS.index(obj)), font=font)
        x = float(rng.uniform(2, max(3, IMG - (x1 - x0) - 2))) - x0
        y = float(rng.uniform(2, max(3, IMG - (y1 - y0) - 2))) - y0
        d.text((x, y), str(DIGITS.index(obj)), fill=col, font=font)
        return
    r = float(rng.uniform(16, 24))
    cx, cy = (float(rng.uniform(r + 2, IMG - r - 2)) for _ in range(2))
    rot = float(rng.uniform(0, 2 * math.pi))
    if obj == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
    elif obj in ("square", "triangle"):
        d.polygon(_poly(cx, cy, r * 1.2, 4 if obj == "square" else 3, rot), fill=col)
    elif obj == "star":
        d.polygon([(cx + (r * 1.2 if i % 2 == 0 else r * 0.5) * math.cos(rot + math.pi * i / 5),
                    cy + (r * 1.2 if i % 2 == 0 else r * 0.5) * math.sin(rot + math.pi * i / 5)) for i in range(10)],
                  fill=col)
    elif obj == "cross":
        w = r * 0.35
        arms = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w),
                (-w, -w)]
        c, s = math.cos(rot), math.sin(rot)
        d.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in arms], fill=col)


def sample_scene(rng):
    """One scene: ``(image 64x64, attributes {kind, obj, color, bg})`` (held-out pairs never drawn)."""
    while True:
        u = rng.random()
        kind = "shape" if u < 0.22 else "digit" if u < 0.47 else "arrow" if u < 0.70 else "swatch" if u < 0.80 \
            else "texture"
        color = list(COLORS)[int(rng.integers(len(COLORS)))]
        obj = {"shape": SHAPES, "digit": DIGITS, "arrow": ARROWS}.get(kind)
        obj = obj[int(rng.integers(len(obj)))] if obj else ("swatch" if kind == "swatch" else "none")
        bg = TEXTURES[int(rng.integers(len(TEXTURES)))] if kind == "texture" or (
            kind != "swatch" and rng.random() < 0.4) else "plain"
        if (color, obj) in HELD_OUT or (kind == "texture" and (color, bg) in HELD_OUT):
            continue
        if kind != "texture" and color == "white" and bg == "plain":
            continue  # white on a light background: invisible
        break
    col = _jitter(rng, COLORS[color])
    if kind == "swatch":
        grey = (200, 200, 200) if color == "black" else (70, 70, 70) if color == "white" else (128, 128, 128)
        img = Image.new("RGB", (IMG, IMG), _jitter(rng, grey))
        d = ImageDraw.Draw(img)
        m = int(rng.integers(4, 14))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([m, m, IMG - m, IMG - m], fill=col)
        return img, {"kind": kind, "obj": obj, "color": color, "bg": "plain"}
    img = Image.new("RGB", (IMG, IMG), _light(rng))
    d = ImageDraw.Draw(img)
    if kind == "texture":
        _texture(d, bg, rng, col)
    else:
        if bg != "plain":  # a pale texture behind the object
            _texture(d, bg, rng, tuple(int(v) for v in rng.integers(120, 175, size=3)))
        _object(d, obj, rng, col)
    return img, {"kind": kind, "obj": obj, "color": color, "bg": bg}


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def captions(a):
    """Every caption true of a scene with attributes ``a``: ``[(text, {attribute: value it names})]``."""
    k, o, c, b = a["kind"], a["obj"], a["color"], a["bg"]
    out = [(f"a photo of the color {c}.", {"color": c})]
    if k == "texture":
        out += [(f"a photo of a {b} texture.", {"bg": b}), (f"a {c} {b} texture", {"bg": b, "color": c}),
                (f"a {b} pattern", {"bg": b})]
        return out
    if k == "swatch":
        out += [(f"a {c} patch", {"obj": "swatch", "color": c}), (f"the color {c}", {"color": c})]
        return out
    name = f"number {o}" if k == "digit" else o
    if k == "shape":
        out += [(f"a photo of a {o}.", {"obj": o}), (f"a {c} {o}", {"obj": o, "color": c})]
    elif k == "arrow":
        out += [(f"a photo of an {o}.", {"obj": o}), (f"{_article(c)} {c} {o}", {"obj": o, "color": c})]
    else:
        out += [(f"a photo of the number {o}.", {"obj": o}), (f"the number {o} in {c}", {"obj": o, "color": c})]
    where = "a plain background" if b == "plain" else f"a {b} background"
    out += [(f"{_article(c)} {c} {name} on {where}", {"obj": o, "color": c, "bg": b}),
            (f"a {name} on {where}", {"obj": o, "bg": b})]
    if b != "plain":
        out.append((f"a photo of a {b} texture.", {"bg": b}))
    return out


# --------------------------------------------------------------------------- data
ATTRS = ("kind", "obj", "color", "bg")
VOCAB = {"kind": list(KINDS), "obj": OBJECTS + ["none"], "color": list(COLORS), "bg": BGS}


def build_pool(n, seed, clip):
    """``n`` scenes as uint8 32x32 images (the engine's Resize(32, bicubic) + CenterCrop), their
    attribute codes ``(n, 4)``, and per scene the indices of its captions in the caption table."""
    import torchvision.transforms as T

    tf = T.Compose([T.Resize(clip.image_size, interpolation=T.InterpolationMode.BICUBIC),
                    T.CenterCrop(clip.image_size)])
    rng = np.random.default_rng([seed, 31337])
    imgs = np.zeros((n, clip.image_size, clip.image_size, 3), dtype=np.uint8)
    codes = np.zeros((n, 4), dtype=np.int64)
    table, index, caps = [], {}, []
    for i in range(n):
        img, a = sample_scene(rng)
        imgs[i] = np.asarray(tf(img), dtype=np.uint8)
        codes[i] = [VOCAB[k].index(a[k]) for k in ATTRS]
        ids = []
        for text, named in captions(a):
            if text not in index:
                index[text] = len(table)
                table.append((text, named))
            ids.append(index[text])
        caps.append(ids)
    # caption requirement table: (n_caps, 4) value code or -1 (attribute not named)
    req = torch.full((len(table), 4), -1, dtype=torch.long)
    for j, (_, named) in enumerate(table):
        for k, v in named.items():
            req[j, ATTRS.index(k)] = VOCAB[k].index(v)
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(codes), caps, table, req


# --------------------------------------------------------------------------- training
def train(args):
    from mvlpt.clip import load_clip

    torch.manual_seed(args.seed)
    clip = load_clip("mvlpt-tiny", "none", init_seed=args.seed)
    model = clip.model
    model.requires_grad_(True)
    model.token_embedding.requires_grad_(False)  # trained as a compact table of the rows in use (below)
    t0 = time.time()
    imgs, codes, caps, table, req = build_pool(args.pool, args.seed, clip)
    ids = clip.tokenize([t for t, _ in table])
    eot = ids.argmax(-1)
    ids = ids[:, : int(eot.max()) + 1]
    seen_tokens = torch.unique(ids)
    compact = torch.searchsorted(seen_tokens, ids.contiguous())             # token id -> row of the compact table
    table_rows = torch.nn.Parameter(model.token_embedding.weight.detach()[seen_tokens].clone())
    print(f"[pretrain] {args.pool} scenes, {len(table)} distinct captions, {time.time() - t0:.1f} s to draw",
          flush=True)
    mean = torch.tensor(clip.mean).view(1, 3, 1, 1)
    std = torch.tensor(clip.std).view(1, 3, 1, 1)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in named if not (p.ndim >= 2 and "embedding" not in n)] + [table_rows]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / (args.steps - warm))))
    g = torch.Generator().manual_seed(args.seed)
    for step in range(args.steps):
        b = torch.randint(0, args.pool, (args.batch,), generator=g)
        pick = torch.randint(0, 1 << 30, (args.batch,), generator=g)
        cap = torch.tensor([caps[int(i)][int(p) % len(caps[int(i)])] for i, p in zip(b, pick)])
        x = (imgs[b].float() / 255.0 - mean) / std
        imf = F.normalize(clip.encode_image(x), dim=-1)
        txf = F.normalize(clip.encode_text(table_rows[compact[cap]], eot[cap]), dim=-1)
        r = req[cap]                                            # (B_txt, 4)
        c = codes[b]                                            # (B_img, 4)
        pos = ((r[None] < 0) | (r[None] == c[:, None])).all(-1).float()   # (B_img, B_txt): caption j true of image i
        logits = model.logit_scale.exp().clamp(max=100) * imf @ txf.t()
        loss = 0.5 * (-(pos / pos.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
                      - (pos.t() / pos.t().sum(1, keepdim=True) * logits.t().log_softmax(1)).sum(1).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            acc = (pos.gather(1, logits.argmax(1, keepdim=True)).mean() * 100).item()
            print(f"[pretrain] step {step + 1}/{args.steps} loss {loss.item():.3f} "
                  f"image->caption top-1 true {acc:.1f}% ({time.time() - t0:.0f} s)", flush=True)
    with torch.no_grad():
        model.token_embedding.weight.zero_()
        model.token_embedding.weight[seen_tokens] = table_rows
    return clip, seen_tokens


def export(clip, seen_tokens, path, args):
    sd = {k: v.detach().to(torch.float16).clone() for k, v in clip.model.state_dict().items()
          if k != "token_embedding.weight" and v.is_floating_point()}
    tok = clip.model.token_embedding.weight.detach()
    obj = {"format": FORMAT, "backbone": "mvlpt-tiny", "seed": int(args.seed), "steps": int(args.steps),
           "state_dict": sd, "token_rows": seen_tokens.clone(), "token_values": tok[seen_tokens].to(torch.float16),
           "vocab_size": int(tok.shape[0])}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + f".{os.getpid()}.tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def zero_shot_report(path, split="test"):
    """Zero-shot accuracy of the weights at ``path`` on each demo task (its template), in %."""
    import json

    import torchvision.transforms as T

    from mvlpt.clip import load_clip
    from mvlpt.data.demo import DEMO_TEMPLATES, ensure_demo_data
    from mvlpt.prompts import ZeroshotCLIP

    os.environ["MVLPT_DEMO_CLIP"] = os.path.abspath(path)
    clip = load_clip("mvlpt-tiny", "demo")
    tf = T.Compose([T.Resize(clip.image_size, interpolation=T.InterpolationMode.BICUBIC),
                    T.CenterCrop(clip.image_size), T.ToTensor(), T.Normalize(clip.mean, clip.std)])
    root = ensure_demo_data()
    out = {}
    for task, classes in DEMO_TASKS.items():
        with open(os.path.join(root, task, "split_demo.json")) as f:
            items = json.load(f)[split]
        x = torch.stack([tf(Image.open(os.path.join(root, task, "images", r)).convert("RGB")) for r, _, _ in items])
        y = torch.tensor([lab for _, lab, _ in items])
        zs = ZeroshotCLIP(clip, classes, templates=[DEMO_TEMPLATES[task]])
        with torch.no_grad():
            out[task] = float((zs(x).argmax(1) == y).float().mean() * 100)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "mvlpt", "clip", "weights", "demo-tiny-clip.pt"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--pool", type=int, default=10000, help="number of distinct scenes drawn")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 = the reproducible digest)")
    ap.add_argument("--eval-only", metavar="WEIGHTS", help="only print the zero-shot accuracy of WEIGHTS")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.eval_only:
        print({k: round(v, 1) for k, v in zero_shot_report(args.eval_only).items()})
        return 0
    t0, c0 = time.time(), time.process_time()
    clip, seen = train(args)
    digest = export(clip, seen, args.out, args)
    print(f"[pretrain] wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB) sha256 {digest}")
    print(f"[pretrain] wall {time.time() - t0:.0f} s, CPU {time.process_time() - c0:.0f} s")
    zs = zero_shot_report(args.out)
    print("[pretrain] zero-shot test accuracy (%): " + ", ".join(f"{k} {v:.1f}" for k, v in zs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embedded demo suite: five small synthetic classification tasks that need no download.

=================  ==========================================================  ============
registry name      classes                                                     note
=================  ==========================================================  ============
``DemoShapes``     circle, square, triangle, star, cross                       5 classes
``DemoColors``     red, green, blue, yellow, purple, orange, black, white      8 classes
``DemoDigits``     zero ... nine (digits rendered with PIL's scalable font)    10 classes
``DemoTextures``   striped, polka-dotted, chequered, zigzagged, grid           5 classes
``DemoArrows``     up arrow, down arrow, left arrow, right arrow               no h-flip
``DemoMultitask``  the five tasks merged (offsets 0, 5, 13, 23, 28)            32 classes
=================  ==========================================================  ============

Images are 64x64 PNGs, 16 train / 4 val / 10 test per class, stored in the CoOp layout
(``<Task>/images/<class>/*.png`` + ``<Task>/split_demo.json``). They are generated
deterministically by :func:`generate_demo_data` (``python datasets/demo/generate.py``);
:func:`ensure_demo_data` returns the shipped copy (``datasets/demo/data``) or generates one into
``$MVLPT_CACHE`` (default ``~/.cache/mvlpt``), never into the repository.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mvlpt.registry import DATASET_REGISTRY

from .io import write_json_atomic

__all__ = ["DEMO_TASKS", "DEMO_VERSION", "ensure_demo_data", "generate_demo_data", "demo_root_is_valid",
           "DEMO_MULTITASK"]

DEMO_VERSION = "mvlpt-demo-v1"
IMG = 64
SPLITS = (("train", 16), ("val", 4), ("test", 10))

DEMO_TASKS = {
    "DemoShapes": ["circle", "square", "triangle", "star", "cross"],
    "DemoColors": ["red", "green", "blue", "yellow", "purple", "orange", "black", "white"],
    "DemoDigits": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "DemoTextures": ["striped", "polka-dotted", "chequered", "zigzagged", "grid"],
    "DemoArrows": ["up arrow", "down arrow", "left arrow", "right arrow"],
}
DEMO_MULTITASK = list(DEMO_TASKS)
DEMO_TEMPLATES = {"DemoShapes": "a photo of a {}.", "DemoColors": "a photo of the color {}.",
                  "DemoDigits": "a photo of the number {}.", "DemoTextures": "a photo of a {} texture.",
                  "DemoArrows": "a photo of an {}."}
_COLORS = {"red": (220, 30, 30), "green": (30, 170, 40), "blue": (30, 60, 220), "yellow": (240, 220, 30),
           "purple": (130, 40, 170), "orange": (250, 140, 20), "black": (15, 15, 15), "white": (245, 245, 245)}


def _bg(rng, light=True):
    base = rng.integers(180, 245) if light else rng.integers(20, 70)
    tint = rng.integers(-15, 16, size=3)
    return tuple(int(np.clip(base + t, 0, 255)) for t in tint)


def _fg(rng):
    palette = [(200, 30, 30), (30, 120, 200), (20, 140, 60), (120, 40, 160), (30, 30, 30), (210, 120, 20)]
    return palette[int(rng.integers(len(palette)))]


def _poly(cx, cy, r, n, rot):
    return [(cx + r * math.cos(rot + 2 * math.pi * i / n), cy + r * math.sin(rot + 2 * math.pi * i / n)) for i in range(n)]


def _shape(name, rng):
    img = Image.new("RGB", (IMG, IMG), _bg(rng))
    d = ImageDraw.Draw(img)
    r = float(rng.uniform(16, 24))
    cx, cy = (float(rng.uniform(r + 2, IMG - r - 2)) for _ in range(2))
    col = _fg(rng)
    rot = float(rng.uniform(0, 2 * math.pi))
    if name == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
    elif name == "square":
        d.polygon(_poly(cx, cy, r * 1.2, 4, rot), fill=col)
    elif name == "triangle":
        d.polygon(_poly(cx, cy, r * 1.2, 3, rot), fill=col)
    elif name == "star":
        pts = []
        for i in range(10):
            rr = r * 1.2 if i % 2 == 0 else r * 0.5
            a = rot + math.pi * i / 5
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        d.polygon(pts, fill=col)
    elif name == "cross":
        w = r * 0.35
        arms = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w)]
        c, s = math.cos(rot), math.sin(rot)
        d.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in arms], fill=col)
    return img


def _color(name, rng):
    bg = (128, 128, 128) if name not in ("black", "white") else ((200, 200, 200) if name == "black" else (70, 70, 70))
    img = Image.new("RGB", (IMG, IMG), tuple(int(np.clip(v + rng.integers(-20, 21), 0, 255)) for v in bg))
    d = ImageDraw.Draw(img)
    col = tuple(int(np.clip(v + rng.integers(-20, 21), 0, 255)) for v in _COLORS[name])
    m = int(rng.integers(4, 14))
    if rng.random() < 0.5:
        d.ellipse([m, m, IMG - m, IMG - m], fill=col)
    else:
        d.rectangle([m, m, IMG - m, IMG - m], fill=col)
    return img


def _digit(name, rng):
    k = DEMO_TASKS["DemoDigits"].index(name)
    img = Image.new("RGB", (IMG, IMG), _bg(rng))
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=int(rng.integers(38, 50)))
    x0, y0, x1, y1 = d.textbbox((0, 0), str(k), font=font)
    w, h = x1 - x0, y1 - y0
    x = float(rng.uniform(2, max(3, IMG - w - 2))) - x0
    y = float(rng.uniform(2, max(3, IMG - h - 2))) - y0
    d.text((x, y), str(k), fill=_fg(rng), font=font)
    return img


def _texture(name, rng):
    bg, fg = _bg(rng), _fg(rng)
    img = Image.new("RGB", (IMG, IMG), bg)
    draw_texture(ImageDraw.Draw(img), name, rng, fg)
    return img


def draw_texture(d, name, rng, fg):
    """Draw texture ``name`` (striped, polka-dotted, chequered, zigzagged, grid) in colour ``fg`` on the
    ``ImageDraw`` ``d``; period and offset drawn from ``rng`` (shared with the demo CLIP's pre-training)."""
    p = int(rng.integers(8, 13))
    o = int(rng.integers(0, p))
    if name == "striped":
        vertical = rng.random() < 0.5
        for t in range(-p + o, IMG, p):
            box = [t, 0, t + p // 2 - 1, IMG] if vertical else [0, t, IMG, t + p // 2 - 1]
            d.rectangle(box, fill=fg)
    elif name == "polka-dotted":
        rr = p // 4 + 1
        for yy in range(o - p, IMG + p, p):
            for xx in range(o - p, IMG + p, p):
                d.ellipse([xx - rr, yy - rr, xx + rr, yy + rr], fill=fg)
    elif name == "chequered":
        for yy in range(0, IMG, p):
            for xx in range(0, IMG, p):
                if (xx // p + yy // p) % 2 == 0:
                    d.rectangle([xx, yy, xx + p - 1, yy + p - 1], fill=fg)
    elif name == "zigzagged":
        for yy in range(o - p, IMG + p, p):
            pts = [(xx, yy + (p // 2 if (xx // (p // 2 + 1)) % 2 else 0)) for xx in range(0, IMG + p, p // 2 + 1)]
            d.line(pts, fill=fg, width=2)
    elif name == "grid":
        for t in range(o, IMG, p):
            d.line([(t, 0), (t, IMG)], fill=fg, width=1)
            d.line([(0, t), (IMG, t)], fill=fg, width=1)


def _arrow(name, rng):
    img = Image.new("RGB", (IMG, IMG), _bg(rng))
    d = ImageDraw.Draw(img)
    L = float(rng.uniform(20, 27))
    cx, cy = (float(rng.uniform(L + 3, IMG - L - 3)) for _ in range(2))
    w = float(rng.uniform(4, 7))
    hw, hl = w * 2.4, L * 0.7
    shape = [(-L, -w), (L - hl, -w), (L - hl, -hw), (L, 0), (L - hl, hw), (L - hl, w), (-L, w)]  # pointing right
    ang = {"right arrow": 0.0, "down arrow": math.pi / 2, "left arrow": math.pi, "up arrow": -math.pi / 2}[name]
    ang += float(rng.uniform(-0.15, 0.15))
    c, s = math.cos(ang), math.sin(ang)
    d.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in shape], fill=_fg(rng))
    return img


_DRAW = {"DemoShapes": _shape, "DemoColors": _color, "DemoDigits": _digit, "DemoTextures": _texture,
         "DemoArrows": _arrow}


def _slug(name):
    return name.replace(" ", "_")


def generate_demo_data(root, tasks=None):
    """Write the demo tasks under ``root`` (deterministic); returns ``root``."""
    os.makedirs(root, exist_ok=True)
    for t_i, task in enumerate(tasks or DEMO_TASKS):
        classes = DEMO_TASKS[task]
        tdir = os.path.join(root, task)
        splits = {s: [] for s, _ in SPLITS}
        for label, cname in enumerate(classes):
            cdir = os.path.join(tdir, "images", _slug(cname))
            os.makedirs(cdir, exist_ok=True)
            for s_i, (split, n) in enumerate(SPLITS):
                for i in range(n):
                    rng = np.random.default_rng([t_i, label, s_i, i, 2024])
                    img = _DRAW[task](cname, rng)
                    rel = f"{_slug(cname)}/{split}_{i:02d}.png"
                    img.save(os.path.join(tdir, "images", rel), optimize=True)
                    splits[split].append([rel, label, cname])
        write_json_atomic(splits, os.path.join(tdir, "split_demo.json"), indent=1)
    with open(os.path.join(root, "DEMO_VERSION"), "w") as f:
        f.write(DEMO_VERSION + "\n")
    return root


def demo_root_is_valid(root):
    p = os.path.join(root, "DEMO_VERSION")
    if not os.path.isfile(p):
        return False
    with open(p) as f:
        if f.read().strip() != DEMO_VERSION:
            return False
    return all(os.path.isfile(os.path.join(root, t, "split_demo.json")) for t in DEMO_TASKS)


def shipped_demo_root():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "datasets", "demo", "data")


def ensure_demo_data(root=None):
    """Return a folder holding the demo tasks.

    ``root`` given: generate there unless already valid. Otherwise: ``$MVLPT_DEMO_ROOT``, then the
    shipped ``datasets/demo/data``, else generate into ``$MVLPT_CACHE/demo`` (``~/.cache/mvlpt``).
    """
    if root is None:
        env = os.environ.get("MVLPT_DEMO_ROOT")
        if env and demo_root_is_valid(env):
            return env
        shipped = shipped_demo_root()
        if demo_root_is_valid(shipped):
            return shipped
        base = os.environ.get("MVLPT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "mvlpt"))
        root = os.path.join(base, "demo", DEMO_VERSION)
    root = os.path.abspath(os.path.expanduser(root))
    if demo_root_is_valid(root):
        return root
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".demo-", dir=parent)
    try:
        generate_demo_data(tmp)
        if demo_root_is_valid(root):  # another process won the race
            return root
        if os.path.isdir(root):
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return root


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
def _register():
    from .datasets.coop import CoOpSplitDataset

    class DemoDataset(CoOpSplitDataset):
        """A demo task in CoOp layout; root = :func:`ensure_demo_data` (``DATASET.ROOT`` is ignored)."""

        split_file = "split_demo.json"
        image_dir_name = "images"
        fetch_hint = "python datasets/demo/generate.py"

        def __init__(self, cfg):
            cfg = cfg.clone()
            cfg.defrost()
            cfg.DATASET.ROOT = ensure_demo_data()
            if not cfg.DATASET.get("FEWSHOT_CACHE_DIR", ""):
                base = os.environ.get("MVLPT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "mvlpt"))
                cfg.DATASET.FEWSHOT_CACHE_DIR = os.path.join(base, "split_fewshot", DEMO_VERSION)
            super().__init__(cfg)

    for task in DEMO_TASKS:
        cls = type(task, (DemoDataset,), {"dataset_dir_name": task, "template": DEMO_TEMPLATES[task],
                                          "hflip_safe": task != "DemoArrows",
                                          "__doc__": f"Demo task ``{task}``: {', '.join(DEMO_TASKS[task])}."})
        cls.__module__ = __name__
        DATASET_REGISTRY.register(cls)

    def DemoMultitask(cfg):  # noqa: N802 - registry name
        """The five demo tasks merged into one label space (multitask pipeline without downloads)."""
        from .data_manager import build_multitask
        return build_multitask(cfg, DEMO_MULTITASK)

    DATASET_REGISTRY.register(DemoMultitask, name="DemoMultitask")


_register()

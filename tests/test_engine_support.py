"""Helpers shared by the engine / CLI / DDP tests: tiny image folders and a stand-in DataManager.

The stand-in is used only when ``mvlpt.data.DataManager`` is not available; it follows the
interface of the real one (``train_loader_x``, ``val_loader``, ``test_loader``, ``num_classes``,
``classnames``, ``lab2cname``, ``tasks``, ``train_transform_is_deterministic``; batches with
``img/label/task/index/impath``). ``run_cli.py`` written by :func:`write_runner` installs it in
subprocesses.
"""
import os
import sys
import textwrap

import numpy as np

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS_DIR)


def make_image_folder(root, classes=("cat", "dog", "fish"), per_class=4, size=32, seed=0):
    """root/<class>/<i>.png with random colourful images (different mean colour per class)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for i in range(per_class):
            base = np.zeros((size, size, 3)) + 60 * c
            arr = np.clip(base + rng.integers(0, 120, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(os.path.join(d, f"{i}.png"))
    return root


def png(path, color=(200, 10, 10), size=(8, 8)):
    """One solid-colour PNG at ``path`` (folders created)."""
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, color).save(path)


class _FolderDS:
    def __init__(self, root, transform):
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.items = [(os.path.join(root, c, f), i) for i, c in enumerate(self.classes)
                      for f in sorted(os.listdir(os.path.join(root, c)))]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        import torch
        from PIL import Image

        path, label = self.items[i]
        img = self.transform(Image.open(path).convert("RGB"))
        return {"img": img, "label": label, "task": 0, "index": i, "impath": path,
                "_": torch.zeros(())}


class StandInDataManager:
    """Folder dataset at DATASET.ROOT; train = test = all images (tests only)."""

    def __init__(self, cfg, is_distributed=False):
        import torch
        import torchvision.transforms as T
        from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

        if cfg.DATASET.NAME not in ("Folder", ""):
            raise KeyError(f'unknown dataset "{cfg.DATASET.NAME}"; did you mean \'Folder\'?')
        size = tuple(cfg.INPUT.SIZE)
        norm = T.Normalize(cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD)
        test_tf = T.Compose([T.Resize(size), T.ToTensor(), norm])
        rand = "random_flip" in cfg.INPUT.TRANSFORMS
        train_tf = T.Compose([T.Resize(size)] + ([T.RandomHorizontalFlip()] if rand else [])
                             + [T.ToTensor(), norm])
        self.train_transform_is_deterministic = not rand
        train = _FolderDS(cfg.DATASET.ROOT, train_tf)
        test = _FolderDS(cfg.DATASET.ROOT, test_tf)
        self.classnames = train.classes
        self.num_classes = len(self.classnames)
        self.lab2cname = dict(enumerate(self.classnames))
        self.tasks = []
        bs, tbs = cfg.DATALOADER.TRAIN_X.BATCH_SIZE, cfg.DATALOADER.TEST.BATCH_SIZE
        nw = cfg.DATALOADER.NUM_WORKERS
        seq = cfg.DATALOADER.TRAIN_X.SAMPLER == "SequentialSampler"
        if is_distributed:
            sampler = DistributedSampler(train, shuffle=not seq, seed=max(cfg.SEED, 0))
            tsampler = DistributedSampler(test, shuffle=False)
        else:
            sampler = SequentialSampler(train) if seq else RandomSampler(train)
            tsampler = SequentialSampler(test)
        self.train_loader_x = DataLoader(train, batch_size=bs, sampler=sampler, num_workers=nw, drop_last=False)
        self.val_loader = None
        self.test_loader = DataLoader(test, batch_size=tbs, sampler=tsampler, num_workers=nw)
        self.dataset = train
        del torch


def install_standins():
    """Use the stand-in DataManager if the real one has not landed yet."""
    import mvlpt.data as data

    if not hasattr(data, "DataManager"):
        data.DataManager = StandInDataManager
    return data.DataManager


RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import test_engine_support as s
s.install_standins()
from mvlpt.cli import main
sys.exit(main())
"""


def write_runner(tmpdir):
    """A script that behaves like train.py (with stand-ins installed when needed)."""
    path = os.path.join(str(tmpdir), "run_cli.py")
    with open(path, "w") as f:
        f.write(textwrap.dedent(RUNNER.format(tests=TESTS_DIR)))
    return path


def base_args(root, out, trainer="CoOp", epochs=2, extra=()):
    """CLI args for a tiny, fast run (ViT-B/32 with random weights, 32px images -> 224 resize)."""
    return ["--root", root, "--output-dir", out, "--trainer", trainer, "--backbone", "ViT-B/32",
            "--seed", "0",
            "MODEL.BACKBONE.PRETRAINED", "none", "DATASET.NAME", "Folder",
            "DATALOADER.NUM_WORKERS", "0", "DATALOADER.TRAIN_X.BATCH_SIZE", "4",
            "DATALOADER.TEST.BATCH_SIZE", "12", "OPTIM.MAX_EPOCH", str(epochs), "OPTIM.LR", "0.01",
            "OPTIM.LR_SCHEDULER", "cosine", "OPTIM.WARMUP_EPOCH", "1", "OPTIM.WARMUP_TYPE", "constant",
            "TRAIN.PRINT_FREQ", "1", "INPUT.SIZE", "(224, 224)",
            "TRAINER.COOP.N_CTX", "4", "TRAINER.COOP.PREC", "fp32", *extra]


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = REPO + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def test_support_folder(tmp_path):
    root = make_image_folder(str(tmp_path / "d"), per_class=1)
    assert sorted(os.listdir(root)) == ["cat", "dog", "fish"]
    assert sys.version_info >= (3, 9)

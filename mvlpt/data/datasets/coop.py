"""Readers for the 11 CoOp source datasets and the 4 test-only ImageNet variants.

Every reader follows CoOp's on-disk layout under ``DATASET.ROOT`` and reads the published
``split_zhou_<Name>.json`` (paths relative to the image folder; StanfordCars: to the dataset
folder). Class names come from the split file (underscores kept). See ``datasets/README.md``.
"""
from __future__ import annotations

import os

from mvlpt.registry import DATASET_REGISTRY

from ..datum import Datum
from ..io import DatasetLayoutError, listdir_nohidden, read_json, write_json_atomic
from .base import FewShotDataset, read_coop_split, require

__all__ = ["CoOpSplitDataset", "COOP_DATASETS", "IMAGENET_VARIANTS", "read_imagenet_classnames"]

FETCH = "python datasets/download_coop.py {name} --root {root}   (instructions: datasets/{doc})"


class CoOpSplitDataset(FewShotDataset):
    """A CoOp dataset read from its ``split_zhou_<Name>.json`` file."""

    split_file = ""
    doc = "README.md"

    @property
    def fetch_hint(self):
        return FETCH.format(name=self.registry_name(), root=self.root, doc=self.doc)

    def check_layout(self):
        super().check_layout()
        require(os.path.join(self.dataset_dir, self.split_file), f"{self.registry_name()} split file", self.fetch_hint)

    def read_splits(self, cfg):
        train, val, test = read_coop_split(os.path.join(self.dataset_dir, self.split_file), self.image_dir)
        return dict(train=train, val=val, test=test)


def _coop(name, ddir, idir, split, doc, template="a photo of a {}."):
    cls = type(name, (CoOpSplitDataset,), dict(
        dataset_dir_name=ddir, image_dir_name=idir, split_file=split, doc=doc, template=template,
        __doc__=f"CoOp ``{name}``: ``$ROOT/{ddir}/{idir}`` + ``{split}`` (see ``datasets/{doc}``)."))
    cls.__module__ = __name__
    DATASET_REGISTRY.register(cls)
    return cls


Caltech101 = _coop("Caltech101", "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json", "caltech101.md")
OxfordPets = _coop("OxfordPets", "oxford_pets", "images", "split_zhou_OxfordPets.json", "oxford_pets.md",
                   "a photo of a {}, a type of pet.")
StanfordCars = _coop("StanfordCars", "stanford_cars", "", "split_zhou_StanfordCars.json", "stanford_cars.md")
OxfordFlowers = _coop("OxfordFlowers", "oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json", "oxford_flowers.md",
                      "a photo of a {}, a type of flower.")
Food101 = _coop("Food101", "food-101", "images", "split_zhou_Food101.json", "food101.md",
                "a photo of {}, a type of food.")
SUN397 = _coop("SUN397", "sun397", "SUN397", "split_zhou_SUN397.json", "sun397.md")
DescribableTextures = _coop("DescribableTextures", "dtd", "images", "split_zhou_DescribableTextures.json", "dtd.md",
                            "{} texture.")
DATASET_REGISTRY.register(DescribableTextures, name="DTD")
EuroSAT = _coop("EuroSAT", "eurosat", "2750", "split_zhou_EuroSAT.json", "eurosat.md",
                "a centered satellite photo of {}.")
UCF101 = _coop("UCF101", "ucf101", "UCF-101-midframes", "split_zhou_UCF101.json", "ucf101.md",
               "a photo of a person doing {}.")


@DATASET_REGISTRY.register()
class FGVCAircraft(FewShotDataset):
    """FGVC-Aircraft 2013b variants: ``$ROOT/fgvc_aircraft`` with the official txt splits (no JSON)."""

    dataset_dir_name = "fgvc_aircraft"
    image_dir_name = "images"
    template = "a photo of a {}, a type of aircraft."

    @property
    def fetch_hint(self):
        return FETCH.format(name="FGVCAircraft", root=self.root, doc="fgvc_aircraft.md")

    def check_layout(self):
        super().check_layout()
        for f in ("variants.txt", "images_variant_train.txt", "images_variant_val.txt", "images_variant_test.txt"):
            require(os.path.join(self.dataset_dir, f), "FGVCAircraft split file", self.fetch_hint)

    def read_splits(self, cfg):
        with open(os.path.join(self.dataset_dir, "variants.txt"), encoding="utf-8") as f:
            classnames = [ln.strip() for ln in f if ln.strip()]
        cname2lab = {c: i for i, c in enumerate(classnames)}

        def read(split):
            out = []
            with open(os.path.join(self.dataset_dir, f"images_variant_{split}.txt"), encoding="utf-8") as f:
                for ln in f:
                    ln = ln.strip()
                    if not ln:
                        continue
                    imname, cname = ln.split(" ", 1)
                    out.append(Datum(os.path.join(self.image_dir, imname + ".jpg"), cname2lab[cname], cname))
            return out

        return dict(train=read("train"), val=read("val"), test=read("test"), classnames=classnames)


def read_imagenet_classnames(path):
    """``classnames.txt`` -> OrderedDict wnid -> name (everything after the first space)."""
    from collections import OrderedDict
    out = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for ln in f:
            ln = ln.rstrip("\n").rstrip("\r")
            if not ln.strip():
                continue
            wnid, _, name = ln.partition(" ")
            out[wnid] = name.strip()
    return out


@DATASET_REGISTRY.register()
class ImageNet(FewShotDataset):
    """ImageNet-1k: ``$ROOT/imagenet/images/{train,val}/<wnid>/*`` + ``imagenet/classnames.txt``.

    MVLPT's layout without the ``images/`` level is accepted too. The folder listing is cached in
    ``imagenet/preprocessed.json`` (relative paths). Val = test = the official 50k val images.
    """

    dataset_dir_name = "imagenet"
    image_dir_name = "images"
    val_is_test = True
    sample_val = False

    @property
    def fetch_hint(self):
        return FETCH.format(name="ImageNet", root=self.root, doc="imagenet.md")

    def check_layout(self):
        require(self.dataset_dir, "ImageNet folder", self.fetch_hint)
        if not os.path.isdir(self.image_dir) and os.path.isdir(os.path.join(self.dataset_dir, "train")):
            self.image_dir = self.dataset_dir  # MVLPT layout: imagenet/{train,val}
        for sub in ("train", "val"):
            require(os.path.join(self.image_dir, sub), f"ImageNet {sub} folder", self.fetch_hint)
        require(os.path.join(self.dataset_dir, "classnames.txt"), "ImageNet classnames.txt", self.fetch_hint)

    def read_splits(self, cfg):
        names = read_imagenet_classnames(os.path.join(self.dataset_dir, "classnames.txt"))
        pre = os.path.join(self.dataset_dir, "preprocessed.json")
        listing = None
        if os.path.isfile(pre):
            try:
                listing = read_json(pre)
            except Exception:  # noqa: BLE001
                listing = None
        if listing is None:
            listing = {}
            for split in ("train", "val"):
                sdir = os.path.join(self.image_dir, split)
                rows = []
                for label, wnid in enumerate(sorted(d for d in listdir_nohidden(sdir)
                                                    if os.path.isdir(os.path.join(sdir, d)))):
                    for im in listdir_nohidden(os.path.join(sdir, wnid)):
                        rows.append([f"{split}/{wnid}/{im}", label, wnid])
                listing[split] = rows
            try:
                write_json_atomic(listing, pre)
            except OSError:
                pass

        def conv(rows):
            return [Datum(os.path.join(self.image_dir, r), lab, names.get(w, w)) for r, lab, w in rows]

        classnames = list(names.values()) if len(names) == 1000 else None
        return dict(train=conv(listing["train"]), val=None, test=conv(listing["val"]), classnames=classnames)


class _ImageNetVariant(FewShotDataset):
    """Test-only ImageNet variant: ``train_x = test = all images``; names from ``classnames.txt``."""

    test_only = True
    doc = "imagenet_variants.md"

    @property
    def fetch_hint(self):
        return FETCH.format(name=self.registry_name(), root=self.root, doc=self.doc)

    def check_layout(self):
        super().check_layout()
        require(os.path.join(self.dataset_dir, "classnames.txt"), f"{self.registry_name()} classnames.txt "
                "(copy of imagenet/classnames.txt)", self.fetch_hint)

    def folders(self):
        return sorted(d for d in listdir_nohidden(self.image_dir) if os.path.isdir(os.path.join(self.image_dir, d)))

    def read_splits(self, cfg):
        names = read_imagenet_classnames(os.path.join(self.dataset_dir, "classnames.txt"))
        items, classnames = [], []
        for label, folder in enumerate(self.folders()):
            cname = self.classname_of(folder, names)
            classnames.append(cname)
            fdir = os.path.join(self.image_dir, folder)
            items.extend(Datum(os.path.join(fdir, im), label, cname) for im in listdir_nohidden(fdir))
        return dict(train=[], val=None, test=items, classnames=classnames)

    def classname_of(self, folder, names):
        if folder not in names:
            raise DatasetLayoutError(f"{self.registry_name()}: folder {folder!r} is not a wnid of "
                                     f"{os.path.join(self.dataset_dir, 'classnames.txt')}")
        return names[folder]


@DATASET_REGISTRY.register()
class ImageNetV2(_ImageNetVariant):
    """ImageNetV2 matched-frequency: folders ``0..999``, folder i = label i = line i of classnames.txt."""

    dataset_dir_name = "imagenetv2"
    image_dir_name = "imagenetv2-matched-frequency-format-val"

    def folders(self):
        return [str(i) for i in range(1000)]

    def read_splits(self, cfg):
        names = list(read_imagenet_classnames(os.path.join(self.dataset_dir, "classnames.txt")).values())
        items = []
        for label in range(1000):
            fdir = os.path.join(self.image_dir, str(label))
            if not os.path.isdir(fdir):
                raise DatasetLayoutError(f"ImageNetV2 class folder not found: {fdir}; {self.fetch_hint}")
            items.extend(Datum(os.path.join(fdir, im), label, names[label]) for im in listdir_nohidden(fdir))
        return dict(train=[], val=None, test=items, classnames=names)


@DATASET_REGISTRY.register()
class ImageNetSketch(_ImageNetVariant):
    """ImageNet-Sketch: ``imagenet-sketch/images/<wnid>/*`` (1000 classes)."""

    dataset_dir_name = "imagenet-sketch"
    image_dir_name = "images"


@DATASET_REGISTRY.register()
class ImageNetA(_ImageNetVariant):
    """ImageNet-A: ``imagenet-adversarial/imagenet-a/<wnid>/*``; labels 0..199 over its own sorted folders."""

    dataset_dir_name = "imagenet-adversarial"
    image_dir_name = "imagenet-a"


@DATASET_REGISTRY.register()
class ImageNetR(_ImageNetVariant):
    """ImageNet-R: ``imagenet-rendition/imagenet-r/<wnid>/*``; labels 0..199 over its own sorted folders."""

    dataset_dir_name = "imagenet-rendition"
    image_dir_name = "imagenet-r"


#: CoOp registry name -> (folder under ROOT, split file or None)
COOP_DATASETS = {
    "ImageNet": ("imagenet", None),
    "Caltech101": ("caltech-101", "split_zhou_Caltech101.json"),
    "OxfordPets": ("oxford_pets", "split_zhou_OxfordPets.json"),
    "StanfordCars": ("stanford_cars", "split_zhou_StanfordCars.json"),
    "OxfordFlowers": ("oxford_flowers", "split_zhou_OxfordFlowers.json"),
    "Food101": ("food-101", "split_zhou_Food101.json"),
    "FGVCAircraft": ("fgvc_aircraft", None),
    "SUN397": ("sun397", "split_zhou_SUN397.json"),
    "DescribableTextures": ("dtd", "split_zhou_DescribableTextures.json"),
    "EuroSAT": ("eurosat", "split_zhou_EuroSAT.json"),
    "UCF101": ("ucf101", "split_zhou_UCF101.json"),
}
IMAGENET_VARIANTS = ("ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR")

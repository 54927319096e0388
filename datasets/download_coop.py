#!/usr/bin/env python
"""Fetch the CoOp split files (and the small metadata files) with gdown.

    python datasets/download_coop.py OxfordPets --root $DATA
    python datasets/download_coop.py all --root $DATA          # every split file
    python datasets/download_coop.py UCF101 --root $DATA --images   # + UCF-101 mid-frames zip (Drive)

Images must be fetched from their upstream pages (printed by this script and listed in
datasets/README.md); this script only places the published ``split_zhou_<Name>.json`` files,
``imagenet/classnames.txt`` (also copied into the 4 ImageNet-variant folders) and
``oxford_flowers/cat_to_name.json`` where the readers expect them. Existing files are kept.
Google Drive quota errors are common (CoOp#29, #90): retry later or download by hand from
https://drive.google.com/uc?id=<id> and place the file at the printed path.
"""
import argparse
import os
import shutil
import sys

# name -> list of (drive id, path under ROOT)
FILES = {
    "ImageNet": [("1-61f_ol79pViBFDG_IDlUQSwoLcn2XXF", "imagenet/classnames.txt")],
    "Caltech101": [("1hyarUivQE36mY6jSomru6Fjd-JzwcCzN", "caltech-101/split_zhou_Caltech101.json")],
    "OxfordPets": [("1501r8Ber4nNKvmlFVQZ8SeUHTcdTTEqs", "oxford_pets/split_zhou_OxfordPets.json")],
    "StanfordCars": [("1ObCFbaAgVu0I-k_Au-gIUcefirdAuizT", "stanford_cars/split_zhou_StanfordCars.json")],
    "OxfordFlowers": [("1AkcxCXeK_RCGCEC_GvmWxjcjaNhu-at0", "oxford_flowers/cat_to_name.json"),
                      ("1Pp0sRXzZFZq15zVOzKjKBu4A9i01nozT", "oxford_flowers/split_zhou_OxfordFlowers.json")],
    "Food101": [("1QK0tGi096I0Ba6kggatX1ee6dJFIcEJl", "food-101/split_zhou_Food101.json")],
    "FGVCAircraft": [],
    "SUN397": [("1y2RD81BYuiyvebdN-JymPfyWYcd8_MUq", "sun397/split_zhou_SUN397.json")],
    "DescribableTextures": [("1u3_QfB467jqHgNXC00UIzbLZRQCg2S7x", "dtd/split_zhou_DescribableTextures.json")],
    "EuroSAT": [("1Ip7yaCWFi0eaOFUGga0lUdVi_DDQth1o", "eurosat/split_zhou_EuroSAT.json")],
    "UCF101": [("1I0S0q91hJfsV9Gf4xDIjgDq4AqBNJb1y", "ucf101/split_zhou_UCF101.json")],
    "ImageNetV2": [], "ImageNetSketch": [], "ImageNetA": [], "ImageNetR": [],
}
ALIASES = {"DTD": "DescribableTextures"}
VARIANT_DIRS = {"ImageNetV2": "imagenetv2", "ImageNetSketch": "imagenet-sketch", "ImageNetA": "imagenet-adversarial",
                "ImageNetR": "imagenet-rendition"}
UCF_FRAMES = ("10Jqome3vtUA2keJkNanAiFpgbyC9Hc2O", "ucf101/UCF-101-midframes.zip")

IMAGES = {
    "ImageNet": "https://image-net.org/download.php (ILSVRC2012 train+val) -> imagenet/images/{train,val}/<wnid>/",
    "Caltech101": "https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip -> 101_ObjectCategories.tar.gz) "
                  "-> caltech-101/101_ObjectCategories/",
    "OxfordPets": "https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz, annotations.tar.gz) -> oxford_pets/",
    "StanfordCars": "cars_train.tgz, cars_test.tgz, car_devkit.tgz, cars_test_annos_withlabels.mat (the original "
                    "Stanford links are dead; mirrors on Kaggle/HF) -> stanford_cars/",
    "OxfordFlowers": "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, imagelabels.mat) "
                     "-> oxford_flowers/jpg/",
    "Food101": "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz -> food-101/images/",
    "FGVCAircraft": "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz; rename its "
                    "data/ to fgvc_aircraft/) -> fgvc_aircraft/{images,variants.txt,images_variant_*.txt}",
    "SUN397": "http://vision.princeton.edu/projects/2010/SUN/ (SUN397.tar.gz) -> sun397/SUN397/",
    "DescribableTextures": "https://www.robots.ox.ac.uk/~vgg/data/dtd/ (dtd-r1.0.1.tar.gz) -> dtd/images/",
    "EuroSAT": "EuroSAT.zip (RGB) -> eurosat/2750/",
    "UCF101": "UCF-101-midframes.zip (use --images) -> ucf101/UCF-101-midframes/",
    "ImageNetV2": "imagenetv2-matched-frequency.tar.gz (github.com/modestyachts/ImageNetV2) "
                  "-> imagenetv2/imagenetv2-matched-frequency-format-val/",
    "ImageNetSketch": "github.com/HaohanWang/ImageNet-Sketch -> imagenet-sketch/images/<wnid>/",
    "ImageNetA": "github.com/hendrycks/natural-adv-examples (imagenet-a.tar) -> imagenet-adversarial/imagenet-a/",
    "ImageNetR": "github.com/hendrycks/imagenet-r (imagenet-r.tar) -> imagenet-rendition/imagenet-r/",
}


def fetch(file_id, dst):
    if os.path.isfile(dst):
        print(f"  exists: {dst}")
        return True
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        import gdown
    except ImportError:
        print("  gdown is not installed: pip install gdown", file=sys.stderr)
        return False
    print(f"  fetching {dst}")
    out = gdown.download(id=file_id, output=dst, quiet=False)
    if not out or not os.path.isfile(dst):
        print(f"  FAILED: download https://drive.google.com/uc?id={file_id} by hand to {dst}", file=sys.stderr)
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="dataset name (CoOp registry name) or 'all'")
    ap.add_argument("--root", default=os.environ.get("DATA", ""), help="data root (DATASET.ROOT; default $DATA)")
    ap.add_argument("--images", action="store_true", help="also fetch Drive-hosted images (UCF101 mid-frames)")
    a = ap.parse_args()
    if not a.root:
        ap.error("--root (or $DATA) is required")
    root = os.path.abspath(os.path.expanduser(a.root))
    names = list(FILES) if a.name == "all" else [ALIASES.get(a.name, a.name)]
    ok = True
    for name in names:
        if name not in FILES:
            ap.error(f"unknown dataset {name!r}; choose from {', '.join(FILES)} or all")
        print(f"{name}:")
        for fid, rel in FILES[name]:
            ok &= fetch(fid, os.path.join(root, rel))
        if name in VARIANT_DIRS:
            src = os.path.join(root, "imagenet", "classnames.txt")
            ok &= fetch(FILES["ImageNet"][0][0], src)
            dst = os.path.join(root, VARIANT_DIRS[name], "classnames.txt")
            if os.path.isfile(src) and not os.path.isfile(dst):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
                print(f"  copied classnames.txt -> {dst}")
        if name == "UCF101" and a.images:
            z = os.path.join(root, UCF_FRAMES[1])
            if fetch(UCF_FRAMES[0], z) and not os.path.isdir(os.path.join(root, "ucf101", "UCF-101-midframes")):
                import zipfile
                with zipfile.ZipFile(z) as zf:
                    zf.extractall(os.path.join(root, "ucf101"))
        print(f"  images: {IMAGES[name]}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

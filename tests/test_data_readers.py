"""Readers on tiny on-disk fixtures: CoOp split JSON, ImageNet family, ELEVATER manifests, Folder, CSV;
few-shot counts/seeds, the portable cache, base/new splits, layout errors and the class tables."""
import json
import os
import shutil
import zipfile

import pytest
from PIL import Image

from mvlpt.data import (COOP_CLASSNAMES, ELEVATER_CLASSNAMES, ELEVATER_NON_COOP_TASKS, ELEVATER_TASK_NAMES,
                        PUBLISHED_NUM_CLASSES, DataManager, DatasetLayoutError, build_dataset, get_data_cfg, read_image)
from mvlpt.data.classnames import IMAGENET_R_WNIDS
from mvlpt.engine.registry import DATASET_REGISTRY

from test_engine_support import png

@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MVLPT_CACHE", str(tmp_path / "cache"))

def _cfg(root, name, **kw):
    cfg = get_data_cfg(**{"DATASET__ROOT": str(root), "DATASET__NAME": name, "DATALOADER__NUM_WORKERS": 0, **kw})
    cfg.SEED = 1
    return cfg

PETS = ["abyssinian", "american_bulldog", "beagle", "yorkshire_terrier"]

def make_pets(root, n_train=6, n_val=3, n_test=2):
    d = os.path.join(root, "oxford_pets")
    split = {"train": [], "val": [], "test": []}
    for lab, c in enumerate(PETS):
        for s, n in (("train", n_train), ("val", n_val), ("test", n_test)):
            for i in range(n):
                rel = f"{c}_{s}{i}.jpg"
                png(os.path.join(d, "images", rel), (lab * 40, i * 10, 0))
                split[s].append([rel, lab, c])
    with open(os.path.join(d, "split_zhou_OxfordPets.json"), "w") as f:
        json.dump(split, f, indent=4)
    return d

def test_coop_split_json_labels_classnames(tmp_path):
    make_pets(tmp_path)
    ds = build_dataset(_cfg(tmp_path, "OxfordPets"))
    assert ds.classnames == PETS and ds.num_classes == 4
    assert len(ds.train_x) == 24 and len(ds.val) == 12 and len(ds.test) == 8
    d = ds.train_x[0]
    assert d.impath == os.path.join(str(tmp_path), "oxford_pets", "images", "abyssinian_train0.jpg")
    assert (d.label, d.classname) == (0, "abyssinian")
    assert ds.tasks[0].name == "OxfordPets" and ds.template.endswith("a type of pet.")

def test_fewshot_counts_seeds_and_seed_zero(tmp_path):
    make_pets(tmp_path)
    ds = build_dataset(_cfg(tmp_path, "OxfordPets", DATASET__NUM_SHOTS=2))
    per = {c: sum(d.label == c for d in ds.train_x) for c in range(4)}
    assert per == {0: 2, 1: 2, 2: 2, 3: 2}
    assert {c: sum(d.label == c for d in ds.val) for c in range(4)} == {0: 2, 1: 2, 2: 2, 3: 2}  # min(K,4)
    assert len(ds.test) == 8  # test untouched
    again = build_dataset(_cfg(tmp_path, "OxfordPets", DATASET__NUM_SHOTS=2))
    assert [d.impath for d in again.train_x] == [d.impath for d in ds.train_x]
    k5 = build_dataset(_cfg(tmp_path, "OxfordPets", DATASET__NUM_SHOTS=5))
    assert len(k5.train_x) == 20 and len(k5.val) == 12  # val min(5,4)=4 > 3 available -> all 3
    picks = {s: tuple(d.impath for d in build_dataset(
        _cfg(tmp_path, "OxfordPets", DATASET__NUM_SHOTS=2, DATASET__FEWSHOT_SEED=s)).train_x) for s in (0, 1, 2, 3)}
    assert len(set(picks.values())) > 1  # seeds matter; seed 0 is a valid seed
    assert os.path.isfile(tmp_path / "oxford_pets" / "split_fewshot" / "shot_2-seed_0.json")

def test_fewshot_cache_is_portable(tmp_path):
    a = tmp_path / "a"
    make_pets(a)
    ds = build_dataset(_cfg(a, "OxfordPets", DATASET__NUM_SHOTS=3))
    cache = a / "oxford_pets" / "split_fewshot" / "shot_3-seed_1.json"
    obj = json.loads(cache.read_text())
    rows = obj["splits"]["train"]
    assert all(not os.path.isabs(r[0]) for r in rows)  # relative paths only
    rel = [os.path.relpath(d.impath, a) for d in ds.train_x]
    b = tmp_path / "moved"
    shutil.move(str(a), str(b))
    # make the cache distinguishable: a reused cache keeps this order, a resample would not
    obj["splits"]["train"] = rows[::-1]
    (b / "oxford_pets" / "split_fewshot" / "shot_3-seed_1.json").write_text(json.dumps(obj))
    moved = DATASET_REGISTRY.get("OxfordPets")(_cfg(b, "OxfordPets", DATASET__NUM_SHOTS=3))
    assert moved.fewshot_cache_hit
    assert [os.path.relpath(d.impath, b) for d in moved.train_x] == rel[::-1]
    assert all(d.impath.startswith(str(b)) and os.path.isfile(d.impath) for d in moved.train_x)
    # an external cache dir also survives a move of the data root
    ext = tmp_path / "ext"
    build_dataset(_cfg(b, "OxfordPets", DATASET__NUM_SHOTS=1, DATASET__FEWSHOT_CACHE_DIR=str(ext)))
    c = tmp_path / "moved2"
    shutil.move(str(b), str(c))
    again = DATASET_REGISTRY.get("OxfordPets")(_cfg(c, "OxfordPets", DATASET__NUM_SHOTS=1,
                                                    DATASET__FEWSHOT_CACHE_DIR=str(ext)))
    assert again.fewshot_cache_hit and all(os.path.isfile(d.impath) for d in again.train_x)

def test_base_new_split(tmp_path):
    make_pets(tmp_path)  # 4 classes -> base = labels 0,1 ; new = 2,3 relabelled 0,1
    base = build_dataset(_cfg(tmp_path, "OxfordPets", DATASET__SUBSAMPLE_CLASSES="base"))
    new = build_dataset(_cfg(tmp_path, "OxfordPets", DATASET__SUBSAMPLE_CLASSES="new"))
    assert base.classnames == PETS[:2] and new.classnames == PETS[2:]
    assert {d.label for d in new.test} == {0, 1} and all(new.classnames[d.label] == d.classname for d in new.test)
    assert {d.classname for d in base.train_x} == set(PETS[:2])
    few_new = build_dataset(_cfg(tmp_path, "OxfordPets", DATASET__SUBSAMPLE_CLASSES="new", DATASET__NUM_SHOTS=1))
    assert len(few_new.train_x) == 2 and few_new.num_classes == 2

def test_layout_errors_name_path_and_command(tmp_path):
    with pytest.raises(DatasetLayoutError) as e:
        build_dataset(_cfg(tmp_path, "Food101"))
    assert str(tmp_path / "food-101") in str(e.value) and "datasets/download_coop.py Food101" in str(e.value)
    os.makedirs(tmp_path / "food-101" / "images")
    with pytest.raises(DatasetLayoutError) as e:
        build_dataset(_cfg(tmp_path, "Food101"))
    assert "split_zhou_Food101.json" in str(e.value)

def test_stanford_cars_paths_relative_to_dataset_dir(tmp_path):
    d = tmp_path / "stanford_cars"
    split = {"train": [["cars_train/00001.jpg", 0, "2000 AM General Hummer SUV"]],
             "val": [["cars_train/00002.jpg", 0, "2000 AM General Hummer SUV"]],
             "test": [["cars_test/00001.jpg", 0, "2000 AM General Hummer SUV"]]}
    for s in split.values():
        png(str(d / s[0][0]))
    (d / "split_zhou_StanfordCars.json").write_text(json.dumps(split))
    ds = build_dataset(_cfg(tmp_path, "StanfordCars"))
    assert ds.test[0].impath == str(d / "cars_test" / "00001.jpg") and os.path.isfile(ds.test[0].impath)

def test_fgvc_aircraft_txt_splits(tmp_path):
    d = tmp_path / "fgvc_aircraft"
    variants = ["707-320", "A300B4", "F/A-18"]
    (d / "images").mkdir(parents=True)
    (d / "variants.txt").write_text("\n".join(variants) + "\n")
    for s, n in (("train", 2), ("val", 1), ("test", 1)):
        lines = []
        for v_i, v in enumerate(variants):
            for i in range(n):
                img = f"{v_i}{s[:2]}{i:04d}"
                png(str(d / "images" / f"{img}.jpg"))
                lines.append(f"{img} {v}")
        (d / f"images_variant_{s}.txt").write_text("\n".join(lines) + "\n")
    ds = build_dataset(_cfg(tmp_path, "FGVCAircraft"))
    assert ds.classnames == variants and len(ds.train_x) == 6 and ds.test[-1].classname == "F/A-18"

def _classnames_txt(path, wnids):
    with open(path, "w") as f:
        for i, w in enumerate(wnids):
            f.write(f"{w} class  number {i}\n")

def test_imagenet_and_variants(tmp_path):
    wnids = ["n01440764", "n01443537", "n01484850"]
    inet = tmp_path / "imagenet"
    for split in ("train", "val"):
        for w in wnids:
            for i in range(3 if split == "train" else 1):
                png(str(inet / "images" / split / w / f"{w}_{i}.JPEG"))
    _classnames_txt(inet / "classnames.txt", wnids)
    ds = build_dataset(_cfg(tmp_path, "ImageNet", DATASET__NUM_SHOTS=2))
    assert ds.classnames[2] == "class  number 2"  # everything after the first space
    assert len(ds.train_x) == 6 and ds.val == ds.test and len(ds.test) == 3
    assert os.path.isfile(inet / "preprocessed.json")
    # ImageNet-A: labels over its own sorted folders, README ignored
    a = tmp_path / "imagenet-adversarial"
    for w in (wnids[2], wnids[0]):
        png(str(a / "imagenet-a" / w / "x.jpg"))
    (a / "imagenet-a" / "README.txt").write_text("readme")
    _classnames_txt(a / "classnames.txt", wnids)
    da = build_dataset(_cfg(tmp_path, "ImageNetA", DATASET__NUM_SHOTS=1))
    assert da.classnames == ["class  number 0", "class  number 2"] and da.train_x == da.test and da.val is None
    # ImageNetV2: folder i = label i
    v2 = tmp_path / "imagenetv2"
    names = [f"n{i:08d}" for i in range(1000)]
    for i in range(1000):
        os.makedirs(v2 / "imagenetv2-matched-frequency-format-val" / str(i))
    png(str(v2 / "imagenetv2-matched-frequency-format-val" / "7" / "a.jpeg"))
    _classnames_txt(v2 / "classnames.txt", names)
    dv = build_dataset(_cfg(tmp_path, "ImageNetV2"))
    assert dv.num_classes == 1000 and [(d.label, d.classname) for d in dv.test] == [(7, "class  number 7")]

# --------------------------------------------------------------------------- ELEVATER
def _zip_with(zpath, members):
    os.makedirs(os.path.dirname(zpath), exist_ok=True)
    with zipfile.ZipFile(zpath, "w") as z:
        for name, color in members:
            img = Image.new("RGB", (8, 8), color)
            import io
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            z.writestr(name, buf.getvalue())

def make_cifar10(root, per_class=10, test_per_class=2):
    d = os.path.join(root, "classification", "cifar_10_20211007")
    train, test = [], []
    for c in range(10):
        for i in range(per_class):
            train.append((f"train/{c}/img {i}.png", (c * 20, i, 0)))  # space in the member name
        for i in range(test_per_class):
            test.append((f"test/{c}/{i}.png", (c * 20, 0, i)))
    _zip_with(os.path.join(d, "train.zip"), train)
    _zip_with(os.path.join(d, "val.zip"), test)
    with open(os.path.join(d, "train.txt"), "w") as f:
        f.writelines(f"train.zip@{n} {n.split('/')[1]}\n" for n, _ in train)
    with open(os.path.join(d, "test.txt"), "w") as f:
        f.writelines(f"val.zip@{n} {n.split('/')[1]}\n\n" for n, _ in test)
    with open(os.path.join(d, "labels.txt"), "w") as f:
        f.write("\n".join(ELEVATER_CLASSNAMES["cifar-10"]))
    return d

def test_elevater_iris_zip_kshot_and_split(tmp_path):
    make_cifar10(tmp_path)
    cfg = _cfg(tmp_path, "cifar-10", DATASET__NUM_SHOTS=5, DATASET__FEWSHOT_SEED=0)
    ds = build_dataset(cfg)
    assert ds.classnames == ELEVATER_CLASSNAMES["cifar-10"] and ds.tasks[0].metric == "accuracy"
    # K=5 -> per class ceil(0.2*5)=1 val, 4 train
    assert {c: sum(d.label == c for d in ds.train_x) for c in range(10)} == {c: 4 for c in range(10)}
    assert {c: sum(d.label == c for d in ds.val) for c in range(10)} == {c: 1 for c in range(10)}
    assert len(ds.test) == 20 and not set(d.impath for d in ds.train_x) & set(d.impath for d in ds.val)
    assert "train.zip@train/" in ds.train_x[0].impath and " " in ds.train_x[0].impath
    img = read_image(ds.train_x[0].impath)
    assert img.size == (8, 8) and img.mode == "RGB"
    same = build_dataset(_cfg(tmp_path, "cifar-10", DATASET__NUM_SHOTS=5, DATASET__FEWSHOT_SEED=0))
    assert [d.impath for d in same.train_x] == [d.impath for d in ds.train_x]
    other = build_dataset(_cfg(tmp_path, "cifar-10", DATASET__NUM_SHOTS=5, DATASET__FEWSHOT_SEED=1))
    assert [d.impath for d in other.train_x] != [d.impath for d in ds.train_x]
    # default K for ELEVATER = NUM_SAMPLES_PER_CLASS (20 > 10 available -> all 10, 2 val)
    full = build_dataset(_cfg(tmp_path, "cifar-10"))
    assert len(full.train_x) == 80 and len(full.val) == 20
    dm = DataManager(_cfg(tmp_path, "cifar-10", DATASET__NUM_SHOTS=2, DATALOADER__TRAIN_X__BATCH_SIZE=4))
    assert dm.protocol == "elevater" and dm.train_transform_is_deterministic
    b = next(iter(dm.train_loader_x))
    assert b["img"].shape == (4, 3, 224, 224) and b["label"].dtype.is_floating_point is False

def test_elevater_kshot_rule_matches_reference():
    """First K per class of the seeded shuffle, order kept (vision-datasets 0.2.x rule)."""
    import random
    from mvlpt.data import Datum
    from mvlpt.data.fewshot import elevater_sample_kshot, elevater_train_val_split
    items = [Datum(f"i{i}", i % 3, str(i % 3)) for i in range(30)]
    got = elevater_sample_kshot(items, 4, seed=2, num_classes=3)
    order = list(items)
    random.Random(2).shuffle(order)
    ref, cnt = [], [0, 0, 0]
    for d in order:
        if cnt[d.label] < 4:
            cnt[d.label] += 1
            ref.append(d)
    assert got == ref
    tr, va = elevater_train_val_split(got, 3)
    assert len(va) == 3 and len(tr) == 9  # K=4 -> 3/1 per class
    assert va == [next(d for d in got if d.label == c) for c in (va[0].label, va[1].label, va[2].label)]

def test_elevater_voc_multilabel_and_coco(tmp_path):
    d = tmp_path / "classification" / "voc2007_20211007"
    members, lines = [], []
    for i in range(40):
        labs = [i % 20] if i % 3 else [i % 20, (i + 5) % 20]
        members.append((f"JPEG/{i}.jpg", (i, i, i)))
        lines.append(f"train.zip@JPEG/{i}.jpg {','.join(map(str, labs))}")
    members.append(("JPEG/neg.jpg", (1, 1, 1)))
    lines.append("train.zip@JPEG/neg.jpg")
    _zip_with(str(d / "train.zip"), members)
    _zip_with(str(d / "test.zip"), members)
    (d / "train_ic.txt").write_text("\n".join(lines))
    (d / "test_ic.txt").write_text("\n".join(lines).replace("train.zip", "test.zip"))
    (d / "labels.txt").write_text("\n".join(ELEVATER_CLASSNAMES["voc-2007-classification"]))
    ds = build_dataset(_cfg(tmp_path, "voc-2007-classification", DATASET__NUM_SHOTS=-1,
                            DATASET__NUM_SAMPLES_PER_CLASS=-1))
    assert ds.multilabel and ds.tasks[0].metric == "11point_mAP" and len(ds.test) == 41
    assert ds.test[-1].label == -1 and ds.test[-1].labels == ()
    assert ds.test[0].labels == (0, 5)
    dm = DataManager(_cfg(tmp_path, "voc-2007-classification", DATASET__NUM_SHOTS=2, DATASET__FEWSHOT_SEED=0,
                          DATALOADER__TEST__BATCH_SIZE=8))
    b = next(iter(dm.test_loader))
    assert b["multilabel"].shape == (8, 20) and b["multilabel"][0, 5] == 1
    # COCO format (kitti-distance): images ordered by id, labels by category position
    k = tmp_path / "classification" / "kitti_distance_20210923"
    _zip_with(str(k / "train_images.zip"), [("a.png", (0, 0, 0)), ("b.png", (9, 9, 9))])
    _zip_with(str(k / "test_images.zip"), [("c.png", (0, 0, 0))])
    coco = {"images": [{"id": 2, "file_name": "b.png", "zip_file": "train_images.zip"},
                       {"id": 1, "file_name": "a.png", "zip_file": "train_images.zip"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 13}, {"id": 2, "image_id": 2, "category_id": 10}],
            "categories": [{"id": c, "name": f"c{c}"} for c in (10, 11, 12, 13)]}
    (k / "train_meta.json").write_text(json.dumps(coco))
    (k / "test_meta.json").write_text(json.dumps({"images": [{"id": 5, "file_name": "c.png",
                                                              "zip_file": "test_images.zip"}],
                                                  "annotations": [{"id": 1, "image_id": 5, "category_id": 11}],
                                                  "categories": coco["categories"]}))
    (k / "validation_meta.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    kd = build_dataset(_cfg(tmp_path, "kitti-distance", DATASET__NUM_SHOTS=-1, DATASET__NUM_SAMPLES_PER_CLASS=-1,
                            DATASET__ELEVATER_FULL_VAL="hub"))  # whole hub train split, in image-id order
    assert [(x.impath.split("@")[-1], x.label) for x in kd.train_x] == [("a.png", 3), ("b.png", 0)]
    assert kd.test[0].label == 1 and kd.classnames == ELEVATER_CLASSNAMES["kitti-distance"]

def test_multitask_merge_coop_and_elevater_with_official_keys(tmp_path):
    make_pets(tmp_path)
    make_cifar10(tmp_path)
    cfg = _cfg(tmp_path, "", DATASET__DATASET="OxfordPets,cifar-10", DATASET__MULTITASK=True,
               DATASET__NUM_SHOTS=2)
    ds = build_dataset(cfg)
    assert [(t.name, t.offset, t.num_classes, t.metric) for t in ds.tasks] == [
        ("OxfordPets", 0, 4, "accuracy"), ("cifar-10", 4, 10, "accuracy")]
    assert ds.classnames[:4] == PETS and ds.classnames[4] == "airplane"
    assert {d.task for d in ds.train_x} == {0, 1} and all(d.label >= 4 for d in ds.train_x if d.task == 1)
    cfg.DATASET.MULTITASK_SORT_TASKS = True
    assert [t.name for t in build_dataset(cfg).tasks] == ["OxfordPets", "cifar-10"]  # sorted() keeps this order
    cfg2 = _cfg(tmp_path, "cifar-10,OxfordPets", DATASET__NUM_SHOTS=2)
    assert [t.offset for t in build_dataset(cfg2).tasks] == [0, 10]

# --------------------------------------------------------------------------- custom
def test_folder_dataset_ratio_and_subfolders(tmp_path):
    r = tmp_path / "folder"
    for c in ("cat", "dog", "owl"):
        for i in range(10):
            png(str(r / c / f"{i}.png"))
    (tmp_path / "names.txt").write_text("a cat\na dog\nan owl\n")
    cfg = _cfg(tmp_path, "Folder", DATASET__CUSTOM__ROOT=str(r), DATASET__CUSTOM__CLASSNAMES=str(tmp_path / "names.txt"),
               DATASET__CUSTOM__SPLIT_RATIO=(0.6, 0.2, 0.2), DATASET__CUSTOM__SPLIT_SEED=3)
    ds = build_dataset(cfg)
    assert ds.classnames == ["a cat", "a dog", "an owl"]
    assert (len(ds.train_x), len(ds.val), len(ds.test)) == (18, 6, 6)
    again = build_dataset(cfg)
    assert [d.impath for d in again.test] == [d.impath for d in ds.test]
    assert not set(d.impath for d in ds.train_x) & set(d.impath for d in ds.test)
    s = tmp_path / "splitted"
    for split, n in (("train", 4), ("test", 2)):
        for c in ("b", "a"):
            for i in range(n):
                png(str(s / split / c / f"{i}.jpg"))
    ds2 = build_dataset(_cfg(tmp_path, "Folder", DATASET__CUSTOM__ROOT=str(s), DATASET__NUM_SHOTS=1))
    assert ds2.classnames == ["a", "b"] and len(ds2.train_x) == 2 and len(ds2.test) == 4 and ds2.val is None

def test_csv_dataset(tmp_path):
    for i in range(12):
        png(str(tmp_path / "imgs" / f"{i}.png"))
    rows = ["path,label"] + [f"imgs/{i}.png,{['zebra', 'ant', 'bee'][i % 3]}" for i in range(12)]
    (tmp_path / "all.csv").write_text("\n".join(rows) + "\n")
    ds = build_dataset(_cfg(tmp_path, "CSV", DATASET__CUSTOM__CSV=str(tmp_path / "all.csv"),
                            DATASET__CUSTOM__SPLIT_RATIO=(0.5, 0.25, 0.25)))
    assert ds.classnames == ["ant", "bee", "zebra"]
    assert len(ds.train_x) + len(ds.val) + len(ds.test) == 12 and len(ds.test) == 3
    assert all(os.path.isfile(d.impath) for d in ds.train_x)
    (tmp_path / "tr.csv").write_text("imgs/0.png,1\nimgs/1.png,0\n")
    (tmp_path / "te.csv").write_text("imgs/2.png,1\n")
    ds2 = build_dataset(_cfg(tmp_path, "CSV", DATASET__CUSTOM__CSV_TRAIN=str(tmp_path / "tr.csv"),
                             DATASET__CUSTOM__CSV_TEST=str(tmp_path / "te.csv")))
    assert ds2.classnames == ["0", "1"] and len(ds2.test) == 1 and ds2.val is None

def test_corrupt_and_missing_image_errors_name_the_file(tmp_path):
    from mvlpt.data import ImageReadError
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_image(str(bad))
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_image(str(tmp_path / "nope.jpg"))

# --------------------------------------------------------------------------- tables
COOP_15 = ["ImageNet", "Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101", "FGVCAircraft", "SUN397",
           "DescribableTextures", "EuroSAT", "UCF101", "ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR"]
PUBLISHED = {"ImageNet": 1000, "Caltech101": 100, "OxfordPets": 37, "StanfordCars": 196, "OxfordFlowers": 102,
             "Food101": 101, "FGVCAircraft": 100, "SUN397": 397, "DescribableTextures": 47, "EuroSAT": 10,
             "UCF101": 101, "ImageNetV2": 1000, "ImageNetSketch": 1000, "ImageNetA": 200, "ImageNetR": 200,
             "hateful-memes": 2, "cifar-10": 10, "mnist": 10, "oxford-flower-102": 102, "oxford-iiit-pets": 37,
             "resisc45_clip": 45, "country211": 211, "food-101": 101, "stanford-cars": 196, "caltech-101": 102,
             "dtd": 47, "voc-2007-classification": 20, "cifar-100": 100, "fgvc-aircraft-2013b-variants102": 100,
             "patch-camelyon": 2, "rendered-sst2": 2, "gtsrb": 43, "eurosat_clip": 10, "fer-2013": 7,
             "kitti-distance": 4}

@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_class_tables_match_published_counts(name):
    table = COOP_CLASSNAMES.get(name) or ELEVATER_CLASSNAMES[name]
    assert len(table) == PUBLISHED[name] == PUBLISHED_NUM_CLASSES[name]
    assert name in DATASET_REGISTRY
    if name != "ImageNetR":
        assert len(set(table)) >= PUBLISHED[name] - 2  # ImageNet has two CLIP duplicates (missile, sunglasses)

def test_class_table_conventions():
    assert len(ELEVATER_TASK_NAMES) == 20 and len(ELEVATER_NON_COOP_TASKS) == 12
    assert set(ELEVATER_NON_COOP_TASKS) <= set(ELEVATER_TASK_NAMES)
    assert sum(len(ELEVATER_CLASSNAMES[t]) for t in ELEVATER_TASK_NAMES) == 1151
    assert COOP_CLASSNAMES["Food101"][0] == "apple_pie" and COOP_CLASSNAMES["UCF101"][0] == "Apply_Eye_Makeup"
    assert COOP_CLASSNAMES["StanfordCars"][0] == "2000 AM General Hummer SUV"
    assert COOP_CLASSNAMES["OxfordPets"][:2] == ["abyssinian", "american_bulldog"]
    assert COOP_CLASSNAMES["Caltech101"][:3] == ["face", "leopard", "motorbike"]
    assert COOP_CLASSNAMES["SUN397"][8] == "outdoor apartment_building"
    assert COOP_CLASSNAMES["EuroSAT"][-1] == "Sea or Lake" and ELEVATER_CLASSNAMES["fer-2013"][3] == "happy"
    assert ELEVATER_CLASSNAMES["cifar-100"][:2] == ["chimpanzee", "trout"]
    assert IMAGENET_R_WNIDS == sorted(IMAGENET_R_WNIDS) and len(set(IMAGENET_R_WNIDS)) == 200
    for n in COOP_15:
        assert n in DATASET_REGISTRY
    assert "DTD" in DATASET_REGISTRY

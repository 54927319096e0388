"""The official scripts run here unchanged but for their data line: CoOp's ``scripts/coop/main.sh``,
CoCoOp's ``base2new_train.sh`` / ``base2new_test.sh``, MaPLe's ``base2new_train_maple.sh`` /
``base2new_test_maple.sh`` and MVLPT's ``main_mt_coopdata_cut.sh`` (renditions in
``tests/official_scripts/``, each naming its original).

Each test runs a script with ``bash`` exactly as its repository's README says (from the repository root,
or from ``scripts/cocoop/`` for the CoCoOp scripts, which ``cd ../..``), in a scratch copy of the
repository's layout (``train.py`` and ``configs/`` linked, the script copied to ``scripts/<dir>/``) so
that the scripts' relative ``output/...`` folders land in a temporary directory. ``DATA`` points at a tiny
CoOp-format tree of the 11 CoOp datasets built here (4 classes each); ``MVLPT_OPTS`` (appended to the
command line's options by ``train.py``) swaps in the tiny CLIP with random weights at 32 px and, where
the script allows it, one epoch. The base-to-new pairs keep their yaml's epoch count (10 for CoCoOp, 5 for
MaPLe) because the test script loads that epoch (``LOADEP``); the tiny data keeps them short.

``MVLPT_OFFICIAL_FULLSIZE=1`` runs the same scripts at full size instead (ViT-B/16 at 224 px, random
weights, the yamls' epochs) - minutes to hours on a CPU; skipped by default.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from test_engine_support import png

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICIAL = os.path.join(REPO, "tests", "official_scripts")
FULLSIZE = os.environ.get("MVLPT_OFFICIAL_FULLSIZE", "") == "1"
TINY = ("MODEL.BACKBONE.NAME mvlpt-tiny MODEL.BACKBONE.PRETRAINED none INPUT.SIZE (32,32) "
        "DATALOADER.NUM_WORKERS 0 DATALOADER.TEST.BATCH_SIZE 64 TEST.PER_CLASS_RESULT False")
FULL = "MODEL.BACKBONE.PRETRAINED none DATALOADER.NUM_WORKERS 2"
ONE_EPOCH = "" if FULLSIZE else " OPTIM.MAX_EPOCH 1"

CLASSES = 4  # base = the first 2, new = the last 2
COOP_JSON = ["Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101", "SUN397", "DescribableTextures",
             "EuroSAT", "UCF101"]


def _colour(task_i, lab, i):
    return (40 + 50 * lab, (37 * task_i + 9 * i) % 256, 200 - 40 * lab)


def make_coop_tree(root, n_train=2, n_val=1, n_test=2):
    """The 11 CoOp datasets in their published layouts, ``CLASSES`` classes each: the nine with a
    ``split_zhou_<Name>.json`` (paths relative to each reader's image folder), FGVCAircraft's official txt
    splits and ImageNet's ``images/{train,val}/<wnid>`` folders with ``classnames.txt``."""
    from mvlpt.engine.registry import DATASET_REGISTRY

    for t, name in enumerate(COOP_JSON):
        cls = DATASET_REGISTRY.get(name)
        ddir = os.path.join(root, cls.dataset_dir_name)
        idir = os.path.join(ddir, cls.image_dir_name) if cls.image_dir_name else ddir
        split = {"train": [], "val": [], "test": []}
        for lab in range(CLASSES):
            cname = f"{name.lower()}_class_{lab}"
            for s, n in (("train", n_train), ("val", n_val), ("test", n_test)):
                for i in range(n):
                    rel = f"{cname}/{s}{i}.jpg"
                    png(os.path.join(idir, rel), _colour(t, lab, i))
                    split[s].append([rel, lab, cname])
        with open(os.path.join(ddir, cls.split_file), "w") as f:
            json.dump(split, f, indent=4)
    d = os.path.join(root, "fgvc_aircraft")
    variants = [f"7{lab}7-300" for lab in range(CLASSES)]
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "variants.txt"), "w") as f:
        f.write("\n".join(variants) + "\n")
    for s, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        lines = []
        for lab, v in enumerate(variants):
            for i in range(n):
                img = f"{lab}{s[:2]}{i:04d}"
                png(os.path.join(d, "images", img + ".jpg"), _colour(20, lab, i))
                lines.append(f"{img} {v}")
        with open(os.path.join(d, f"images_variant_{s}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    inet = os.path.join(root, "imagenet")
    wnids = [f"n0144{lab:04d}" for lab in range(CLASSES)]
    for s, n in (("train", n_train + n_val), ("val", n_test)):
        for lab, w in enumerate(wnids):
            for i in range(n):
                png(os.path.join(inet, "images", s, w, f"{w}_{i}.JPEG"), _colour(30, lab, i))
    with open(os.path.join(inet, "classnames.txt"), "w") as f:
        f.write("".join(f"{w} imagenet class {lab}\n" for lab, w in enumerate(wnids)))
    return root


@pytest.fixture(scope="module")
def coop_data(tmp_path_factory):
    return make_coop_tree(str(tmp_path_factory.mktemp("coop_data")))


def workdir(tmp_path, *scripts):
    """A scratch copy of the repository's layout: ``train.py`` and ``configs/`` linked, the official
    scripts copied to ``scripts/<dir>/<name>`` (as a user copies them into the repository)."""
    w = tmp_path / "repo"
    w.mkdir()
    os.symlink(os.path.join(REPO, "train.py"), w / "train.py")
    os.symlink(os.path.join(REPO, "configs"), w / "configs")
    for s in scripts:
        dst = w / "scripts" / s
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(OFFICIAL, s), dst)
    return w


def bash(script_args, cwd, data, tmp_path, opts):
    env = dict(os.environ, DATA=data, HOME=str(tmp_path / "home"), MVLPT_OPTS=(FULL if FULLSIZE else TINY) + opts,
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               MVLPT_CACHE=str(tmp_path / "cache"))
    r = subprocess.run(["bash", *script_args], cwd=str(cwd), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "mvlpt: error" not in r.stderr and "internal error" not in r.stderr, r.stderr[-3000:]
    return r.stdout


def assert_trained(run_dir, epoch, test_line=True):
    """Dassl's layout: ``<run>/<model>/model.pth.tar-N`` + ``checkpoint``, ``log.txt``, the eval result."""
    ckpts = [os.path.join(dp, f) for dp, _, fs in os.walk(run_dir) for f in fs if f == f"model.pth.tar-{epoch}"]
    assert ckpts, f"no model.pth.tar-{epoch} under {run_dir}: {sorted(os.listdir(run_dir))}"
    assert os.path.isfile(os.path.join(os.path.dirname(ckpts[0]), "checkpoint"))
    log = open(os.path.join(run_dir, "log.txt"), encoding="utf-8").read()
    assert os.path.isfile(os.path.join(run_dir, "results.json"))
    if test_line:
        assert re.search(r"\* accuracy: \d+\.\d+%", log), log[-2000:]
    return log


def test_coop_main_sh(coop_data, tmp_path):
    """``bash scripts/coop/main.sh dtd vit_b16_ep50 end 16 1 False``: seeds 1 2 3 (the script's loop),
    one epoch each through ``MVLPT_OPTS``; rerunning skips the finished runs (the script's own check)."""
    w = workdir(tmp_path, "coop/main.sh")
    args = ["scripts/coop/main.sh", "dtd", "vit_b16_ep50", "end", "16", "1", "False"]
    bash(args, w, coop_data, tmp_path, ONE_EPOCH)
    epoch = 50 if FULLSIZE else 1
    for seed in (1, 2, 3):
        run = w / "output" / "dtd" / "CoOp" / "vit_b16_ep50_1shots" / "nctx16_cscFalse_ctpend" / f"seed{seed}"
        log = assert_trained(str(run), epoch)
        assert f"Setting fixed seed: {seed}" in log
        # the script's TRAINER.COOP.N_CTX / CSC / CLASS_TOKEN_POSITION reached the learner; dtd = the CoOp reader
        assert "Building CoOp learner (n_ctx=16, ctx_init='', csc=False, position='end'" in log
        info = json.load(open(run / "run.json"))
        assert info["seed"] == seed and info["shots"] == 1 and info["tasks"] == ["DescribableTextures"]
    out = bash(args, w, coop_data, tmp_path, ONE_EPOCH)
    assert out.count("Oops! The results exist at") == 3


def _base2new(tmp_path, coop_data, trainer_dir, train, test, dataset, cfg, epoch, trainer, from_dir, opts=""):
    w = workdir(tmp_path, f"{trainer_dir}/{train}", f"{trainer_dir}/{test}")
    cwd = w / "scripts" / trainer_dir if from_dir else w
    pre = [] if from_dir else [f"scripts/{trainer_dir}/"]
    run_train = [(pre[0] if pre else "") + train, dataset, "1"]
    run_test = [(pre[0] if pre else "") + test, dataset, "1"]
    bash(run_train, cwd, coop_data, tmp_path, opts)
    common = os.path.join(dataset, "shots_16", trainer, cfg, "seed1")
    tr = w / "output" / "base2new" / "train_base" / common
    assert_trained(str(tr), epoch)
    assert json.load(open(tr / "run.json"))["subsample_classes"] == "base"
    out = bash(run_test, cwd, coop_data, tmp_path, opts)
    te = w / "output" / "base2new" / "test_new" / common
    log = open(te / "log.txt", encoding="utf-8").read()
    # it loaded the base-trained model of epoch LOADEP (the train run's checkpoint), then evaluated the new classes
    assert re.search(r"^Load output/base2new/train_base/" + re.escape(common) + r"/\w+/model\.pth\.tar-" + str(epoch)
                     + r" to \w+ \(epoch=" + str(epoch) + r",", log, re.M), log[-3000:]
    assert re.search(r"\* accuracy: \d+\.\d+%", log)
    res = json.load(open(te / "results.json"))
    info = json.load(open(te / "run.json"))
    assert info["subsample_classes"] == "new" and info["eval_only"] is True
    assert not [f for dp, _, fs in os.walk(te) for f in fs if f.startswith("model.pth.tar")]  # eval only
    return out, res, log


@pytest.mark.parametrize("which", ["cocoop", "maple"])
def test_base2new_train_then_test(which, coop_data, tmp_path):
    """CoCoOp (``cd scripts/cocoop && bash base2new_train.sh eurosat 1 && bash base2new_test.sh eurosat 1``)
    and MaPLe (``bash scripts/maple/base2new_{train,test}_maple.sh dtd 1``): train on the base classes with
    the yaml's epochs, then ``--eval-only --model-dir <train_base run> --load-epoch LOADEP`` on the new ones."""
    if which == "cocoop":
        _base2new(tmp_path, coop_data, "cocoop", "base2new_train.sh", "base2new_test.sh", "eurosat",
                  "vit_b16_c4_ep10_batch1_ctxv1", 10, "CoCoOp", from_dir=True)
    else:
        _base2new(tmp_path, coop_data, "maple", "base2new_train_maple.sh", "base2new_test_maple.sh", "dtd",
                  "vit_b16_c2_ep5_batch4_2ctx", 5, "MaPLe", from_dir=False,
                  opts="" if FULLSIZE else " TRAINER.MAPLE.PROMPT_DEPTH 3")  # the tiny CLIP has 3 layers, not 12


@pytest.mark.parametrize("method", ["CoOp", "UPT", "VPT"])
def test_mvlpt_main_mt_coopdata_cut(method, coop_data, tmp_path):
    """``bash scripts/mvlpt/main_mt_coopdata_cut.sh CoOp|UPT|VPT vit_b16 4 1 1`` (each of the script's three
    branches): one multitask source run on the 11 CoOp datasets (merged label space), model selected on the
    validation set, under ``~/opensource/ckpt/`` as in the original (HOME is the temporary directory)."""
    w = workdir(tmp_path, "mvlpt/main_mt_coopdata_cut.sh")
    bash(["scripts/mvlpt/main_mt_coopdata_cut.sh", method, "vit_b16", "4", "1", "1"], w, coop_data, tmp_path,
         ONE_EPOCH)
    tasks = "ImageNet,Caltech101,Food101,StanfordCars,OxfordPets,OxfordFlowers,FGVCAircraft,SUN397," \
            "DescribableTextures,EuroSAT,UCF101"
    run = tmp_path / "home" / "opensource" / "ckpt" / tasks / method / "vit_b16_1shots" / "nctx4_csc_ctp" / "seed1"
    log = assert_trained(str(run), 200 if FULLSIZE else 1, test_line=False)
    info = json.load(open(run / "run.json"))
    assert (info["method"], info["trainer"], info["protocol"]) == (method, "MVLPT", "multitask")
    assert info["tasks"] == tasks.split(",") and info["model_selection"] == "best_val" and info["shots"] == 1
    assert "Deploy the model with the best val performance" in log
    assert re.search(r"^Load \S+/seed1/prompt_learner/model-best\.pth\.tar to prompt_learner \(epoch=1,", log, re.M)
    assert re.search(r"\* accuracy: \d+\.\d+%", log)
    res = json.load(open(run / "results.json"))
    assert {f"task/{t}" for t in tasks.split(",")} <= set(res)  # per-task test metrics
    assert FULLSIZE or res["epoch"] == 1

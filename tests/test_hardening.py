"""Issue 10 items 2-3: the run seed reaches every sampler, reader fixes, and one clear line (exit 2,
nothing written) for every bad input. All fixtures are built here in tmp_path."""
import logging
import os
import zipfile

import pytest
import torch
from PIL import Image

from mvlpt.data import DataManager, build_dataset, get_data_cfg
from mvlpt.data.classnames import ELEVATER_CLASSNAMES
from mvlpt.engine.errors import CheckpointError, MvlptError

from test_engine_support import make_image_folder, png

@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MVLPT_CACHE", str(tmp_path / "cache"))

def _cfg(root, name, seed=1, **kw):
    cfg = get_data_cfg(**{"DATASET__ROOT": str(root), "DATASET__NAME": name, "DATALOADER__NUM_WORKERS": 0, **kw})
    cfg.SEED = seed
    return cfg

def _zip(zpath, members):
    import io
    os.makedirs(os.path.dirname(zpath), exist_ok=True)
    with zipfile.ZipFile(zpath, "w") as z:
        for name, color in members:
            buf = io.BytesIO()
            Image.new("RGB", (8, 8), color).save(buf, format="PNG")
            z.writestr(name, buf.getvalue())

def make_elevater(root, task="cifar-10", folder="classification/cifar_10_20211007", n_cls=4, per_class=10,
                  val_per_class=0, index=("train.txt", "test.txt", "val.txt"),
                  zips=("train.zip", "val.zip", "val2.zip")):
    """An iris-format ELEVATER task with ``n_cls`` of its classes populated."""
    d = os.path.join(root, folder)
    rows = {"train": [], "test": [], "val": []}
    for c in range(n_cls):
        for i in range(per_class):
            rows["train"].append((f"train/{c}/{i}.png", (c * 30, i, 0), c))
        rows["test"].append((f"test/{c}/0.png", (c * 30, 0, 9), c))
        for i in range(val_per_class):
            rows["val"].append((f"val/{c}/{i}.png", (c * 30, i, 5), c))
    for (usage, items), idx, zname in zip(rows.items(), index, zips):
        if not items:
            continue
        _zip(os.path.join(d, zname), [(n, col) for n, col, _ in items])
        with open(os.path.join(d, idx), "w") as f:
            f.writelines(f"{zname}@{n} {c}\n" for n, _, c in items)
    with open(os.path.join(d, "labels.txt"), "w") as f:
        f.write("\n".join(ELEVATER_CLASSNAMES[task]))
    return d

def _paths(items):
    return [d.impath for d in items]

# ------------------------------------------------------------------------------------------ seeds
def test_elevater_kshot_follows_the_run_seed(tmp_path):
    make_elevater(tmp_path)
    by_seed = {s: _paths(build_dataset(_cfg(tmp_path, "cifar-10", seed=s, DATASET__NUM_SHOTS=2)).train_x)
               for s in (1, 2, 3)}
    assert len(set(map(tuple, by_seed.values()))) == 3  # seeds 1/2/3 train on three different K-shot sets
    pinned = _cfg(tmp_path, "cifar-10", seed=9, DATASET__NUM_SHOTS=2, DATASET__FEWSHOT_SEED=2)
    assert _paths(build_dataset(pinned).train_x) == by_seed[2]  # FEWSHOT_SEED set explicitly wins
    official = _cfg(tmp_path, "cifar-10", seed=9, DATASET__NUM_SHOTS=2, DATASET__RANDOM_SEED_SAMPLING=3)
    assert _paths(build_dataset(official).train_x) == by_seed[3]  # so does the official key when set

def test_every_entry_point_passes_its_seed(tmp_path):
    from mvlpt.cli import build_parser, setup_cfg
    from mvlpt.multitask.runner import RunSpec

    make_elevater(tmp_path)
    ref = _paths(build_dataset(_cfg(tmp_path, "cifar-10", seed=0, DATASET__NUM_SHOTS=2,
                                    DATASET__FEWSHOT_SEED=3)).train_x)
    cli = ["--root", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--trainer", "CoOp", "--seed", "3",
           "--dataset", "cifar-10", "--shots", "2"]
    spec = RunSpec(str(tmp_path / "r"), ["cifar-10"], "CoOp", seed=3, root=str(tmp_path), shots=2)
    for argv in (cli, spec.argv()):
        cfg, _ = setup_cfg(build_parser().parse_args(argv))
        assert cfg.SEED == 3
        assert _paths(build_dataset(cfg).train_x) == ref

def test_seed_minus_one_uses_the_drawn_seed_everywhere(tmp_path):
    make_image_folder(str(tmp_path / "imgs"), classes=("a", "b", "c"), per_class=5, size=8)
    kw = dict(DATASET__CUSTOM__ROOT=str(tmp_path / "imgs"), DATASET__NUM_SHOTS=2,
              DATALOADER__TRAIN_X__SAMPLER="TaskBalancedSampler")
    torch.manual_seed(4321)  # what the trainer does with the seed it draws for SEED -1
    dm = DataManager(_cfg(tmp_path, "Folder", seed=-1, **kw))
    assert dm.seed == 4321 and dm.train_loader_x.sampler.seed == 4321
    same = build_dataset(_cfg(tmp_path, "Folder", seed=4321, **kw))
    assert _paths(dm.dataset.train_x) == _paths(same.train_x)
    assert DataManager(_cfg(tmp_path, "Folder", seed=-1, **kw), seed=7).train_loader_x.sampler.seed == 7

def _run_args(root, out, seed="0", extra=()):
    """A tiny CLI run: the 3-layer test CLIP on 32px images, Folder dataset at ``root``."""
    return ["--root", root, "--output-dir", out, "--trainer", "CoOp", "--backbone", "mvlpt-tiny", "--seed", seed,
            "MODEL.BACKBONE.PRETRAINED", "none", "DATASET.NAME", "Folder", "DATALOADER.NUM_WORKERS", "0",
            "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "DATALOADER.TEST.BATCH_SIZE", "8", "OPTIM.MAX_EPOCH", "1",
            "INPUT.SIZE", "(32, 32)", "TRAINER.COOP.N_CTX", "2", "TRAINER.COOP.PREC", "fp32", *extra]

@pytest.fixture
def imgs(tmp_path):
    return make_image_folder(str(tmp_path / "imgs"), per_class=3, size=8)

def test_cli_seed_minus_one_logs_the_seed_the_data_uses(imgs, tmp_path, capsys):
    from mvlpt.cli import main

    assert main(["--no-train"] + _run_args(imgs, str(tmp_path / "o"), seed="-1")) == 0
    out = capsys.readouterr().out
    drawn = [ln.split()[-1] for ln in out.splitlines() if "data pipeline uses the drawn seed" in ln]
    logged = [ln.split()[2] for ln in out.splitlines() if ln.startswith("Drawn seed:")]
    assert drawn and logged and drawn == logged

def test_resumed_seed_minus_one_run_keeps_its_drawn_seed(imgs, tmp_path, capsys):
    from mvlpt.cli import main

    out = str(tmp_path / "r")
    assert main(_run_args(imgs, out, seed="-1", extra=["DATASET.NUM_SHOTS", "2"])) == 0
    first = capsys.readouterr().out
    drawn = [ln.split()[2] for ln in first.splitlines() if ln.startswith("Drawn seed:")][0]
    assert main(_run_args(imgs, out, seed="-1", extra=["DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "2"])) == 0
    second = capsys.readouterr().out
    assert f"resuming a run that drew seed {drawn}" in second and f"Setting fixed seed: {drawn}" in second
    assert "Resumed prompt_learner" in second

# ------------------------------------------------------------------------------------------ readers
def test_test_only_variants_ignore_subsample_classes(tmp_path, caplog):
    wnids = ["n01440764", "n01443537", "n01484850", "n01491361"]
    a = tmp_path / "imagenet-adversarial"
    for w in wnids:
        png(str(a / "imagenet-a" / w / "x.jpg"))
    with open(a / "classnames.txt", "w") as f:
        f.writelines(f"{w} name{i}\n" for i, w in enumerate(wnids))
    with caplog.at_level(logging.WARNING):
        ds = build_dataset(_cfg(tmp_path, "ImageNetA", DATASET__SUBSAMPLE_CLASSES="base"))
    assert ds.num_classes == 4 and len(ds.test) == 4 and {d.label for d in ds.test} == {0, 1, 2, 3}
    assert any("test-only" in r.getMessage() and "SUBSAMPLE_CLASSES base is ignored" in r.getMessage()
               for r in caplog.records)

def test_elevater_all_shots_split_follows_mvlpt_by_default(tmp_path):
    make_elevater(tmp_path, task="dtd", folder="classification/dtd_20211007", val_per_class=2,
                  index=("train.txt", "test.txt", "val.txt"), zips=("train.zip", "test.zip", "val.zip"))
    kw = dict(DATASET__NUM_SHOTS=-1, DATASET__NUM_SAMPLES_PER_CLASS=-1)
    ds = build_dataset(_cfg(tmp_path, "dtd", **kw))
    assert len(ds.train_x) == 32 and len(ds.val) == 8  # ceil(0.2 * 10) = 2 per class, out of train
    assert all("train.zip@" in d.impath for d in ds.val)
    assert {c: sum(d.label == c for d in ds.val) for c in range(4)} == {0: 2, 1: 2, 2: 2, 3: 2}
    assert not set(_paths(ds.val)) & set(_paths(ds.train_x))
    other = build_dataset(_cfg(tmp_path, "dtd", seed=2, **kw))
    assert set(_paths(other.val)) != set(_paths(ds.val))  # the split follows the seed
    hub = build_dataset(_cfg(tmp_path, "dtd", DATASET__ELEVATER_FULL_VAL="hub", **kw))
    assert len(hub.train_x) == 40 and len(hub.val) == 8 and all("val.zip@" in d.impath for d in hub.val)

# ------------------------------------------------------------------------------------------ bad input
def _one_line(capsys, rc, *needles):
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]

BAD_OPTIONS = [
    (["OPTIM.MAX_EPOCH", "0"], "OPTIM.MAX_EPOCH must be >= 1"),
    (["OPTIM.MAX_EPOCH", "-3"], "OPTIM.MAX_EPOCH must be >= 1"),
    (["OPTIM.LR", "0"], "OPTIM.LR must be > 0"),
    (["OPTIM.LR", "-0.1"], "OPTIM.LR must be > 0"),
    (["OPTIM.WEIGHT_DECAY", "-1e-4"], "OPTIM.WEIGHT_DECAY must be >= 0"),
    (["DATALOADER.TRAIN_X.BATCH_SIZE", "0"], "DATALOADER.TRAIN_X.BATCH_SIZE must be >= 1"),
    (["DATALOADER.TRAIN_X.BATCH_SIZE", "-4"], "DATALOADER.TRAIN_X.BATCH_SIZE must be >= 1"),
    (["DATALOADER.TEST.BATCH_SIZE", "0"], "DATALOADER.TEST.BATCH_SIZE must be >= 1"),
    (["DATALOADER.NUM_WORKERS", "-1"], "DATALOADER.NUM_WORKERS must be >= 0"),
    (["DATALOADER.TRAIN_X.DROP_LAST", "maybe"], "DROP_LAST must be auto, True or False"),
    (["DATALOADER.TRAIN_X.SAMPLER", "Shuffled"], "unknown DATALOADER.TRAIN_X.SAMPLER"),
    (["DATASET.NUM_SHOTS", "0"], "DATASET.NUM_SHOTS 0 is not a shot count"),
    (["DATASET.NUM_SHOTS", "-4"], "DATASET.NUM_SHOTS must be -1"),
    (["DATASET.SUBSAMPLE_CLASSES", "half"], "DATASET.SUBSAMPLE_CLASSES must be all, base or new"),
    (["TEST.SPLIT", "tset"], "TEST.SPLIT must be val or test"),
    (["TEST.FINAL_MODEL", "best"], "TEST.FINAL_MODEL must be last_step or best_val"),
    (["INPUT.TRANSFORMS", "['random_flop']"], "unknown INPUT.TRANSFORMS"),
    (["INPUT.PROTOCOL", "clip"], "INPUT.PROTOCOL must be auto, coop or elevater"),
    (["INPUT.SIZE", "(0, 0)"], "INPUT.SIZE must be positive"),
    (["DATASET.CUSTOM.SPLIT_RATIO", "(0.0, 0.5, 0.5)"], "DATASET.CUSTOM.SPLIT_RATIO must be 3 non-negative"),
]

@pytest.mark.parametrize("opts,needle", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_option_is_one_line_exit_2_nothing_written(opts, needle, imgs, tmp_path, capsys):
    from mvlpt.cli import main

    out = str(tmp_path / "o")
    _one_line(capsys, main(_run_args(imgs, out, extra=opts)), needle)
    assert not os.path.exists(out)

@pytest.mark.parametrize("flags,needle", [(["--shots", "0"], "--shots must be K >= 1"),
                                          (["--seed", "-5"], "--seed must be >= 0"),
                                          (["--eval-only", "--load-epoch", "0"], "--load-epoch must be >= 1")])
def test_bad_flag_is_one_line(flags, needle, imgs, tmp_path, capsys):
    from mvlpt.cli import main

    args = _run_args(imgs, str(tmp_path / "o"))
    if "--seed" in flags:
        args[args.index("--seed") + 1] = flags[1]
        flags = []
    _one_line(capsys, main(flags + args), needle)
    assert not os.path.exists(tmp_path / "o")

def test_unwritable_or_file_output_dir(imgs, tmp_path, capsys):
    from mvlpt.cli import main

    _one_line(capsys, main(_run_args(imgs, "/proc/mvlpt-out/run")), "cannot write --output-dir", "/proc")
    f = tmp_path / "afile"
    f.write_text("x")
    _one_line(capsys, main(_run_args(imgs, str(f))), "is a file")
    _one_line(capsys, main(_run_args(imgs, str(f / "sub"))), "cannot create --output-dir")

def test_zero_epoch_eval_only_is_allowed(imgs, tmp_path):
    from mvlpt.cli import main

    assert main(["--eval-only"] + _run_args(imgs, str(tmp_path / "e"), extra=["OPTIM.MAX_EPOCH", "0"])) == 0

def test_zero_steps_per_epoch_stops_before_writing(imgs, tmp_path, capsys):
    from mvlpt.cli import main

    out = str(tmp_path / "z")
    rc = main(_run_args(imgs, out, extra=["DATALOADER.TRAIN_X.BATCH_SIZE", "16",
                                          "DATALOADER.TRAIN_X.DROP_LAST", "True"]))
    _one_line(capsys, rc, "0 steps per epoch", "6 training images", "batch size 16", "DROP_LAST False")
    assert not os.path.exists(out)
    # auto: a partial batch is kept when the only batch is partial (1 step)
    dm = DataManager(_cfg(imgs, "Folder", DATASET__CUSTOM__ROOT=imgs, DATALOADER__TRAIN_X__BATCH_SIZE=16))
    assert dm.train_steps_per_epoch == 1 and not dm.train_drop_last and len(dm.train_loader_x) == 1

def test_val_split_required_when_asked_for(tmp_path, capsys):
    from mvlpt.cli import main

    root = make_image_folder(str(tmp_path / "imgs"), per_class=3, size=8)
    no_val = ["DATASET.CUSTOM.SPLIT_RATIO", "(0.7, 0.0, 0.3)"]
    rc = main(_run_args(root, str(tmp_path / "o"), extra=no_val + ["TEST.FINAL_MODEL", "best_val"]))
    _one_line(capsys, rc, "best_val needs a validation split", "last_step")
    rc = main(["--eval-only"] + _run_args(root, str(tmp_path / "o"), extra=no_val + ["TEST.SPLIT", "val"]))
    _one_line(capsys, rc, "TEST.SPLIT val, but Folder has no validation split")
    assert not os.path.exists(tmp_path / "o")

def test_missing_dataset_root_is_exit_2(tmp_path, capsys):
    from mvlpt.cli import main

    rc = main(_run_args(str(tmp_path / "nowhere"), str(tmp_path / "o")))
    _one_line(capsys, rc, "Folder dataset root not found", "nowhere")

def test_empty_class_folder(tmp_path, capsys):
    from mvlpt.cli import main

    root = make_image_folder(str(tmp_path / "imgs"), per_class=2, size=8)
    os.makedirs(os.path.join(root, "empty"))
    (tmp_path / "imgs" / "empty" / "notes.txt").write_text("no images here")
    _one_line(capsys, main(_run_args(root, str(tmp_path / "o"))), "class folder", "empty", "has no images")

def test_duplicate_class_names(tmp_path, capsys):
    from mvlpt.cli import main

    root = make_image_folder(str(tmp_path / "imgs"), classes=("Cat", "cat", "dog"), per_class=2, size=8)
    _one_line(capsys, main(_run_args(root, str(tmp_path / "o"))), "duplicate class names", "'Cat'", "'cat'")
    root2 = make_image_folder(str(tmp_path / "imgs2"), classes=("a", "b", "c"), per_class=2, size=8)
    names = tmp_path / "names.txt"
    names.write_text("apple pie\napple_pie\ndog\n")
    rc = main(_run_args(root2, str(tmp_path / "o"), extra=["DATASET.CUSTOM.CLASSNAMES", str(names)]))
    _one_line(capsys, rc, "duplicate class names", "names.txt", "'apple pie'", "'apple_pie'")

def test_duplicate_yaml_keys(imgs, tmp_path, capsys):
    from mvlpt.cli import main

    y = tmp_path / "method.yaml"
    y.write_text("OPTIM:\n  LR: 0.002\n  MAX_EPOCH: 2\n  LR: 0.02\n")
    rc = main(["--config-file", str(y)] + _run_args(imgs, str(tmp_path / "o")))
    _one_line(capsys, rc, "duplicate key LR", "method.yaml", "lines 2 and 4")
    d = tmp_path / "data.yaml"
    d.write_text("DATASET:\n  NAME: Folder\nDATASET:\n  NUM_SHOTS: 2\n")
    rc = main(["--dataset-config-file", str(d)] + _run_args(imgs, str(tmp_path / "o")))
    _one_line(capsys, rc, "duplicate key DATASET", "data.yaml", "lines 1 and 3")

def test_csv_label_outside_the_class_list(tmp_path):
    from mvlpt.data import DatasetError

    root = make_image_folder(str(tmp_path / "imgs"), classes=("a", "b"), per_class=2, size=8)
    csv = tmp_path / "imgs" / "all.csv"
    csv.write_text("path,label\na/0.png,0\na/1.png,0\nb/0.png,1\nb/1.png,5\n")
    names = tmp_path / "names.txt"
    names.write_text("alpha\nbeta\n")
    cfg = _cfg(root, "CSV", DATASET__CUSTOM__CSV=str(csv), DATASET__CUSTOM__CLASSNAMES=str(names))
    with pytest.raises(DatasetError, match=r"all.csv:5: label 5 is outside the class list \(0..1"):
        build_dataset(cfg)
    csv.write_text("a/0.png,alpha\nb/0.png,gamma\n")
    with pytest.raises(DatasetError, match=r"all.csv:2: label 'gamma' is not in the class list"):
        build_dataset(cfg)
    csv.write_text("a/0.png,0\nb/0.png,-1\n")
    with pytest.raises(DatasetError, match="label -1 is outside"):
        build_dataset(_cfg(root, "CSV", DATASET__CUSTOM__CSV=str(csv)))

def test_damaged_index_and_split_files(tmp_path):
    from mvlpt.data import DatasetError

    d = make_elevater(tmp_path)
    with open(os.path.join(d, "train.txt"), "a") as f:
        f.write("train.zip@train/0/0.png 12\n")  # cifar-10 has 10 classes
    with pytest.raises(DatasetError, match=r"train.txt: label 12 is outside the 10 classes of cifar-10"):
        build_dataset(_cfg(tmp_path, "cifar-10", DATASET__NUM_SHOTS=2))
    pets = tmp_path / "oxford_pets"
    (pets / "images").mkdir(parents=True)
    (pets / "split_zhou_OxfordPets.json").write_text('{"train": [["a.jpg", 0, "x"]], "val": [')
    with pytest.raises(DatasetError, match=r"cannot parse .*split_zhou_OxfordPets.json \(line 1"):
        build_dataset(_cfg(tmp_path, "OxfordPets"))

@pytest.mark.parametrize("workers", [0, 1])
def test_truncated_image_names_the_file(tmp_path, workers):
    import numpy as np
    from mvlpt.data import ImageReadError

    root = str(tmp_path / "imgs")
    for split in ("train", "test"):
        make_image_folder(os.path.join(root, split), classes=("a", "b"), per_class=2, size=8)
    p = os.path.join(root, "test", "a", "0.png")
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype("uint8")).save(p)
    data = open(p, "rb").read()
    with open(p, "wb") as f:
        f.write(data[: len(data) // 2])
    cfg = _cfg(root, "Folder", DATASET__CUSTOM__ROOT=root, DATALOADER__NUM_WORKERS=workers,
               DATALOADER__TEST__BATCH_SIZE=4)
    with pytest.raises(ImageReadError) as e:
        for _ in DataManager(cfg).test_loader:  # through a worker process too: still one line naming the file
            pass
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and p in msg and "truncated" in msg and "ALLOW_TRUNCATED_IMAGES" in msg
    assert isinstance(e.value, MvlptError)
    if workers == 0:
        cfg.DATASET.ALLOW_TRUNCATED_IMAGES = True
        with pytest.warns(UserWarning, match="truncated image"):
            assert sum(b["img"].shape[0] for b in DataManager(cfg).test_loader) == 4
        cfg.DATASET.ALLOW_TRUNCATED_IMAGES = False
        DataManager(cfg)  # the switch is reset by the next DataManager

def test_corrupt_checkpoint_tag_file(tmp_path, caplog):
    from mvlpt.engine.checkpoint import latest_file
    from mvlpt.utils import atomic_torch_save

    d = tmp_path / "prompt_learner"
    d.mkdir()
    for e in (1, 2):
        atomic_torch_save({"epoch": e}, str(d / f"model.pth.tar-{e}"))
    (d / "checkpoint").write_bytes(b"\xff\xfe\x00garbage")
    with caplog.at_level(logging.WARNING, logger="mvlpt"):
        assert latest_file(str(d)) == str(d / "model.pth.tar-2")
    assert "cannot be read" in caplog.text and "model.pth.tar-2" in caplog.text
    (d / "checkpoint").write_text("model.pth.tar-2\n")
    (d / "model.pth.tar-2").write_bytes(b"PK\x03\x04 cut short")  # a torn file
    assert latest_file(str(d)) == str(d / "model.pth.tar-1")
    (d / "checkpoint").write_text("model.pth.tar-9\n")
    assert latest_file(str(d)) == str(d / "model.pth.tar-1")
    os.unlink(d / "model.pth.tar-1")
    with pytest.raises(CheckpointError, match="delete .*checkpoint"):
        latest_file(str(d))
    (d / "checkpoint").write_text("model.pth.tar-2\n")
    with pytest.raises(CheckpointError, match="model.pth.tar-2, which is not a complete checkpoint"):
        latest_file(str(d))

"""The three most common first-run mistakes, run as a user runs them (``python train.py ...`` in a
subprocess): a dataset folder that is not there, no dataset at all, and ``openai`` weights with no local
copy and no network. Each must print exactly one line on stderr naming the fix, exit with code 2, and
stop before the config dump (nothing on stdout, no output folder)."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, tmp_path, **env):
    e = {k: v for k, v in os.environ.items() if k != "MVLPT_OPTS"}
    e.update(PYTHONPATH=REPO, OMP_NUM_THREADS="1", **env)
    r = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *args], capture_output=True, text=True,
                       env=e, cwd=str(tmp_path))
    return r


def assert_one_line_exit_2(r, out_dir):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvlpt: error: "), r.stderr
    assert "*** Config ***" not in r.stdout and r.stdout == "", r.stdout[:500]
    assert not os.path.exists(out_dir)  # stopped before anything was written
    return lines[0]


COOP = ["--trainer", "CoOp", "--config-file", os.path.join(REPO, "configs", "trainers", "CoOp", "vit_b16_ep50.yaml")]


def test_missing_dataset_folder_names_the_download_command(tmp_path):
    out = str(tmp_path / "out")
    r = run(["--root", str(tmp_path / "data"), "--seed", "1", *COOP, "--output-dir", out,
             "--dataset-config-file", os.path.join(REPO, "configs", "datasets", "eurosat.yaml"),
             "MODEL.BACKBONE.PRETRAINED", "none"], tmp_path)
    line = assert_one_line_exit_2(r, out)
    assert line == (f"mvlpt: error: EuroSAT folder not found: {tmp_path / 'data' / 'eurosat'}; python "
                    f"datasets/download_coop.py EuroSAT --root {tmp_path / 'data'}   (instructions: datasets/eurosat.md)")


def test_split_file_missing_is_caught_before_the_dump_too(tmp_path):
    (tmp_path / "data" / "eurosat" / "2750").mkdir(parents=True)
    out = str(tmp_path / "out")
    r = run(["--root", str(tmp_path / "data"), *COOP, "--output-dir", out,
             "--dataset-config-file", os.path.join(REPO, "configs", "datasets", "eurosat.yaml"),
             "MODEL.BACKBONE.PRETRAINED", "none"], tmp_path)
    line = assert_one_line_exit_2(r, out)
    assert "EuroSAT split file not found" in line and "split_zhou_EuroSAT.json" in line
    assert "datasets/download_coop.py EuroSAT" in line


def test_missing_elevater_task_folder_too(tmp_path):
    out = str(tmp_path / "out")
    r = run(["--root", str(tmp_path / "data"), *COOP, "--output-dir", out, "--dataset", "cifar-10,mnist",
             "MODEL.BACKBONE.PRETRAINED", "none"], tmp_path)
    line = assert_one_line_exit_2(r, out)
    d = tmp_path / "data"
    assert line == (f"mvlpt: error: ELEVATER task 'cifar-10' folder not found: {d / 'classification' / 'cifar_10_20211007'}; "
                    f"download the ELEVATER files into {d} (python datasets/download_elevater.py cifar-10 --root {d}; "
                    f"see datasets/elevater.md)")


def test_no_dataset_given_says_how_to_give_one(tmp_path):
    out = str(tmp_path / "out")
    r = run(["--root", str(tmp_path), *COOP, "--output-dir", out, "MODEL.BACKBONE.PRETRAINED", "none"], tmp_path)
    line = assert_one_line_exit_2(r, out)
    assert line == ("mvlpt: error: no dataset given: pass --dataset-config-file configs/datasets/<name>.yaml or "
                    "DATASET.NAME <Name> (e.g. DATASET.NAME OxfordPets; several tasks: 'OxfordPets,DTD')")


def test_offline_openai_weights_name_the_places_and_the_alternatives(tmp_path):
    out = str(tmp_path / "out")
    home = tmp_path / "home"
    home.mkdir()
    r = run(["--root", str(tmp_path), *COOP, "--output-dir", out,
             "--dataset-config-file", os.path.join(REPO, "configs", "datasets", "demo_shapes.yaml"),
             "MODEL.BACKBONE.PRETRAINED", "openai"], tmp_path,
            HOME=str(home), HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hf"), MVLPT_CLIP_DIR=str(tmp_path / "w"))
    line = assert_one_line_exit_2(r, out)
    assert line == (f'mvlpt: error: no local copy of the "openai" weights for ViT-B-16 (looked for ViT-B-16.pt in '
                    f'{tmp_path / "w"}, {home / ".cache" / "clip"} and the Hugging Face cache) and no network: put '
                    f"ViT-B-16.pt in ~/.cache/clip or in $MVLPT_CLIP_DIR, or pass its path "
                    f"(MODEL.BACKBONE.PRETRAINED /path/to/ViT-B-16.pt), or none (random weights)")
    # a file put where the message says is the one the loader then reads (here: not a checkpoint)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "ViT-B-16.pt").write_bytes(b"not a checkpoint")
    r = run(["--root", str(tmp_path), *COOP, "--output-dir", out,
             "--dataset-config-file", os.path.join(REPO, "configs", "datasets", "demo_shapes.yaml"),
             "MODEL.BACKBONE.PRETRAINED", "openai"], tmp_path,
            HOME=str(home), HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hf"), MVLPT_CLIP_DIR=str(tmp_path / "w"))
    assert r.returncode != 0 and "no local copy" not in r.stderr
    assert f"cannot read CLIP weights {tmp_path / 'w' / 'ViT-B-16.pt'}" in r.stderr


def test_mvlpt_opts_errors_are_one_line(tmp_path):
    out = str(tmp_path / "out")
    r = run(["--root", str(tmp_path), *COOP, "--output-dir", out], tmp_path, MVLPT_OPTS="OPTIM.MAX_EPOCH")
    line = assert_one_line_exit_2(r, out)
    assert "MVLPT_OPTS needs KEY VALUE pairs" in line
    r = run(["--root", str(tmp_path), *COOP, "--output-dir", out], tmp_path, MVLPT_OPTS="--seed 2")
    assert "MVLPT_OPTS holds KEY VALUE config options only, got the flag --seed" in assert_one_line_exit_2(r, out)


def test_mvlpt_opts_are_appended_after_the_command_line(monkeypatch):
    """``$MVLPT_OPTS`` pairs come after the command line's (they win) and are named in the log notes."""
    from mvlpt import cli
    from mvlpt.launch import setup_cfg

    seen = []
    monkeypatch.setattr(cli, "_run", lambda args, state: seen.append(args) or 0)
    monkeypatch.setenv("MVLPT_OPTS", "OPTIM.MAX_EPOCH 1 TRAINER.COOP.CTX_INIT 'a photo of a'")
    assert cli.main(["--trainer", "CoOp", "--config-file", os.path.join(REPO, "configs", "trainers", "CoOp",
                     "vit_b16_ep50.yaml"), "OPTIM.MAX_EPOCH", "7", "DATASET.NAME", "DemoShapes"]) == 0
    args = seen[0]
    assert args.opts == ["OPTIM.MAX_EPOCH", "7", "DATASET.NAME", "DemoShapes", "OPTIM.MAX_EPOCH", "1",
                         "TRAINER.COOP.CTX_INIT", "a photo of a"]
    cfg, notes = setup_cfg(args)
    assert cfg.OPTIM.MAX_EPOCH == 1 and cfg.TRAINER.COOP.CTX_INIT == "a photo of a"  # yaml: 50, command line: 7
    assert "MVLPT_OPTS (appended to the command line's options): OPTIM.MAX_EPOCH 1 TRAINER.COOP.CTX_INIT a photo of a" \
        in notes
    monkeypatch.delenv("MVLPT_OPTS")
    seen.clear()
    assert cli.main(["--trainer", "CoOp", "OPTIM.MAX_EPOCH", "7"]) == 0 and seen[0].opts == ["OPTIM.MAX_EPOCH", "7"]

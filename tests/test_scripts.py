"""Every script under scripts/ (demo.sh aside) in DRY_RUN=1 mode: the commands it would run use the
method's paper yaml (shipped), honour EPOCHS / EXTRA_OPTS / SEEDS / DATA / OUTPUT, tag the protocol,
and parse with the engine's own command line (config merged, no training)."""
import glob
import os
import shlex
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(REPO, "configs", "trainers")
TESTED = set()


def dry(script, *args, **env):
    TESTED.add(script)
    e = {k: v for k, v in os.environ.items() if k not in ("EPOCHS", "EXTRA_OPTS", "SEEDS", "CONFIG", "BACKBONE")}
    e.update(DATA="/data/root", OUTPUT="/out", DRY_RUN="1", PYTHON=sys.executable, **env)
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", script), *args], capture_output=True, text=True,
                       env=e, cwd=REPO)
    cmds = [shlex.split(ln[2:]) for ln in r.stdout.splitlines() if ln.startswith("+ ")]
    return r, cmds


def engine_cmds(cmds):
    """(protocol, argv after `python -m mvlpt`) of the engine commands."""
    out = []
    for c in cmds:
        if c[0] == "env" and "mvlpt" in c:
            i = c.index("mvlpt")
            out.append((c[1].split("=", 1)[1], c[i + 1:]))
    return out


def opt(argv, flag):
    return argv[argv.index(flag) + 1] if flag in argv else None


def parses(argv):
    from mvlpt.cli import build_parser, setup_cfg

    cfg, _ = setup_cfg(build_parser().parse_args(argv))
    return cfg


def test_fewshot_coop_uses_coop_protocol_yamls():
    r, cmds = dry("protocols/fewshot.sh", "CoOp", SEEDS="1 2", SHOTS="1 4 16", DATASETS="ImageNet EuroSAT",
                  EPOCHS="3", EXTRA_OPTS="OPTIM.LR 0.01 TRAIN.PRINT_FREQ 1")
    assert r.returncode == 0, r.stderr
    runs = engine_cmds(cmds)
    assert len(runs) == 3 * 2 * 2
    for proto, argv in runs:
        assert proto == "fewshot"
        k, d = int(argv[argv.index("DATASET.NUM_SHOTS") + 1]), argv[argv.index("DATASET.NAME") + 1]
        want = "vit_b16_ep50" if (d == "ImageNet" or k <= 2) else ("vit_b16_ep100" if k <= 8 else "vit_b16")
        assert opt(argv, "--config-file") == os.path.join(CFG, "CoOp", want + ".yaml")
        assert argv[-6:] == ["OPTIM.MAX_EPOCH", "3", "OPTIM.LR", "0.01", "TRAIN.PRINT_FREQ", "1"]
        assert opt(argv, "--root") == "/data/root" and opt(argv, "--output-dir").startswith("/out/protocols/fewshot/")
        assert opt(argv, "--output-dir").endswith(f"/shots{k}/{d}/seed{opt(argv, '--seed')}")
    assert sorted({opt(a, "--seed") for _, a in runs}) == ["1", "2"]
    cfg = parses(runs[-1][1])
    assert (cfg.OPTIM.MAX_EPOCH, cfg.OPTIM.LR, cfg.OPTIM.LR_SCHEDULER, cfg.TRAINER.NAME) == (3, 0.01, "cosine", "CoOp")
    assert cmds[-1][1:3] == ["-m", "mvlpt.results"] and cmds[-1][3] == "/out/protocols/fewshot/CoOp"


def test_fewshot_explicit_config_and_unknown_method():
    r, cmds = dry("protocols/fewshot.sh", "CoOp", "configs/trainers/CoOp/rn50.yaml", SEEDS="1", SHOTS="2",
                  DATASETS="EuroSAT")
    assert {opt(a, "--config-file") for _, a in engine_cmds(cmds)} == {"configs/trainers/CoOp/rn50.yaml"}
    assert "--backbone" not in engine_cmds(cmds)[0][1]            # the yaml's backbone (RN50) is kept
    r, cmds = dry("protocols/fewshot.sh", "NoSuchMethod", SEEDS="1", SHOTS="2", DATASETS="EuroSAT")
    assert r.returncode == 2 and not engine_cmds(cmds)
    assert r.stderr.strip().count("\n") == 0 and "pass one as the second argument" in r.stderr


def test_base2new_cocoop_and_maple():
    for trainer, yaml in (("CoCoOp", "CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml"),
                          ("MaPLe", "MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml")):
        r, cmds = dry("protocols/base2new.sh", trainer, SEEDS="1 2", DATASETS="EuroSAT", EPOCHS="1",
                      EXTRA_OPTS="OPTIM.LR 0.5")
        assert r.returncode == 0, r.stderr
        runs = engine_cmds(cmds)
        assert len(runs) == 4 and all(p == "base2new" for p, _ in runs)
        assert {opt(a, "--config-file") for _, a in runs} == {os.path.join(CFG, yaml)}
        train = [a for _, a in runs if "--eval-only" not in a]
        test = [a for _, a in runs if "--eval-only" in a]
        assert [opt(a, "DATASET.SUBSAMPLE_CLASSES") for a in train] == ["base", "base"]
        assert [opt(a, "DATASET.SUBSAMPLE_CLASSES") for a in test] == ["new", "new"]
        assert [opt(a, "--model-dir") for a in test] == [opt(a, "--output-dir") for a in train]
        assert all(a[-4:] == ["OPTIM.MAX_EPOCH", "1", "OPTIM.LR", "0.5"] for _, a in runs)
        cfg = parses(train[0])
        assert cfg.DATASET.SUBSAMPLE_CLASSES == "base" and cfg.OPTIM.MAX_EPOCH == 1


def test_cross_dataset_maple():
    r, cmds = dry("protocols/cross_dataset.sh", "MaPLe", SEEDS="1 2", TARGETS="EuroSAT ImageNetV2", EPOCHS="2")
    assert r.returncode == 0, r.stderr
    runs = engine_cmds(cmds)
    assert [p for p, _ in runs] == ["xd_source", "cross_dataset", "dg"] * 2
    assert {opt(a, "--config-file") for _, a in runs} == \
        {os.path.join(CFG, "MaPLe", "vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml")}
    assert all(opt(a, "--model-dir") == opt(runs[0][1], "--output-dir") for p, a in runs[1:3])
    assert cmds[-1][3] == "/out/protocols/xd/MaPLe"                 # table includes the source row
    assert parses(runs[0][1]).TRAINER.MAPLE.DEPTH == 3


MVLPT_YAML = os.path.join(CFG, "MVLPT", "vit_b16.yaml")


@pytest.mark.parametrize("script,args,stages", [
    ("mvlpt/source_coop11.sh", ["UPT"], ["source"]),
    ("mvlpt/elevater_fewshot.sh", ["CoOp", "5"], ["target", "target", "group", "zeroshot", "linprobe"]),
    ("mvlpt/cross_task.sh", ["VPT", "1"], ["target", "target"]),
    ("mvlpt/transferability.sh", ["CoOp", "5"], ["transfer"]),
])
def test_mvlpt_scripts(script, args, stages):
    r, cmds = dry(script, *args, SEEDS="1 2", EPOCHS="4", EXTRA_OPTS="OPTIM.LR 0.1")
    assert r.returncode == 0, r.stderr
    mts = [c for c in cmds if c[1:3] == ["-m", "mvlpt.multitask"]]
    assert [c[3] for c in mts] == stages
    for c in mts:
        assert opt(c, "--config-file") == MVLPT_YAML and opt(c, "--root") == "/data/root"
        assert opt(c, "--method") == args[0]
        seeds = []
        for x in c[c.index("--seeds") + 1:]:
            if x.startswith("--"):
                break
            seeds.append(x)
        assert seeds == (["1"] if stages == ["transfer"] else ["1", "2"])  # the matrix uses the first seed
        if c[3] not in ("zeroshot", "linprobe"):
            assert "OPTIM.MAX_EPOCH" in c and c[c.index("OPTIM.MAX_EPOCH") + 1] == "4"
        assert c[-2:] == ["OPTIM.LR", "0.1"]  # EXTRA_OPTS reach every stage (zero-shot and linear probe too)
    if stages[0] == "target":
        assert any(c[1:3] == ["-m", "mvlpt.results"] for c in cmds)


def test_every_script_is_covered():
    scripts = {os.path.relpath(p, os.path.join(REPO, "scripts"))
               for p in glob.glob(os.path.join(REPO, "scripts", "**", "*.sh"), recursive=True)}
    runnable = {s for s in scripts if not s.endswith("common.sh") and s != "demo.sh"}
    covered = {"protocols/fewshot.sh", "protocols/base2new.sh", "protocols/cross_dataset.sh",
               "mvlpt/source_coop11.sh", "mvlpt/elevater_fewshot.sh", "mvlpt/cross_task.sh", "mvlpt/transferability.sh"}
    assert runnable <= covered, f"scripts without a dry-run test: {sorted(runnable - covered)}"
    readme = open(os.path.join(REPO, "scripts", "README.md"), encoding="utf-8").read()
    for s in runnable:
        assert f"scripts/{s}" in readme, f"scripts/README.md does not document {s}"

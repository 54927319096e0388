"""Config defaults, official yaml compatibility, strict keys, and Dassl's LR schedule."""
import glob
import math
import os

import pytest
import torch

from mvlpt.config import ConfigError, get_cfg, get_cfg_default, merge_from_file, merge_from_list

from conftest import PARITY_REF as REF  # noqa: E402  ($MVLPT_PARITY_REF or ../shared/parity/ref)

INPUT_BLOCK = """
INPUT:
  SIZE: (224, 224)
  INTERPOLATION: "bicubic"
  PIXEL_MEAN: [0.48145466, 0.4578275, 0.40821073]
  PIXEL_STD: [0.26862954, 0.26130258, 0.27577711]
  TRANSFORMS: ["random_resized_crop", "random_flip", "normalize"]
"""

# CoOp's vit_b16.yaml; MVLPT's starts the same way
COOP_STYLE = """
DATALOADER:
  TRAIN_X:
    BATCH_SIZE: 32
  TEST:
    BATCH_SIZE: 100
  NUM_WORKERS: 8
""" + INPUT_BLOCK + """
OPTIM:
  NAME: "sgd"
  LR: 0.002
  MAX_EPOCH: 200
  LR_SCHEDULER: "cosine"
  WARMUP_EPOCH: 1
  WARMUP_TYPE: "constant"
  WARMUP_CONS_LR: 1e-5

TRAIN:
  PRINT_FREQ: 5

MODEL:
  BACKBONE:
    NAME: "ViT-B/16"
"""

# Faithful equivalents of the official method yamls (values as in the reference config dumps).
OFFICIAL_YAMLS = {
    "CoOp/vit_b16.yaml": COOP_STYLE,
    "CoCoOp/vit_b16_c16_ep10_batch1.yaml": """
DATALOADER:
  TRAIN_X:
    BATCH_SIZE: 1
  TEST:
    BATCH_SIZE: 100
  NUM_WORKERS: 8
""" + INPUT_BLOCK + """
OPTIM:
  NAME: "sgd"
  LR: 0.002
  MAX_EPOCH: 10
  LR_SCHEDULER: "cosine"
  WARMUP_EPOCH: 1
  WARMUP_TYPE: "constant"
  WARMUP_CONS_LR: 1e-5

TRAIN:
  PRINT_FREQ: 20

MODEL:
  BACKBONE:
    NAME: "ViT-B/16"

TRAINER:
  COCOOP:
    N_CTX: 16
    CTX_INIT: ""
    PREC: "fp16"
""",
    "MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml": """
DATALOADER:
  TRAIN_X:
    BATCH_SIZE: 4
  TEST:
    BATCH_SIZE: 100
  NUM_WORKERS: 8
""" + INPUT_BLOCK + """
OPTIM:
  NAME: "sgd"
  LR: 0.0035
  MAX_EPOCH: 5
  LR_SCHEDULER: "cosine"
  WARMUP_EPOCH: 1
  WARMUP_TYPE: "constant"
  WARMUP_CONS_LR: 1e-5

TRAIN:
  PRINT_FREQ: 20

MODEL:
  BACKBONE:
    NAME: "ViT-B/16"

TRAINER:
  MAPLE:
    N_CTX: 2
    CTX_INIT: "a photo of a"
    PREC: "fp16"
    PROMPT_DEPTH: 9
""",
    "MVLPT/vit_b16.yaml": COOP_STYLE + """
TRAINER:
  MVLPT:
    PREC: "fp32"
    PROJECT_METHOD: "transformer"
    PROJECT_DIM: 128
    VPT:
      N_CTX: 0
      CSC: False
      CTX_INIT: ""
      DEEP: True
      DROPOUT: 0.0
      PROJECT: -1
    COOP:
      N_CTX: 16
      CSC: False
      CTX_INIT: ""
      CLASS_TOKEN_POSITION: "end"
    COCOOP:
      N_CTX: 0
      CTX_INIT: ""
      PREC: "fp16"
  CUT_CONTEXTLEN: True
  ACT_CKPT: 1
""",
}


@pytest.fixture
def official_dir(tmp_path):
    for rel, text in OFFICIAL_YAMLS.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_defaults_have_dassl_and_method_keys():
    cfg = get_cfg_default()
    assert get_cfg is get_cfg_default
    for key in ("OUTPUT_DIR", "RESUME", "SEED", "USE_CUDA", "VERBOSE"):
        assert key in cfg
    assert cfg.MODEL.BACKBONE.PRETRAINED == "openai"
    assert cfg.TEST.FINAL_MODEL == "last_step" and cfg.TEST.EVALUATOR == "Classification"
    for node in ("COOP", "COCOOP", "VPT", "UPT", "MAPLE", "IVLP", "ZSCLIP", "MVLPT"):
        assert "PREC" in cfg.TRAINER[node]
    assert cfg.DATALOADER.TRAIN_X.BATCH_SIZE and cfg.DATASET.NAME == "" and cfg.INPUT.SIZE


def test_method_nodes_mirror_learner_kwargs():
    import inspect

    from mvlpt.prompts import METHODS

    cfg = get_cfg_default()
    assert {"CoOp", "CoCoOp", "VPT", "UPT", "MaPLe", "IVLP", "ZeroshotCLIP"} <= set(METHODS)
    for name, spec in METHODS.items():
        params = {p for k in spec.learner.__mro__ if "__init__" in k.__dict__
                  for p in inspect.signature(k.__dict__["__init__"]).parameters}
        assert set(cfg.TRAINER[spec.cfg_node]) == set(spec.defaults)
        for key in cfg.TRAINER[spec.cfg_node]:
            if key != "PREC":
                assert key.lower() in params, f"TRAINER.{spec.cfg_node}.{key} is not an argument of {name}"
    # the keys and defaults that existed before the registry keep existing
    assert cfg.TRAINER.COOP.PREC == "fp16" and cfg.TRAINER.COOP.INIT_STD == 0.02 and cfg.TRAINER.COOP.POSITION == "end"
    assert cfg.TRAINER.MAPLE.DEPTH == 9 and cfg.TRAINER.VPT.TEMPLATE == "a photo of a {}." and cfg.TRAINER.ZSCLIP.TEMPLATES == []


def test_official_coop_yaml(official_dir):
    cfg = get_cfg_default()
    merge_from_file(cfg, str(official_dir / "CoOp/vit_b16.yaml"))
    assert cfg.OPTIM.WARMUP_CONS_LR == 1e-5 and isinstance(cfg.OPTIM.WARMUP_CONS_LR, float)
    assert tuple(cfg.INPUT.SIZE) == (224, 224)
    assert cfg.OPTIM.LR_SCHEDULER == "cosine" and cfg.OPTIM.MAX_EPOCH == 200
    assert cfg.MODEL.BACKBONE.NAME == "ViT-B/16"
    merge_from_list(cfg, ["TRAINER.COOP.CLASS_TOKEN_POSITION", "middle", "TRAINER.COOP.CSC", "True"])
    assert cfg.TRAINER.COOP.POSITION == "middle" and cfg.TRAINER.COOP.CSC is True


def test_official_cocoop_and_maple_yaml(official_dir):
    cfg = get_cfg_default()
    merge_from_file(cfg, str(official_dir / "CoCoOp/vit_b16_c16_ep10_batch1.yaml"))
    assert cfg.DATALOADER.TRAIN_X.BATCH_SIZE == 1 and cfg.TRAINER.COCOOP.PREC == "fp16"
    cfg = get_cfg_default()
    merge_from_file(cfg, str(official_dir / "MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml"))
    assert cfg.TRAINER.MAPLE.DEPTH == 9 and cfg.TRAINER.MAPLE.N_CTX == 2
    assert cfg.TRAINER.MAPLE.CTX_INIT == "a photo of a" and cfg.OPTIM.LR == 0.0035


@pytest.mark.parametrize("variant,expected", [
    (["TRAINER.MVLPT.VPT.N_CTX", "0", "TRAINER.MVLPT.COOP.N_CTX", "16"], "CoOp"),
    (["TRAINER.MVLPT.VPT.N_CTX", "16", "TRAINER.MVLPT.COOP.N_CTX", "0"], "VPT"),
    (["TRAINER.MVLPT.VPT.N_CTX", "4", "TRAINER.MVLPT.COOP.N_CTX", "4"], "UPT"),
])
def test_official_mvlpt_yaml_picks_learner(official_dir, variant, expected):
    from mvlpt.trainers import MVLPT

    cfg = get_cfg_default()
    merge_from_file(cfg, str(official_dir / "MVLPT/vit_b16.yaml"))
    merge_from_list(cfg, ["DATASET.COOP", "True", "TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION", "middle",
                          "TRAINER.MVLPT.COOP.CSC", "False", *variant, "TRAINER.CUT_CONTEXTLEN", "True"])
    fake = MVLPT.__new__(MVLPT)
    fake.cfg = cfg
    name, kwargs = fake.learner_spec()
    assert name == expected
    if expected == "UPT":
        assert kwargs["coupling"] == "tokenwise" and kwargs["position"] == "middle"
        assert kwargs["n_ctx_text"] == 4 and kwargs["n_ctx_vision"] == 4


@pytest.mark.skipif(not os.path.isdir(REF), reason="reference configs not available")
def test_full_reference_configs_load():
    files = sorted(glob.glob(os.path.join(REF, "*", "config.yaml")))
    assert files
    for f in files:
        cfg = get_cfg_default()
        notes = merge_from_file(cfg, f)
        assert all(n.startswith("ignored") for n in notes)
        assert cfg.MODEL.BACKBONE.PRETRAINED == "openai"  # Dassl's `PRETRAINED: true`
        if "maple" in f:
            assert cfg.TRAINER.NAME == "MaPLe" and cfg.TRAINER.IVLP.DEPTH_VISION == 9
            assert cfg.TRAINER.VPT.N_CTX == 2 and cfg.TRAINER.VPT.TEMPLATE == "a photo of a {}."


def test_unknown_key_names_closest(tmp_path):
    cfg = get_cfg_default()
    with pytest.raises(ConfigError, match=r"OPTIM\.MAX_EPOHC.*did you mean OPTIM\.MAX_EPOCH"):
        merge_from_list(cfg, ["OPTIM.MAX_EPOHC", "3"])
    p = tmp_path / "bad.yaml"
    p.write_text("TRAINER:\n  COOP:\n    NCTX: 4\n")
    with pytest.raises(ConfigError, match=r"TRAINER\.COOP\.NCTX.*bad\.yaml.*TRAINER\.COOP\.N_CTX"):
        merge_from_file(cfg, str(p))


def test_bad_values_and_files(tmp_path):
    cfg = get_cfg_default()
    with pytest.raises(ConfigError, match="OPTIM.LR.*float"):
        merge_from_list(cfg, ["OPTIM.LR", "fast"])
    with pytest.raises(ConfigError, match="KEY VALUE"):
        merge_from_list(cfg, ["OPTIM.LR"])
    with pytest.raises(ConfigError, match="not found"):
        merge_from_file(cfg, str(tmp_path / "nope.yaml"))
    p = tmp_path / "syntax.yaml"
    p.write_text("OPTIM:\n  LR: [0.1\n  NAME: sgd\n")
    with pytest.raises(ConfigError, match=r"YAML syntax error in .*syntax\.yaml at line"):
        merge_from_file(cfg, str(p))


def _lrs(optim_kw, epochs):
    from mvlpt.engine.optim import build_lr_scheduler, build_optimizer

    cfg = get_cfg_default()
    for k, v in optim_kw.items():
        cfg.OPTIM[k] = v
    p = torch.nn.Parameter(torch.zeros(2))
    opt = build_optimizer([p], cfg.OPTIM)
    sched = build_lr_scheduler(opt, cfg.OPTIM)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out, sched


def test_lr_cosine_constant_warmup_matches_dassl():
    base, cons, T = 0.002, 1e-5, 5
    lrs, _ = _lrs(dict(NAME="sgd", LR=base, MAX_EPOCH=T, LR_SCHEDULER="cosine", WARMUP_EPOCH=1,
                       WARMUP_TYPE="constant", WARMUP_CONS_LR=cons), T)
    # Dassl: epoch 0 at WARMUP_CONS_LR; then cosine restarts from LR with T_max = MAX_EPOCH.
    expected = [cons] + [base * (1 + math.cos(math.pi * (e - 1) / T)) / 2 for e in range(1, T)]
    assert lrs == pytest.approx(expected, rel=1e-12, abs=0)
    assert lrs[1] == base


def test_lr_linear_warmup_and_steps():
    lrs, _ = _lrs(dict(NAME="sgd", LR=0.1, MAX_EPOCH=6, LR_SCHEDULER="cosine", WARMUP_EPOCH=2,
                       WARMUP_TYPE="linear", WARMUP_MIN_LR=1e-4), 6)
    assert lrs[:3] == pytest.approx([1e-4, 0.05, 0.1])
    assert lrs[3] == pytest.approx(0.1 * (1 + math.cos(math.pi / 6)) / 2)
    lrs, _ = _lrs(dict(NAME="adamw", LR=0.1, MAX_EPOCH=4, LR_SCHEDULER="single_step", STEPSIZE=(2,),
                       GAMMA=0.1, WARMUP_EPOCH=-1), 4)
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01])


def test_scheduler_state_roundtrip_weights_only(tmp_path):
    lrs, sched = _lrs(dict(NAME="sgd", LR=0.002, MAX_EPOCH=5, LR_SCHEDULER="cosine", WARMUP_EPOCH=1,
                           WARMUP_TYPE="constant", WARMUP_CONS_LR=1e-5), 3)
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    sd = torch.load(tmp_path / "s.pt", weights_only=True)
    assert sd["successor"]["last_epoch"] == 2


def test_our_method_yamls_load():
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "trainers")
    files = sorted(glob.glob(os.path.join(root, "*", "*.yaml")))
    assert len(files) >= 8
    for f in files:
        cfg = get_cfg_default()
        assert merge_from_file(cfg, f) == []
        assert cfg.OPTIM.WARMUP_CONS_LR == 1e-5   # the official CoOp/MVLPT yamls also use RN50/RN101/ViT-B/32/L/14
        assert cfg.MODEL.BACKBONE.NAME in ("ViT-B/16", "ViT-B/32", "RN50", "RN101", "ViT-L/14", "ViT-L/14@336px")

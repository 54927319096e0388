"""Every shipped method yaml loads with mvlpt's config loader, and every yaml path the official CoOp,
CoCoOp, MaPLe and MVLPT scripts reference (``--config-file configs/trainers/<TRAINER>/<CFG>.yaml``) is
shipped, with the protocol's settings (optimiser, LR, epochs, batch size)."""
import glob
import os

import pytest

from mvlpt.config import get_cfg_default, merge_from_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = sorted(glob.glob(os.path.join(REPO, "configs", "trainers", "*", "*.yaml")))

# path -> (batch size, max epoch, lr) as the official scripts' protocols use them (None: not checked)
OFFICIAL = {
    # CoOp repo, scripts/coop/main.sh / eval.sh / zeroshot.sh (CFG argument; the README's list)
    **{f"CoOp/{bb}.yaml": (32, 200, 0.002) for bb in ("rn50", "rn101", "vit_b32", "vit_b16")},
    **{f"CoOp/{bb}_ep50.yaml": (32, 50, 0.002) for bb in ("rn50", "rn101", "vit_b32", "vit_b16")},
    **{f"CoOp/{bb}_ep100.yaml": (32, 100, 0.002) for bb in ("rn50", "vit_b16")},
    "CoOp/rn50_ctxv1.yaml": (32, 200, 0.002), "CoOp/rn50_ep50_ctxv1.yaml": (32, 50, 0.002),
    "CoOp/vit_b16_ctxv1.yaml": (32, 200, 0.002), "CoOp/vit_b16_ep50_ctxv1.yaml": (32, 50, 0.002),
    "CoOp/vit_b16_ep100_ctxv1.yaml": (32, 100, 0.002), "CoOp/rn50_val.yaml": (200, None, None),
    # CoOp repo, scripts/cocoop/{base2new,xd}_{train,test}.sh
    **{f"CoCoOp/vit_b16_c{n}_ep10_batch1.yaml": (1, 10, 0.002) for n in (4, 8, 16)},
    "CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml": (1, 10, 0.002),
    # multimodal-prompt-learning (MaPLe) scripts/{maple,independent-vlp,language-prompting,vpt}/*.sh
    "MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml": (4, 5, 0.0035),
    "MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml": (4, 2, 0.0026),
    "IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml": (4, 5, 0.0035),
    "IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only.yaml": (4, 5, 0.0025),
    "VPT/vit_b16_c2_ep5_batch4_4.yaml": (4, 5, 0.0025),
    # MVLPT repo, scripts/mvlpt/main_{mt,single}_{coopdata,elevater}_cut.sh (CFG: vit_b16 in the paper)
    **{f"MVLPT/{bb}.yaml": (32, 200, 0.002) for bb in ("vit_b16", "vit_b32", "vit_l14", "vit_l14_336")},
}

# official scripts (repo-relative paths in their repos) and the CFG values they pass
OFFICIAL_SCRIPTS = {
    "CoOp:scripts/coop/main.sh": ["CoOp/" + c for c in (
        "rn50", "rn50_ep50", "rn50_ep100", "rn101", "rn101_ep50", "vit_b32", "vit_b32_ep50", "vit_b16",
        "vit_b16_ep50", "vit_b16_ep100", "rn50_ctxv1", "rn50_ep50_ctxv1", "vit_b16_ctxv1", "vit_b16_ep50_ctxv1",
        "vit_b16_ep100_ctxv1")],
    "CoOp:scripts/coop/eval.sh": ["CoOp/rn50_ep50", "CoOp/vit_b16_ep50", "CoOp/rn50_val"],
    "CoOp:scripts/coop/zeroshot.sh": ["CoOp/rn50", "CoOp/rn101", "CoOp/vit_b32", "CoOp/vit_b16"],
    "CoOp:scripts/cocoop/base2new_train.sh": ["CoCoOp/vit_b16_c4_ep10_batch1_ctxv1"],
    "CoOp:scripts/cocoop/xd_train.sh": ["CoCoOp/vit_b16_c4_ep10_batch1_ctxv1"],
    "MaPLe:scripts/maple/base2new_train_maple.sh": ["MaPLe/vit_b16_c2_ep5_batch4_2ctx"],
    "MaPLe:scripts/maple/xd_train_maple.sh": ["MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets"],
    "MaPLe:scripts/independent-vlp/base2new_train_ivlp.sh": ["IVLP/vit_b16_c2_ep5_batch4_2+2ctx"],
    "MaPLe:scripts/language-prompting/base2new_train_lp.sh": ["IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only"],
    "MaPLe:scripts/vpt/base2new_train_vpt.sh": ["VPT/vit_b16_c2_ep5_batch4_4"],
    "MVLPT:scripts/mvlpt/main_mt_coopdata_cut.sh": ["MVLPT/vit_b16", "MVLPT/vit_b32", "MVLPT/vit_l14",
                                                    "MVLPT/vit_l14_336"],
}


def test_every_official_script_path_is_shipped():
    missing = [f"{s}: configs/trainers/{p}.yaml" for s, paths in OFFICIAL_SCRIPTS.items() for p in paths
               if not os.path.isfile(os.path.join(REPO, "configs", "trainers", p + ".yaml"))]
    assert not missing, "not shipped: " + ", ".join(missing)
    listed = {p[:-5] for p in OFFICIAL}
    assert {p for ps in OFFICIAL_SCRIPTS.values() for p in ps} <= listed


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: os.path.relpath(p, os.path.join(REPO, "configs", "trainers")))
def test_shipped_yaml_loads(path):
    cfg = get_cfg_default()
    merge_from_file(cfg, path)
    assert cfg.MODEL.BACKBONE.NAME, "every method yaml names its backbone"


@pytest.mark.parametrize("rel", sorted(OFFICIAL))
def test_official_protocol_values(rel):
    path = os.path.join(REPO, "configs", "trainers", rel)
    assert os.path.isfile(path), f"configs/trainers/{rel} is not shipped"
    cfg = get_cfg_default()
    merge_from_file(cfg, path)
    bs, ep, lr = OFFICIAL[rel]
    assert cfg.DATALOADER.TRAIN_X.BATCH_SIZE == bs
    if ep is not None:
        assert (cfg.OPTIM.MAX_EPOCH, cfg.OPTIM.LR, cfg.OPTIM.NAME) == (ep, pytest.approx(lr), "sgd")
        assert (cfg.OPTIM.LR_SCHEDULER, cfg.OPTIM.WARMUP_EPOCH, cfg.OPTIM.WARMUP_TYPE) == ("cosine", 1, "constant")
        assert cfg.OPTIM.WARMUP_CONS_LR == pytest.approx(1e-5)
    assert list(cfg.INPUT.TRANSFORMS) == ["random_resized_crop", "random_flip", "normalize"]
    if "ctxv1" in rel:
        node = cfg.TRAINER.COCOOP if rel.startswith("CoCoOp") else cfg.TRAINER.COOP
        assert node.CTX_INIT == "a photo of a"
    if rel.endswith("_cross_datasets.yaml"):
        assert cfg.TRAINER.MAPLE.DEPTH == 3
    if rel == "MVLPT/vit_l14_336.yaml":
        assert tuple(cfg.INPUT.SIZE) == (336, 336)


# the official scripts' train.py command lines (their variables filled in), as our CLI receives them
OFFICIAL_COMMANDS = [
    # CoOp scripts/coop/main.sh oxford_pets rn50_ep50 end 16 1 False
    "--root /d --seed 1 --trainer CoOp --dataset-config-file configs/datasets/oxford_pets.yaml "
    "--config-file configs/trainers/CoOp/rn50_ep50.yaml --output-dir /o TRAINER.COOP.N_CTX 16 "
    "TRAINER.COOP.CSC False TRAINER.COOP.CLASS_TOKEN_POSITION end DATASET.NUM_SHOTS 1",
    # CoOp scripts/cocoop/base2new_train.sh eurosat 1
    "--root /d --seed 1 --trainer CoCoOp --dataset-config-file configs/datasets/eurosat.yaml "
    "--config-file configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml --output-dir /o "
    "DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES base",
    # MaPLe scripts/maple/base2new_train_maple.sh dtd 1 and xd_train_maple.sh imagenet 1
    "--root /d --seed 1 --trainer MaPLe --dataset-config-file configs/datasets/dtd.yaml "
    "--config-file configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml --output-dir /o "
    "DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES base",
    "--root /d --seed 1 --trainer MaPLe --dataset-config-file configs/datasets/imagenet.yaml "
    "--config-file configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml --output-dir /o "
    "DATASET.NUM_SHOTS 16",
    # MVLPT scripts/mvlpt/main_mt_coopdata_cut.sh UPT vit_b16 4 16 1
    "--root /d --seed 1 --trainer MVLPT --config-file configs/trainers/MVLPT/vit_b16.yaml --output-dir /o "
    "--dataset ImageNet,Caltech101,Food101,StanfordCars,OxfordPets,OxfordFlowers,FGVCAircraft,SUN397,"
    "DescribableTextures,EuroSAT,UCF101 --shots 16 --dataset-coop --multi-task TRAINER.MVLPT.VPT.N_CTX 4 "
    "TRAINER.MVLPT.COOP.N_CTX 4 TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION middle TRAINER.MVLPT.COOP.CSC False "
    "TEST.NO_TEST False TEST.FINAL_MODEL best_val TRAINER.CUT_CONTEXTLEN True",
]


@pytest.mark.parametrize("line", OFFICIAL_COMMANDS, ids=lambda s: s.split("--config-file ")[1].split()[0])
def test_official_command_lines_configure(line, monkeypatch):
    """The config each official command builds here (no training): yaml + dataset yaml + options merge."""
    from mvlpt.cli import build_parser, setup_cfg
    from mvlpt.runinfo import method_of

    monkeypatch.chdir(REPO)
    cfg, _ = setup_cfg(build_parser().parse_args(line.split()))
    assert cfg.OPTIM.NAME == "sgd" and cfg.OPTIM.LR_SCHEDULER == "cosine" and cfg.SEED == 1
    if "MVLPT" in line:
        assert method_of(cfg) == "UPT" and cfg.TEST.FINAL_MODEL == "best_val" and cfg.OPTIM.MAX_EPOCH == 200


# the official CoOp/CoCoOp/MaPLe scripts' DATASET arguments -> the CoOp-format reader each yaml must select
OFFICIAL_DATASET_YAMLS = {
    "imagenet": "ImageNet", "caltech101": "Caltech101", "oxford_pets": "OxfordPets", "stanford_cars": "StanfordCars",
    "oxford_flowers": "OxfordFlowers", "food101": "Food101", "fgvc_aircraft": "FGVCAircraft", "sun397": "SUN397",
    "dtd": "DescribableTextures", "eurosat": "EuroSAT", "ucf101": "UCF101", "imagenetv2": "ImageNetV2",
    "imagenet_sketch": "ImageNetSketch", "imagenet_a": "ImageNetA", "imagenet_r": "ImageNetR",
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_DATASET_YAMLS))
def test_official_dataset_yamls_select_the_coop_readers(name):
    """``configs/datasets/<DATASET>.yaml`` as the official scripts pass it: the CoOp reader, not an ELEVATER
    task of a similar name (the ELEVATER dtd and stanford-cars tasks are ``*_elevater.yaml``)."""
    cfg = get_cfg_default()
    merge_from_file(cfg, os.path.join(REPO, "configs", "datasets", name + ".yaml"))
    assert cfg.DATASET.NAME == OFFICIAL_DATASET_YAMLS[name]
    assert str(cfg.INPUT.get("PROTOCOL", "auto")) != "elevater"

"""The one place where official (Dassl / CoOp / CoCoOp / MaPLe / MVLPT) config spellings are mapped.

Official method yamls (``configs/trainers/CoOp/vit_b16.yaml`` ...) and full dumped Dassl configs load
unchanged; each key is passed through :func:`translate` before it is checked against our defaults.

==========================================  =====================================================
official key                                our key / treatment
==========================================  =====================================================
TRAINER.COOP.CLASS_TOKEN_POSITION           TRAINER.COOP.POSITION
TRAINER.MAPLE.PROMPT_DEPTH                  TRAINER.MAPLE.DEPTH
TRAINER.IVLP.PROMPT_DEPTH_TEXT              TRAINER.IVLP.DEPTH_TEXT
TRAINER.IVLP.PROMPT_DEPTH_VISION            TRAINER.IVLP.DEPTH_VISION
TRAINER.VPT.N_CTX_VISION   (MaPLe repo)     TRAINER.VPT.N_CTX
TRAINER.VPT.PROMPT_DEPTH_VISION (MaPLe)     TRAINER.VPT.DEPTH
TRAINER.VPT.CTX_INIT "a photo of a" (MaPLe) TRAINER.VPT.TEMPLATE "a photo of a {}."
MODEL.BACKBONE.PRETRAINED true / false      "openai" / "none"
TRAINER.MVLPT.*                             kept as is (the MVLPT trainer reads the official layout)
TRAINER.MVLPT.COOP.N_CTX / VPT.N_CTX        choose CoOp / VPT / UPT (see mvlpt.trainers)
TRAINER.CUT_CONTEXTLEN, TRAINER.ACT_CKPT     kept as keys, no effect
Dassl's other trainers' nodes               ignored (TRAINER.CDAC, DAEL, FIXMATCH, ... see below)
Dassl data keys not used by mvlpt.data      ignored (OFFICIAL_DATA_KEYS below), logged at load
==========================================  =====================================================

The method renames (first rows) are not written here: each method gives its own in its registration
(``register_method(..., renames={"CLASS_TOKEN_POSITION": "POSITION"})``); :func:`renames` collects them
into the one table, which the CLI (this module) and the official-config mapping
(:func:`mvlpt.prompts.official.learner_from_official_config`) both use.
"""

def renames():
    """The one rename table: every registered method's ``renames`` (``register_method(..., renames=)``),
    e.g. ``TRAINER.COOP.CLASS_TOKEN_POSITION`` → ``TRAINER.COOP.POSITION``. Read at each lookup, so a
    method registered later (a plug-in) has its official spellings too."""
    import mvlpt.prompts  # noqa: F401  (registers the built-in methods)
    from mvlpt.prompts.registry import official_renames

    return official_renames()


# Nodes of Dassl's non-prompt trainers that appear in every dumped Dassl config.
IGNORED_NODES = (
    "TRAINER.CDAC", "TRAINER.CROSSGRAD", "TRAINER.DAEL", "TRAINER.DAELDG", "TRAINER.DDAIG",
    "TRAINER.DOMAINMIX", "TRAINER.ENTMIN", "TRAINER.FIXMATCH", "TRAINER.M3SDA", "TRAINER.MCD",
    "TRAINER.MEANTEACHER", "TRAINER.MIXMATCH", "TRAINER.MME", "TRAINER.SE",
)

# Dassl / MVLPT data keys: if mvlpt.data does not define one of these, it is ignored (not an error).
OFFICIAL_DATA_KEYS = frozenset("""
DATALOADER.K_TRANSFORMS DATALOADER.NUM_WORKERS DATALOADER.RETURN_IMG0 DATALOADER.TEST.BATCH_SIZE
DATALOADER.TEST.SAMPLER DATALOADER.TRAIN_U.BATCH_SIZE DATALOADER.TRAIN_U.N_DOMAIN DATALOADER.TRAIN_U.N_INS
DATALOADER.TRAIN_U.SAME_AS_X DATALOADER.TRAIN_U.SAMPLER DATALOADER.TRAIN_X.BATCH_SIZE
DATALOADER.TRAIN_X.N_DOMAIN DATALOADER.TRAIN_X.N_INS DATALOADER.TRAIN_X.SAMPLER DATASET.ALL_AS_UNLABELED
DATASET.CENTER_CROP DATASET.CIFAR_C_LEVEL DATASET.CIFAR_C_TYPE DATASET.COOP DATASET.DATASET
DATASET.MULTITASK DATASET.MULTITASK_EVALKEY DATASET.MULTITASK_LABEL_PERTASK DATASET.NAME
DATASET.NUM_LABELED DATASET.NUM_SAMPLES_PER_CLASS DATASET.NUM_SHOTS DATASET.RANDOM_SEED_SAMPLING
DATASET.ROOT DATASET.SOURCE_DOMAINS DATASET.STL10_FOLD DATASET.SUBSAMPLE_CLASSES DATASET.TARGET_DOMAINS
DATASET.TEST_SET DATASET.TRAIN_SET DATASET.VAL_PERCENT DATASET.VAL_SET INPUT.COLORJITTER_B
INPUT.COLORJITTER_C INPUT.COLORJITTER_H INPUT.COLORJITTER_S INPUT.CROP_PADDING INPUT.CUTOUT_LEN
INPUT.CUTOUT_N INPUT.GB_K INPUT.GB_P INPUT.GN_MEAN INPUT.GN_STD INPUT.INTERPOLATION INPUT.NO_TRANSFORM
INPUT.PIXEL_MEAN INPUT.PIXEL_STD INPUT.RANDAUGMENT_M INPUT.RANDAUGMENT_N INPUT.RGS_P INPUT.RRCROP_SCALE
INPUT.SIZE INPUT.TRANSFORMS
""".split())

IGNORE = object()  # sentinel returned by translate() for keys that are accepted and dropped


def translate(key, value):
    """Map one official ``(key, value)`` pair to ours; returns ``(key, value)`` or ``(key, IGNORE)``."""
    if any(key == n or key.startswith(n + ".") for n in IGNORED_NODES):
        return key, IGNORE
    if key == "MODEL.BACKBONE.PRETRAINED" and (isinstance(value, bool) or value in ("True", "False", "true", "false")):
        return key, ("openai" if value in (True, "True", "true") else "none")
    if key == "TRAINER.VPT.CTX_INIT":  # MaPLe repo's VPT: text prompt prefix
        value = str(value).strip()
        return "TRAINER.VPT.TEMPLATE", (f"{value} {{}}." if value else "a photo of a {}.")
    table = renames()
    if key in table:
        return table[key], value
    return key, value

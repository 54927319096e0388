"""Default configuration: Dassl's keys plus one node per prompt-tuning method.

The method nodes (``TRAINER.COOP`` ...) are built from the method registry
(:data:`mvlpt.prompts.METHODS`): exactly the constructor arguments of the learner with a default
(key ``N_CTX`` -> kwarg ``n_ctx``) plus ``PREC``; a method registered later (a plug-in) gets its node
from :func:`get_cfg_default` called after the registration. ``TRAINER.MVLPT`` keeps the official
MVLPT layout. Official spellings are translated in :mod:`mvlpt.config.compat`.
"""
from yacs.config import CfgNode as CN


def _add_model_optim_train_test(cfg):
    cfg.VERSION = 1
    cfg.OUTPUT_DIR = "./output"
    cfg.RESUME = ""
    # Dassl ignores SEED <= 0; here any SEED >= 0 is a fixed seed, -1 draws one (and logs it).
    cfg.SEED = -1
    cfg.USE_CUDA = True
    cfg.VERBOSE = True

    cfg.MODEL = CN()
    cfg.MODEL.INIT_WEIGHTS = ""
    cfg.MODEL.BACKBONE = CN()
    cfg.MODEL.BACKBONE.NAME = ""
    # open_clip pretrained tag ("openai", "laion2b_s34b_b88k"), a path to weights, or "none".
    # Dassl's boolean (true/false) is accepted and read as "openai"/"none".
    cfg.MODEL.BACKBONE.PRETRAINED = "openai"
    cfg.MODEL.HEAD = CN()
    cfg.MODEL.HEAD.NAME = ""
    cfg.MODEL.HEAD.HIDDEN_LAYERS = ()
    cfg.MODEL.HEAD.ACTIVATION = "relu"
    cfg.MODEL.HEAD.BN = True
    cfg.MODEL.HEAD.DROPOUT = 0.0

    cfg.OPTIM = CN()
    cfg.OPTIM.NAME = "sgd"  # sgd | adam | adamw
    cfg.OPTIM.LR = 0.0003
    cfg.OPTIM.WEIGHT_DECAY = 5e-4
    cfg.OPTIM.MOMENTUM = 0.9
    cfg.OPTIM.SGD_DAMPNING = 0
    cfg.OPTIM.SGD_NESTEROV = False
    cfg.OPTIM.RMSPROP_ALPHA = 0.99
    cfg.OPTIM.ADAM_BETA1 = 0.9
    cfg.OPTIM.ADAM_BETA2 = 0.999
    cfg.OPTIM.ADAM_EPS = 1e-8  # Adam/AdamW eps (Tip-Adapter-F: 1e-4)
    cfg.OPTIM.STAGED_LR = False
    cfg.OPTIM.NEW_LAYERS = ()
    cfg.OPTIM.BASE_LR_MULT = 0.1
    cfg.OPTIM.LR_SCHEDULER = "single_step"  # single_step | multi_step | cosine
    cfg.OPTIM.STEPSIZE = (-1,)
    cfg.OPTIM.GAMMA = 0.1
    cfg.OPTIM.MAX_EPOCH = 10
    cfg.OPTIM.WARMUP_EPOCH = -1
    cfg.OPTIM.WARMUP_TYPE = "linear"  # constant | linear
    cfg.OPTIM.WARMUP_CONS_LR = 1e-5
    cfg.OPTIM.WARMUP_MIN_LR = 1e-5
    cfg.OPTIM.WARMUP_RECOUNT = True
    # step the LR scheduler after every iteration, all lengths in iterations (epochs x iterations per epoch):
    # cosine T_max = MAX_EPOCH * iters, STEPSIZE and WARMUP_EPOCH scaled alike (Tip-Adapter-F's official schedule)
    cfg.OPTIM.SCHED_PER_ITER = False

    cfg.TRAIN = CN()
    cfg.TRAIN.CHECKPOINT_FREQ = 0  # save every N epochs (0: last epoch only)
    cfg.TRAIN.PRINT_FREQ = 10
    cfg.TRAIN.COUNT_ITER = "train_x"

    cfg.TEST = CN()
    cfg.TEST.EVALUATOR = "Classification"
    cfg.TEST.PER_CLASS_RESULT = False
    cfg.TEST.COMPUTE_CMAT = False
    cfg.TEST.NO_TEST = False
    cfg.TEST.SPLIT = "test"  # val | test
    cfg.TEST.FINAL_MODEL = "last_step"  # last_step | best_val
    # DDP only (world size > 1): each rank scores its own block of val/test and the metrics are reduced
    # over the ranks (same values as one process); False = every rank scores the whole split (old behaviour)
    cfg.TEST.SHARDED_EVAL = True


def _add_trainer_nodes(cfg):
    cfg.TRAINER = CN()
    cfg.TRAINER.NAME = ""
    cfg.TRAINER.CUT_CONTEXTLEN = False  # MVLPT key; accepted, no effect on results
    cfg.TRAINER.CACHE_FEATURES = True  # frozen image side: image features once per image (exact)
    cfg.TRAINER.COMPILE = False  # torch.compile the frozen encoders' blocks (first step compiles)
    cfg.TRAINER.ALLOW_TF32 = True  # CUDA: fp32 matmuls/convs on TF32 tensor cores (faster; False = exact fp32)
    cfg.TRAINER.ACT_CKPT = 1  # MVLPT key: > 1 turns on activation checkpointing in both encoders (same results)

    # one node per registered method, from its constructor (mvlpt.prompts.registry.register_method)
    from mvlpt.prompts.registry import METHODS
    import mvlpt.prompts  # noqa: F401  (registers the built-in methods)

    for spec in METHODS.values():
        node = cfg.TRAINER[spec.cfg_node] = CN()
        for key, value in spec.defaults.items():
            node[key] = value

    # MVLPT keeps the official layout: the learner is chosen by COOP.N_CTX / VPT.N_CTX /
    # COCOOP.N_CTX (text only -> CoOp, vision only -> VPT, both -> UPT, COCOOP -> CoCoOp).
    cfg.TRAINER.MVLPT = CN()
    cfg.TRAINER.MVLPT.PREC = "fp16"
    cfg.TRAINER.MVLPT.PROJECT_METHOD = "transformer"  # UPT coupling: transformer (official, =tokenwise), attention, mlp, identity
    cfg.TRAINER.MVLPT.PROJECT_DIM = 128
    cfg.TRAINER.MVLPT.COOP = CN()
    cfg.TRAINER.MVLPT.COOP.N_CTX = 16
    cfg.TRAINER.MVLPT.COOP.CTX_INIT = ""
    cfg.TRAINER.MVLPT.COOP.CSC = False
    cfg.TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION = "end"
    cfg.TRAINER.MVLPT.VPT = CN()
    cfg.TRAINER.MVLPT.VPT.N_CTX = 0
    cfg.TRAINER.MVLPT.VPT.CTX_INIT = ""
    cfg.TRAINER.MVLPT.VPT.CSC = False
    cfg.TRAINER.MVLPT.VPT.DEEP = True
    cfg.TRAINER.MVLPT.VPT.DROPOUT = 0.0
    cfg.TRAINER.MVLPT.VPT.PROJECT = -1
    cfg.TRAINER.MVLPT.COCOOP = CN()
    cfg.TRAINER.MVLPT.COCOOP.N_CTX = 0
    cfg.TRAINER.MVLPT.COCOOP.CTX_INIT = ""
    cfg.TRAINER.MVLPT.COCOOP.PREC = "fp16"


def _add_data_fallback(cfg):
    """Minimal Dassl INPUT/DATASET/DATALOADER nodes, used only if mvlpt.data is unavailable."""
    cfg.INPUT = CN()
    cfg.INPUT.SIZE = (224, 224)
    cfg.INPUT.INTERPOLATION = "bicubic"
    cfg.INPUT.TRANSFORMS = ("random_resized_crop", "random_flip", "normalize")
    cfg.INPUT.NO_TRANSFORM = False
    cfg.INPUT.PIXEL_MEAN = [0.48145466, 0.4578275, 0.40821073]
    cfg.INPUT.PIXEL_STD = [0.26862954, 0.26130258, 0.27577711]
    cfg.DATASET = CN()
    cfg.DATASET.ROOT = ""
    cfg.DATASET.NAME = ""
    cfg.DATASET.NUM_SHOTS = -1
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"
    cfg.DATALOADER = CN()
    cfg.DATALOADER.NUM_WORKERS = 4
    cfg.DATALOADER.TRAIN_X = CN()
    cfg.DATALOADER.TRAIN_X.SAMPLER = "RandomSampler"
    cfg.DATALOADER.TRAIN_X.BATCH_SIZE = 32
    cfg.DATALOADER.TEST = CN()
    cfg.DATALOADER.TEST.SAMPLER = "SequentialSampler"
    cfg.DATALOADER.TEST.BATCH_SIZE = 100


def get_cfg_default():
    """Return a fresh :class:`yacs.config.CfgNode` with every key this project knows."""
    cfg = CN()
    _add_model_optim_train_test(cfg)
    _add_trainer_nodes(cfg)
    try:
        from mvlpt.data import add_data_config
    except ImportError:  # data package not installed / not written yet
        _add_data_fallback(cfg)
    else:
        add_data_config(cfg)
    return cfg


get_cfg = get_cfg_default

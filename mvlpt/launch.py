"""The one launcher: config → logging → trainer → init / resume → log file → evaluate or train.

Shared by the command line (:mod:`mvlpt.cli`, ``train.py``) and the recipe runner
(:mod:`mvlpt.multitask.runner`), so a recipe run is exactly a ``python -m mvlpt`` run.

    >>> from mvlpt.launch import build_parser, launch
    >>> cfg, trainer = launch(build_parser().parse_args([...]))      # doctest: +SKIP
"""
import argparse
import logging
import os
import sys

__all__ = ["launch", "build_parser", "setup_cfg", "reset_cfg", "validate_cfg", "check_output_dir", "preflight",
           "setup_logging", "commit_log", "teardown_logging"]


EPILOG = """exit codes: 0 ok, 1 internal error (rerun with --debug), 2 usage/config/input error,
3 training diverged (NaN/inf loss; rerun resumes from the last good checkpoint), 130 interrupted.
Trailing KEY VALUE pairs override config keys (python -m mvlpt --list-keys lists them);
$MVLPT_OPTS holds more KEY VALUE pairs, appended after them (they win)."""


class UsageError(Exception):
    """A bad command line (one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error
        raise UsageError(f"{message} (see --help)")


def build_parser():
    p = _Parser(prog="mvlpt", description="Prompt tuning of frozen CLIP models (Dassl-compatible flags).",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=str, default="", help="path to dataset")
    p.add_argument("--output-dir", type=str, default="", help="output directory")
    p.add_argument("--resume", type=str, default="", help="checkpoint directory (from which the training resumes)")
    p.add_argument("--seed", type=int, default=None,
                   help="fixed seed (any value >= 0, including 0; -1 draws one and logs it). It reaches every "
                        "sampler and the few-shot draw (unless DATASET.FEWSHOT_SEED is set)")
    p.add_argument("--source-domains", type=str, nargs="+", help="source domains for DA/DG")
    p.add_argument("--target-domains", type=str, nargs="+", help="target domains for DA/DG")
    p.add_argument("--transforms", type=str, nargs="+", help="data augmentation methods")
    p.add_argument("--config-file", type=str, default="", help="path to config file")
    p.add_argument("--dataset-config-file", type=str, default="", help="path to config file for dataset setup")
    p.add_argument("--trainer", type=str, default="", help="name of trainer")
    p.add_argument("--backbone", type=str, default="", help="name of CNN backbone")
    p.add_argument("--head", type=str, default="", help="name of head")
    p.add_argument("--eval-only", action="store_true", help="evaluation only")
    p.add_argument("--model-dir", type=str, default="",
                   help="load model from this directory for eval-only mode; without --eval-only, "
                        "initialise the prompts from it before training")
    p.add_argument("--load-epoch", type=int, help="load model weights at this epoch for evaluation")
    p.add_argument("--no-train", action="store_true", help="do not call trainer.train()")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--list-keys", action="store_true", help="print every config key with its default and exit")
    mv = p.add_argument_group("MVLPT's train.py flags (accepted so its scripts run unchanged)")
    mv.add_argument("--dataset", type=str, default="", help="task name(s), comma-separated (= DATASET.DATASET)")
    mv.add_argument("--shots", type=int, help="K shots per class (= DATASET.NUM_SHOTS and NUM_SAMPLES_PER_CLASS)")
    mv.add_argument("--multi-task", action="store_true", help="= DATASET.MULTITASK True")
    mv.add_argument("--multi-task-label_pertask", "--multi-task-label-pertask", dest="multi_task_label_pertask",
                    action="store_true", help="loss masked to each sample's task (= DATASET.MULTITASK_LOSS masked)")
    mv.add_argument("--multi-task-evalkey", type=str, default="average", help="= DATASET.MULTITASK_EVALKEY")
    mv.add_argument("--dataset-coop", action="store_true", help="= DATASET.COOP True")
    mv.add_argument("--cut-contextlen", action="store_true", help="accepted; text is always trimmed (exact)")
    mv.add_argument("--act-ckpt", type=int, default=1, help="> 1: activation checkpointing in both encoders")
    p.add_argument("opts", default=None, nargs=argparse.REMAINDER,
                   help="modify config options using the command-line")
    return p


def reset_cfg(cfg, args):
    """Dassl's ``reset_cfg``: command-line flags override config keys (``--seed 0`` included)."""
    if args.root:
        cfg.DATASET.ROOT = args.root
    if args.output_dir:
        cfg.OUTPUT_DIR = args.output_dir
    if args.resume:
        cfg.RESUME = args.resume
    if args.seed is not None:
        cfg.SEED = args.seed
    if args.source_domains and "SOURCE_DOMAINS" in cfg.DATASET:
        cfg.DATASET.SOURCE_DOMAINS = args.source_domains
    if args.target_domains and "TARGET_DOMAINS" in cfg.DATASET:
        cfg.DATASET.TARGET_DOMAINS = args.target_domains
    if args.transforms:
        cfg.INPUT.TRANSFORMS = args.transforms
    if args.trainer:
        cfg.TRAINER.NAME = args.trainer
    if args.backbone:
        cfg.MODEL.BACKBONE.NAME = args.backbone
    if args.head:
        cfg.MODEL.HEAD.NAME = args.head
    # MVLPT's extra flags, as its train.py maps them
    if getattr(args, "dataset", ""):
        cfg.DATASET.DATASET = args.dataset
    if getattr(args, "shots", None) is not None:  # --shots 0 reaches the check (an error), not ignored
        cfg.DATASET.NUM_SHOTS = cfg.DATASET.NUM_SAMPLES_PER_CLASS = args.shots
    if getattr(args, "multi_task", False):
        cfg.DATASET.MULTITASK = True
    if getattr(args, "multi_task_label_pertask", False):
        cfg.DATASET.MULTITASK_LABEL_PERTASK = True
    if getattr(args, "multi_task_evalkey", "average") != "average":
        cfg.DATASET.MULTITASK_EVALKEY = args.multi_task_evalkey
    if getattr(args, "dataset_coop", False):
        cfg.DATASET.COOP = True
    if getattr(args, "cut_contextlen", False):
        cfg.TRAINER.CUT_CONTEXTLEN = True
    if getattr(args, "act_ckpt", 1) != 1:
        cfg.TRAINER.ACT_CKPT = args.act_ckpt


def setup_cfg(args):
    from mvlpt.config import get_cfg_default, merge_from_file, merge_from_list

    cfg = get_cfg_default()
    notes = []
    if args.dataset_config_file:
        notes += merge_from_file(cfg, args.dataset_config_file)
    if args.config_file:
        notes += merge_from_file(cfg, args.config_file)
    reset_cfg(cfg, args)
    notes += merge_from_list(cfg, args.opts)
    if getattr(args, "env_opts", None):
        notes.append("MVLPT_OPTS (appended to the command line's options): " + " ".join(args.env_opts))
    validate_cfg(cfg, args)
    cfg.freeze()
    return cfg, notes


def _trains(cfg, args):
    return (not getattr(args, "eval_only", False) and not getattr(args, "no_train", False)
            and cfg.TRAINER.NAME != "ZeroshotCLIP")


def check_output_dir(path):
    """Raise :class:`ConfigError` unless ``path`` is (or can be created as) a writable folder.

    Probes the nearest existing ancestor with a temporary file (removed at once), so a read-only
    or permission-less location stops the run before anything is built or written."""
    import tempfile

    from mvlpt.errors import ConfigError

    full = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(full) and not os.path.isdir(full):
        raise ConfigError(f"--output-dir {path} is a file, not a folder; choose another --output-dir")
    anc = full
    while not os.path.exists(anc):
        anc = os.path.dirname(anc)
    if not os.path.isdir(anc):
        raise ConfigError(f"cannot create --output-dir {path}: {anc} is a file; choose another --output-dir")
    try:
        fd, probe = tempfile.mkstemp(prefix=".mvlpt-write-probe-", dir=anc)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"cannot write --output-dir {path}: {anc} is not writable ({e.strerror or e}); "
                          f"choose another --output-dir or fix the permissions") from None


def validate_cfg(cfg, args=None):
    """Values that cannot give the run the user meant: one :class:`ConfigError` line each (exit code 2),
    raised before anything is built or written. ``args`` (the parsed flags) tells whether the run trains."""
    from mvlpt.errors import ConfigError

    if args is not None and getattr(args, "seed", None) is not None and args.seed < -1:
        raise ConfigError(f"--seed must be >= 0 (or -1 to draw one), got {args.seed}")
    if int(cfg.SEED) < -1:
        raise ConfigError(f"SEED must be >= 0 (or -1 to draw one), got {cfg.SEED}")
    if args is not None and getattr(args, "shots", None) is not None and (args.shots == 0 or args.shots < -1):
        raise ConfigError(f"--shots must be K >= 1 (or -1 for all training images), got {args.shots}; for "
                          f"zero-shot evaluation use --trainer ZeroshotCLIP --eval-only")
    if args is not None and getattr(args, "load_epoch", None) is not None and args.load_epoch < 1:
        raise ConfigError(f"--load-epoch must be >= 1 (the N of model.pth.tar-N), got {args.load_epoch}")
    split = str(cfg.TEST.SPLIT)
    if split not in ("val", "test"):
        raise ConfigError(f"TEST.SPLIT must be val or test, got {split!r}")
    if str(cfg.TEST.FINAL_MODEL) not in ("last_step", "best_val"):
        raise ConfigError(f"TEST.FINAL_MODEL must be last_step or best_val, got {cfg.TEST.FINAL_MODEL!r}")
    trains = args is None or _trains(cfg, args)
    if int(cfg.OPTIM.MAX_EPOCH) < 0 or (trains and int(cfg.OPTIM.MAX_EPOCH) == 0):
        raise ConfigError(f"OPTIM.MAX_EPOCH must be >= 1 to train, got {cfg.OPTIM.MAX_EPOCH}; to evaluate "
                          f"without training use --eval-only (with --model-dir for trained prompts)")
    if trains and float(cfg.OPTIM.LR) <= 0:
        raise ConfigError(f"OPTIM.LR must be > 0 to train, got {cfg.OPTIM.LR}; to evaluate without training "
                          f"use --eval-only")
    if float(cfg.OPTIM.WEIGHT_DECAY) < 0:
        raise ConfigError(f"OPTIM.WEIGHT_DECAY must be >= 0, got {cfg.OPTIM.WEIGHT_DECAY}")
    if args is not None and cfg.OUTPUT_DIR:
        check_output_dir(cfg.OUTPUT_DIR)


def preflight(cfg, check_weights=True):
    """What the run will read, checked cheaply before the config dump (one error line, exit code 2):

    * a dataset is named (``DATASET.NAME`` / ``DATASET.DATASET``), else :class:`ConfigError` saying how;
    * each named dataset's folder layout under ``DATASET.ROOT`` (CoOp-format readers: their own
      ``check_layout``, i.e. folder, image folder and split files; ELEVATER tasks: the task folder; nothing
      is read), else the reader's :class:`~mvlpt.data.DatasetLayoutError` with the download command;
    * ``check_weights``: an open_clip pretrained tag (``openai`` ...) has a local copy or a network to
      fetch it from (:func:`mvlpt.clip.load.check_pretrained`), else :class:`ConfigError`.

    Anything these checks cannot tell (an unknown dataset or backbone, a reader that needs more
    state) is left to the builders, which report it as before."""
    from mvlpt.data import DatasetLayoutError
    from mvlpt.data.datasets.base import FewShotDataset, resolve_root
    from mvlpt.data.multitask import resolve_task_names
    from mvlpt.engine.registry import DATASET_REGISTRY
    from mvlpt.errors import ConfigError

    from mvlpt.data.datasets.elevater import ELEVATER_TASKS, FETCH, ElevaterDataset

    def elevater_folder(reader, cls):  # the reader's own folder lookup (a vision_datasets.json hub may move it)
        folder = os.path.join(reader.root, {**ELEVATER_TASKS[cls.TASK], **reader._hub_override(cls.TASK)}["root_folder"])
        if not os.path.isdir(folder):
            raise DatasetLayoutError(f"ELEVATER task {cls.TASK!r} folder not found: {folder}; "
                                     f"{FETCH.format(root=reader.root, name=cls.TASK)}")

    def coop_layout(reader, cls):  # FewShotDataset.__init__'s folders, then the reader's own layout check
        reader.dataset_dir = os.path.join(reader.root, cls.dataset_dir_name) if cls.dataset_dir_name else reader.root
        reader.image_dir = (os.path.join(reader.dataset_dir, cls.image_dir_name) if cls.image_dir_name
                            else reader.dataset_dir)
        reader.check_layout()

    for name in resolve_task_names(cfg):
        cls = DATASET_REGISTRY.get(name) if name in DATASET_REGISTRY else None
        if not isinstance(cls, type):
            continue
        if issubclass(cls, ElevaterDataset) and cls.TASK in ELEVATER_TASKS:
            check = elevater_folder
        elif issubclass(cls, FewShotDataset) and cls.__init__ is FewShotDataset.__init__:
            check = coop_layout
        else:
            continue  # a reader with its own set-up (demo tasks, Folder/CSV): its builder checks
        reader = cls.__new__(cls)  # nothing is read: only the reader's paths and checks
        reader.cfg = cfg
        try:
            reader.root = resolve_root(cfg)
            check(reader, cls)
        except DatasetLayoutError:
            raise
        except Exception:  # noqa: BLE001 - not checkable here; the builder reports it
            continue
    if check_weights:
        from mvlpt.clip.load import CLIPLoadError, check_pretrained

        try:
            check_pretrained(str(cfg.MODEL.BACKBONE.NAME), cfg.MODEL.BACKBONE.PRETRAINED)
        except CLIPLoadError as e:
            raise ConfigError(str(e)) from None


def _resumed_seed(cfg, args):
    """For ``SEED -1``: the seed a resumable run in ``--resume`` / ``OUTPUT_DIR`` drew (stored in its
    checkpoint), so a resumed run draws the same few-shot set and sampler order; None otherwise."""
    if cfg.SEED >= 0 or args.eval_only or args.no_train:
        return None
    from mvlpt.engine.checkpoint import latest_file, read_checkpoint

    base = cfg.RESUME or cfg.OUTPUT_DIR
    if not base or not os.path.isdir(base):
        return None
    for name in sorted(os.listdir(base)):
        d = os.path.join(base, name)
        if os.path.isfile(os.path.join(d, "checkpoint")):
            path = latest_file(d)
            ck = read_checkpoint(path) if path else None
            if isinstance(ck, dict) and isinstance(ck.get("seed"), int) and ck["seed"] >= 0:
                return ck["seed"]
    return None


class _Buffer(logging.Handler):
    """Holds log records until the output directory is committed (no partial files on bad input)."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def setup_logging(is_main, quiet=False):
    log = logging.getLogger("mvlpt")
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    if is_main and not quiet:
        sh = logging.StreamHandler(sys.stdout)
        sh.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(sh)
    buf = _Buffer()
    log.addHandler(buf)
    logging.captureWarnings(True)
    wlog = logging.getLogger("py.warnings")
    wlog.propagate = False
    for h in list(wlog.handlers):
        wlog.removeHandler(h)
    for h in log.handlers:
        wlog.addHandler(h)
    return log, buf


def commit_log(log, buf, output_dir):
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "log.txt")
    fh = logging.FileHandler(path, mode="a", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(message)s"))
    for r in buf.records:
        fh.handle(r)
    buf.records.clear()
    log.removeHandler(buf)
    logging.getLogger("py.warnings").removeHandler(buf)
    log.addHandler(fh)
    logging.getLogger("py.warnings").addHandler(fh)
    return path


def teardown_logging():
    for name in ("mvlpt", "py.warnings"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
            if not isinstance(h, logging.StreamHandler) or isinstance(h, logging.FileHandler):
                h.close()
    logging.captureWarnings(False)


def launch(args, state=None, clip_provider=None, feature_store=None, init_from="", prepare=None, quiet=False):
    """Run parsed command-line ``args``; returns ``(cfg, trainer)``.

    ``clip_provider`` / ``feature_store``: injected into the trainer (:mod:`mvlpt.engine.features`);
    ``init_from``: prompts initialised from this run/file before training (also with ``--eval-only``);
    ``prepare(trainer)``: called after initialisation, before resume (the recipe's init check);
    ``state["log_path"]``: set once ``OUTPUT_DIR/log.txt`` exists (the CLI appends tracebacks to it).
    """
    from mvlpt.engine import TRAINER_REGISTRY, build_trainer
    from mvlpt.engine import dist as du
    from mvlpt.errors import CheckpointError, ConfigError

    state = {} if state is None else state
    cfg, notes = setup_cfg(args)
    du.init_from_env(cfg.USE_CUDA)
    is_main = du.get_rank() == 0
    log, buf = setup_logging(is_main, quiet=quiet)
    if args.resume and not os.path.isdir(args.resume):
        raise CheckpointError(f"--resume {args.resume}: no such directory")
    if args.eval_only and not args.model_dir and not init_from and cfg.TRAINER.NAME != "ZeroshotCLIP":
        log.info("Note: --eval-only without --model-dir evaluates the initial prompts")
    if not cfg.TRAINER.NAME:
        raise ConfigError("no trainer given; pass --trainer (one of "
                          f"{', '.join(TRAINER_REGISTRY.registered_names())}) or set TRAINER.NAME")
    if cfg.TRAINER.NAME not in TRAINER_REGISTRY:
        raise ConfigError(TRAINER_REGISTRY.unknown_message(cfg.TRAINER.NAME))
    preflight(cfg, check_weights=clip_provider is None)
    for n in notes:
        log.info(n)
    seed = _resumed_seed(cfg, args)
    if seed is not None:
        log.info(f"SEED -1: resuming a run that drew seed {seed}; using it (data and samplers as in that run)")
        cfg = cfg.clone()
        cfg.defrost()
        cfg.SEED = seed
        cfg.freeze()
    log.info("Setting fixed seed: {}".format(cfg.SEED) if cfg.SEED >= 0 else "Seed: drawn at random")
    log.info("*** Config ***")
    log.info(cfg.dump())
    trainer = build_trainer(cfg, clip_provider=clip_provider, feature_store=feature_store)
    if cfg.SEED < 0:
        log.info(f"Drawn seed: {trainer.seed} (rerun with --seed {trainer.seed} to repeat this run)")
    if _trains(cfg, args) and hasattr(getattr(trainer, "dm", None), "check_train_steps"):
        trainer.dm.check_train_steps()  # 0 steps per epoch: stop before anything is written
    if getattr(trainer, "dm", None) is not None and getattr(trainer, "val_loader", 0) is None:
        name = getattr(trainer.dm.dataset, "name", cfg.DATASET.NAME)
        if cfg.TEST.SPLIT == "val":
            raise ConfigError(f"TEST.SPLIT val, but {name} has no validation split; use TEST.SPLIT test")
        if cfg.TEST.FINAL_MODEL == "best_val" and _trains(cfg, args):
            raise ConfigError(f"TEST.FINAL_MODEL best_val needs a validation split and {name} has none (the model "
                              f"would be selected on the test set); use TEST.FINAL_MODEL last_step")
    if init_from:
        trainer.init_prompts_from(init_from)
    if args.eval_only:
        trainer.begin_learner()
        trainer.load_model(args.model_dir, epoch=args.load_epoch)
    elif args.model_dir:
        trainer.init_prompts_from(args.model_dir, epoch=args.load_epoch)
    if prepare is not None:
        prepare(trainer)
    if not args.eval_only and not args.no_train:
        trainer.resume()
    if is_main:
        state["log_path"] = commit_log(log, buf, cfg.OUTPUT_DIR)
        from mvlpt.runinfo import write_run_info  # the run's identity, read by mvlpt.results

        write_run_info(cfg, cfg.OUTPUT_DIR, extra={"config_file": args.config_file, "eval_only": bool(args.eval_only),
                                                   "model_dir": args.model_dir or init_from or "",
                                                   "seed": int(getattr(trainer, "seed", cfg.SEED))})
    else:
        log.removeHandler(buf)
    if args.eval_only:
        trainer.test()
    elif not args.no_train:
        trainer.train()
    return cfg, trainer

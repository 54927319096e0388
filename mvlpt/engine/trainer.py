"""A small Dassl-style ``TrainerX`` for prompt learners over a frozen CLIP, in detectron2's shape.

Same method names as Dassl (``build_data_loader``, ``build_model``, ``register_model``,
``forward_backward``, ``model_inference``, ``parse_batch_train/test``, ``test``, ``train``,
``before/after_train``, ``before/after_epoch``, ``run_epoch``, ``save_model``, ``load_model``,
``resume_model_if_exist``, ``update_lr``, ``get_current_lr``). The work is split by concern:

* this module: building (data, CLIP through the injected provider, the learner named by
  ``TRAINER.NAME`` from :data:`mvlpt.prompts.METHODS`, optimizer) and the epoch loop with its hooks
  (:mod:`mvlpt.engine.hooks`: seeding, feature cache, timing, LR, the learner's procedure points,
  best-val, checkpoints, logging);
* :mod:`mvlpt.engine.step` - one optimisation step (loss terms, AMP, DDP averaging, NaN guard);
* :mod:`mvlpt.engine.evaluation` - ``test`` / ``model_inference`` (cached features honoured);
* :mod:`mvlpt.engine.checkpointer` - the one checkpointer (save, resume, load, init-from).

Any registered method trains with this class itself (``TRAINER.NAME`` picks it); a method changes
training through its learner's plug-in points, never through a trainer subclass. Users may still
subclass and override the Dassl names, or ``build_clip`` / ``build_feature_store`` / ``build_hooks``.

Exactness: every epoch starts by reseeding all RNGs from ``(seed, epoch)``; checkpoints hold the
prompt tensors, optimizer, scheduler, grad scaler, hook, procedure and RNG states. A run killed at any
moment and rerun with the same command resumes from the last epoch-end checkpoint and ends
bit-identical to an uninterrupted run (CPU, fixed seed).
"""
import datetime
import itertools
import logging
import os
import random
import time
from collections import OrderedDict

import numpy as np
import torch
from tqdm import tqdm

from mvlpt.engine import dist as du
from mvlpt.engine.checkpointer import Checkpointer
from mvlpt.engine.evaluation import EvalMixin
from mvlpt.engine.evaluator import build_evaluator
from mvlpt.engine.features import ClipProvider, FeatureStore
from mvlpt.engine.hooks import (BestValHook, CheckpointHook, EpochSeedHook, FeatureCacheHook, HookBase,
                                LearnerHook, LoggerHook, LRSchedulerHook, TimerHook, train_features,
                                val_features)
from mvlpt.engine.optim import build_lr_scheduler, build_optimizer
from mvlpt.engine.step import PRECISIONS, StepMixin, compute_accuracy  # noqa: F401  (re-exported)
from mvlpt.errors import ConfigError

logger = logging.getLogger("mvlpt")


def set_random_seed(seed):
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


_TOKENS = itertools.count()

class TrainerX(StepMixin, EvalMixin):
    """Trainer for one prompt learner with labelled data (Dassl's ``TrainerX`` shape).

    The method is ``TRAINER.NAME`` (a name of :data:`mvlpt.prompts.METHODS`; ``learner_name`` /
    ``cfg_node`` class attributes override it), its settings ``cfg.TRAINER.<cfg_node>``, whose keys are
    passed lower-cased as the learner's constructor arguments (``PREC`` excluded).
    ``clip_provider`` / ``feature_store``: see :mod:`mvlpt.engine.features` (default: private ones).
    """

    learner_name = None
    cfg_node = None

    def __init__(self, cfg, clip_provider=None, feature_store=None):
        self.cfg = cfg
        if self.learner_name is None and self.cfg_node is None:
            from mvlpt.prompts.registry import get_method

            try:
                spec = get_method(cfg.TRAINER.NAME)
            except KeyError as e:
                raise ConfigError(e.args[0]) from None
            self.learner_name, self.cfg_node = spec.name, spec.cfg_node
        self.clip_provider = clip_provider or self.build_clip_provider()
        self.feature_store = feature_store or self.build_feature_store()
        self._store_token = next(_TOKENS)
        self.rank, self.world_size = du.get_rank(), du.get_world_size()
        self.is_distributed = self.world_size > 1
        self.is_main = self.rank == 0
        if cfg.USE_CUDA and torch.cuda.is_available():
            self.device = torch.device("cuda", du.get_local_rank() if self.is_distributed else torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
        seed = cfg.SEED if cfg.SEED >= 0 else random.SystemRandom().randrange(2 ** 31)
        self.seed = int(du.broadcast_object(seed))
        set_random_seed(self.seed)
        self.start_epoch = self.epoch = 0
        self.max_epoch = cfg.OPTIM.MAX_EPOCH
        self.output_dir = cfg.OUTPUT_DIR
        self._best_result = -np.inf
        self.feature_cache = None
        self.final_results = None
        self.train_end_done = False
        self._learner_begun = False
        self.loss_summary = {}
        self._models, self._optims, self._scheds = OrderedDict(), OrderedDict(), OrderedDict()
        self._writer = None
        self._hooks = []
        self._resume_done = False
        self.checkpointer = Checkpointer(self)
        self.log = (lambda msg: logger.info(msg)) if self.is_main else (lambda msg: None)
        prec = self.precision
        if prec not in PRECISIONS:
            raise ConfigError(f"TRAINER.{self.cfg_node}.PREC must be fp32, fp16 or bf16, got {prec!r}")
        self.check_unsupported_keys()
        self.build_data_loader()
        self.build_model()
        self.evaluator = build_evaluator(cfg, lab2cname=self.lab2cname, tasks=self.tasks,
                                         log=self.log if self.is_main else None)
        self.register_hooks(self.build_hooks())

    # ------------------------------------------------------------------ building
    def build_clip_provider(self):
        return ClipProvider()

    def build_feature_store(self):
        return FeatureStore()

    def check_unsupported_keys(self):
        """Dassl keys that have no meaning for prompt learners: rejected when set, never ignored."""
        c = self.cfg
        bad = []
        if c.OPTIM.STAGED_LR:
            bad.append("OPTIM.STAGED_LR True (a prompt learner has one parameter group; use OPTIM.LR)")
        if c.MODEL.HEAD.NAME:
            bad.append(f"MODEL.HEAD.NAME {c.MODEL.HEAD.NAME!r} / --head (the classifier is CLIP's text side; "
                       "there is no head)")
        if bad:
            raise ConfigError(f"unsupported option {bad[0]}; remove it from the config / command line")

    @property
    def best_result(self):
        h = next((h for h in self._hooks if isinstance(h, BestValHook)), None)
        return h.best if h is not None else self._best_result

    @best_result.setter
    def best_result(self, value):
        h = next((h for h in self._hooks if isinstance(h, BestValHook)), None)
        if h is not None:
            h.best = value
        self._best_result = value

    @property
    def precision(self):
        node = self.cfg.TRAINER.get(self.cfg_node) if self.cfg_node else None
        prec = str(node.PREC) if node is not None and "PREC" in node else "fp32"
        device = getattr(self, "device", None)
        if prec in ("fp16", "amp") and device is not None and device.type == "cpu":
            # official configs say fp16 (a GPU setting); CPU fp16 autocast is many times slower than fp32
            if not getattr(self, "_warned_prec", False):
                self._warned_prec = True
                self.log(f"TRAINER.{self.cfg_node}.PREC {prec} on CPU: training in fp32 instead (use bf16 for "
                         "mixed precision on CPU)")
            return "fp32"
        return prec

    def build_data_loader(self):
        """Create ``self.dm`` (``mvlpt.data.DataManager``) and the loaders, like Dassl."""
        from mvlpt.data import DataManager

        try:
            dm = DataManager(self.cfg, is_distributed=self.is_distributed)
        except KeyError as e:  # unknown dataset name from the registry
            raise ConfigError(str(e.args[0]) if e.args else str(e)) from e
        self.dm = dm
        self.train_loader_x = dm.train_loader_x
        self.val_loader = getattr(dm, "val_loader", None)
        self.test_loader = dm.test_loader
        self.num_classes = dm.num_classes
        self.lab2cname = dm.lab2cname
        self.classnames = list(dm.classnames)
        self.tasks = list(getattr(dm, "tasks", None) or [])

    def learner_spec(self):
        """``(learner name, kwargs)`` for :func:`mvlpt.prompts.build_learner`: the ``TRAINER.<NODE>`` keys
        lower-cased, then the learner's ``config_kwargs`` (e.g. ZS-CLIP's dataset template)."""
        from mvlpt.prompts.registry import get_method

        node = self.cfg.TRAINER[self.cfg_node]
        kwargs = {k.lower(): (tuple(v) if isinstance(v, list) else v) for k, v in node.items() if k != "PREC"}
        cls = get_method(self.learner_name).learner
        dataset = getattr(getattr(self, "dm", None), "dataset", None)
        return self.learner_name, cls.config_kwargs(kwargs, dataset=dataset, num_tasks=len(self.tasks))

    def build_clip(self):
        bb = self.cfg.MODEL.BACKBONE
        if not bb.NAME:
            raise ConfigError("no backbone given; pass --backbone ViT-B/16 or set MODEL.BACKBONE.NAME")
        try:
            return self.clip_provider(bb.NAME, pretrained=bb.PRETRAINED, device=self.device)
        except (KeyError, ValueError, FileNotFoundError, RuntimeError) as e:
            msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            raise ConfigError(msg.splitlines()[0] if msg else f"cannot load backbone {bb.NAME}") from e

    def build_model(self):
        """Frozen CLIP + prompt learner; optimizer and scheduler over the prompt parameters."""
        from mvlpt.clip.model import configure_tf32
        from mvlpt.prompts import build_learner

        configure_tf32(bool(self.cfg.TRAINER.get("ALLOW_TF32", True)), self.device)
        clip = self.build_clip()
        name, kwargs = self.learner_spec()
        self.log(f"Building {name} learner ({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
        try:
            learner = build_learner(name, clip, self.classnames, **kwargs)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"cannot build the {name} prompt learner: {str(e).splitlines()[0]}; "
                              f"check the TRAINER.{self.cfg_node} keys") from e
        if int(self.cfg.TRAINER.get("ACT_CKPT", 1)) > 1:  # MVLPT's key: checkpoint the encoder blocks
            learner.clip.grad_checkpointing = True
        if self.cfg.TRAINER.get("COMPILE", False):
            learner.clip.compile()
        learner.to(self.device)
        self.learner = self.model = learner
        self.model_name = getattr(learner, "official_model_name", None) or "prompt_learner"
        params = [p for _, p in learner.trainable_named_parameters()]
        self.has_trainable_params = bool(params)
        optim = sched = None
        if params:
            optim = build_optimizer(params, self.cfg.OPTIM)
            sched = build_lr_scheduler(optim, self.cfg.OPTIM, iters_per_epoch=self.iters_per_epoch())
        self.register_model(self.model_name, learner, optim, sched)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision in ("fp16", "amp")
                                           and bool(params))
        n = sum(p.numel() for p in params)
        self.log(f"Trainable prompt parameters: {n:,} ({self.model_name})")
        if self.cfg.MODEL.INIT_WEIGHTS:
            self.init_prompts_from(self.cfg.MODEL.INIT_WEIGHTS)

    def iters_per_epoch(self):
        """Optimizer steps per epoch on this rank (``len(train_loader_x)``; 1 when it has no length)."""
        try:
            return max(1, len(self.train_loader_x))
        except TypeError:
            return 1

    def learner_val_kwargs(self):
        """``{"val_features": (features (M, D), labels (M,))}`` when the learner sets ``needs_val_features``
        (the validation split through the frozen image encoder, encoded once and shared with validation),
        else ``{}`` (learners without the flag are called with their narrow signature)."""
        if not getattr(self.learner, "needs_val_features", False):
            return {}
        if getattr(self, "val_loader", None) is None:
            name = getattr(getattr(getattr(self, "dm", None), "dataset", None), "name", self.cfg.DATASET.NAME)
            raise ConfigError(f"the {self.learner_name} learner needs validation features (needs_val_features, "
                              f"e.g. TRAINER.{self.cfg_node}.SEARCH_HP True), but {name} has no validation split; "
                              f"use a data set with one or turn that option off")
        return {"val_features": val_features(self)}

    def begin_learner(self):
        """The learner's ``on_train_begin`` (once per trainer; training, or evaluation of a method that
        builds state from the training set, e.g. a cache model)."""
        if self._learner_begun:
            return
        self._learner_begun = True
        fn = None
        if getattr(self.learner, "needs_train_features", False):
            # a random train transform: every call is a new augmented pass (Tip-Adapter's augment_epoch passes);
            # a deterministic one: one encoding, shared with the training feature cache
            fresh = not getattr(getattr(self, "dm", None), "train_transform_is_deterministic", False)
            fn = lambda: train_features(self, with_labels=True, fresh=fresh)  # noqa: E731
        self.learner.on_train_begin(fn, **self.learner_val_kwargs())

    def register_model(self, name="model", model=None, optim=None, sched=None):
        self._models[name] = model
        self._optims[name] = optim
        self._scheds[name] = sched

    def get_model_names(self, names=None):
        names_real = list(self._models.keys())
        if names is not None:
            names = [names] if isinstance(names, str) else names
            return [n for n in names if n in names_real]
        return names_real

    def build_hooks(self):
        """The default hooks (order matters: seeding first, checkpoint after LR step and best-val)."""
        return [EpochSeedHook(), FeatureCacheHook(), TimerHook(), LRSchedulerHook(), LearnerHook(), BestValHook(),
                CheckpointHook(), LoggerHook()]

    def register_hooks(self, hooks):
        for h in hooks:
            assert isinstance(h, HookBase)
            h.trainer = self
            self._hooks.append(h)
            if isinstance(h, BestValHook) and h.best == -np.inf:
                h.best = self._best_result

    def call_hooks(self, stage):
        for h in self._hooks:
            getattr(h, stage)()

    # ------------------------------------------------------------------ precision / modes
    def set_model_mode(self, mode="train", names=None):
        for name in self.get_model_names(names):
            self._models[name].train(mode == "train")

    def update_lr(self, names=None):
        for name in self.get_model_names(names):
            if self._scheds[name] is not None:
                self._scheds[name].step()

    def get_current_lr(self, names=None):
        name = self.get_model_names(names)[0]
        opt = self._optims[name]
        return opt.param_groups[0]["lr"] if opt is not None else 0.0

    # ------------------------------------------------------------------ logging
    def init_writer(self, log_dir):
        if self._writer is None and self.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=log_dir)

    def close_writer(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write_scalar(self, tag, scalar_value, global_step=None):
        if self._writer is not None:
            self._writer.add_scalar(tag, scalar_value, global_step)

    # ------------------------------------------------------------------ training loop
    def train(self, start_epoch=None, max_epoch=None):
        """Generic loop: before_train, epochs (before_epoch, run_epoch, after_epoch), after_train."""
        if start_epoch is not None:
            self.start_epoch = start_epoch
        if max_epoch is not None:
            self.max_epoch = max_epoch
        self.before_train()
        for self.epoch in range(self.start_epoch, self.max_epoch):
            self.before_epoch()
            self.run_epoch()
            self.after_epoch()
        self.epoch = max(self.max_epoch - 1, 0)
        self.after_train()

    def before_train(self):
        if not self._resume_done:
            self.resume()
        self.init_writer(os.path.join(self.output_dir, "tensorboard"))
        self.time_start = time.time()
        self.call_hooks("before_train")

    def after_train(self):
        self.call_hooks("after_train")
        self.log("Finish training")
        if not self.cfg.TEST.NO_TEST:
            if self.cfg.TEST.FINAL_MODEL == "best_val":
                self.log("Deploy the model with the best val performance")
                self.load_model(self.output_dir)
            else:
                self.log("Deploy the last-epoch model")
            self.test()
        elapsed = datetime.timedelta(seconds=round(time.time() - self.time_start))
        self.log(f"Elapsed: {elapsed}")
        self.close_writer()

    def before_epoch(self):
        self.call_hooks("before_epoch")

    def after_epoch(self):
        self.call_hooks("after_epoch")

    def run_epoch(self):
        self.set_model_mode("train")
        self.num_batches = len(self.train_loader_x)
        it = tqdm(self.train_loader_x, disable=None if self.is_main else True, leave=False,
                  desc=f"epoch {self.epoch + 1}/{self.max_epoch}", dynamic_ncols=True)
        for self.batch_idx, batch in enumerate(it):
            self.call_hooks("before_step")
            self.loss_summary = self.forward_backward(batch)
            self.call_hooks("after_step")


    # ------------------------------------------------------------------ checkpoints (see checkpointer.py)
    def save_model(self, epoch, directory, is_best=False, val_result=None, model_name=""):
        """Write ``<directory>/<name>/model.pth.tar-<epoch+1>`` (or ``model_name``) atomically (rank 0)."""
        self.checkpointer.save(epoch, directory, is_best=is_best, val_result=val_result, model_name=model_name)

    def resume(self):
        """Resume from ``RESUME`` (or ``OUTPUT_DIR``) once; sets ``start_epoch``."""
        self.start_epoch = self.resume_model_if_exist(self.cfg.RESUME or self.output_dir)
        self._resume_done = True
        return self.start_epoch

    def resume_model_if_exist(self, directory):
        """Resume from ``directory/<name>/checkpoint`` if present; returns the epoch to start from."""
        return self.checkpointer.resume(directory)

    def load_model(self, directory, epoch=None):
        """Load weights for evaluation: ``model.pth.tar-<epoch>``, else ``model-best.pth.tar``, else the latest."""
        self.checkpointer.load_model(directory, epoch=epoch)

    def init_prompts_from(self, path_or_dir, epoch=None):
        """Initialise prompts from another run (MVLPT source -> target hand-off) before training."""
        self.checkpointer.init_from(path_or_dir, epoch=epoch)

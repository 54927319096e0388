"""A small Dassl-style ``TrainerX`` for prompt learners over a frozen CLIP.

Same method names as Dassl (``build_data_loader``, ``build_model``, ``register_model``,
``forward_backward``, ``model_inference``, ``parse_batch_train/test``, ``test``, ``train``,
``before/after_train``, ``before/after_epoch``, ``run_epoch``, ``save_model``, ``load_model``,
``resume_model_if_exist``, ``update_lr``, ``get_current_lr``); the per-epoch work is done by hooks
(:mod:`mvlpt.engine.hooks`). A method trainer only sets ``learner_name`` and ``cfg_node`` (or
overrides :meth:`TrainerX.learner_spec`).

Exactness: every epoch starts by reseeding all RNGs from ``(seed, epoch)``; checkpoints hold the
prompt tensors, optimizer, scheduler, grad scaler and RNG states. A run killed at any moment and
rerun with the same command resumes from the last epoch-end checkpoint and ends bit-identical to an
uninterrupted run (CPU, fixed seed).
"""
import contextlib
import datetime
import json
import logging
import os
import random
import re
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from mvlpt.engine import dist as du
from mvlpt.engine.checkpoint import FORMAT, get_rng_state, latest_file, read_checkpoint, set_rng_state, write_tag
from mvlpt.engine.errors import CheckpointError, ConfigError, NonFiniteLossError
from mvlpt.engine.evaluator import build_evaluator
from mvlpt.engine.hooks import (BestValHook, CheckpointHook, EpochSeedHook, FeatureCacheHook,
                                HookBase, LoggerHook, LRSchedulerHook, TimerHook)
from mvlpt.engine.optim import build_lr_scheduler, build_optimizer
from mvlpt.utils import atomic_torch_save, atomic_write_bytes

logger = logging.getLogger("mvlpt")

PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16, "amp": torch.float16}


def compute_accuracy(output, target):
    """Top-1 accuracy in percent."""
    return float((output.argmax(1) == target).float().mean() * 100)


def set_random_seed(seed):
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


class TrainerX:
    """Trainer for one prompt learner with labelled data (Dassl's ``TrainerX`` shape).

    Subclasses (one per method, see :mod:`mvlpt.trainers`) define ``learner_name`` (a key of
    :data:`mvlpt.prompts.LEARNERS`) and ``cfg_node`` (``"COOP"`` -> ``cfg.TRAINER.COOP``), whose keys
    are passed lower-cased as the learner's constructor arguments (``PREC`` excluded).
    """

    learner_name = None
    cfg_node = None

    def __init__(self, cfg):
        self.cfg = cfg
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
        self.best_result = -np.inf
        self.feature_cache = None
        self._eval_cache = {}
        self.final_results = None
        self.loss_summary = {}
        self._models, self._optims, self._scheds = OrderedDict(), OrderedDict(), OrderedDict()
        self._writer = None
        self._hooks = []
        self._resume_done = False
        self.log = (lambda msg: logger.info(msg)) if self.is_main else (lambda msg: None)
        prec = self.precision
        if prec not in PRECISIONS:
            raise ConfigError(f"TRAINER.{self.cfg_node}.PREC must be fp32, fp16 or bf16, got {prec!r}")
        self.build_data_loader()
        self.build_model()
        self.evaluator = build_evaluator(cfg, lab2cname=self.lab2cname, tasks=self.tasks,
                                         log=self.log if self.is_main else None)
        self.register_hooks(self.build_hooks())

    # ------------------------------------------------------------------ building
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
        """``(learner name, kwargs)`` for :func:`mvlpt.prompts.build_learner`."""
        node = self.cfg.TRAINER[self.cfg_node]
        kwargs = {}
        for k, v in node.items():
            if k == "PREC":
                continue
            kwargs[k.lower()] = tuple(v) if isinstance(v, list) else v
        return self.learner_name, kwargs

    def build_clip(self):
        from mvlpt.clip import load_clip

        bb = self.cfg.MODEL.BACKBONE
        if not bb.NAME:
            raise ConfigError("no backbone given; pass --backbone ViT-B/16 or set MODEL.BACKBONE.NAME")
        try:
            return load_clip(bb.NAME, pretrained=bb.PRETRAINED, device=self.device)
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
            sched = build_lr_scheduler(optim, self.cfg.OPTIM)
        self.register_model(self.model_name, learner, optim, sched)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision in ("fp16", "amp")
                                           and bool(params))
        n = sum(p.numel() for p in params)
        self.log(f"Trainable prompt parameters: {n:,} ({self.model_name})")
        if self.cfg.MODEL.INIT_WEIGHTS:
            self.init_prompts_from(self.cfg.MODEL.INIT_WEIGHTS)

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
        return [EpochSeedHook(), FeatureCacheHook(), TimerHook(), LRSchedulerHook(), BestValHook(),
                CheckpointHook(), LoggerHook()]

    def register_hooks(self, hooks):
        for h in hooks:
            assert isinstance(h, HookBase)
            h.trainer = self
            self._hooks.append(h)

    def call_hooks(self, stage):
        for h in self._hooks:
            getattr(h, stage)()

    # ------------------------------------------------------------------ precision / modes
    def autocast(self):
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

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

    def parse_batch_train(self, batch):
        img = batch["img"].to(self.device)
        label = batch["label"].to(self.device)
        task = batch.get("task")
        index = batch.get("index")
        return img, label, task, index

    def compute_loss(self, output, label, task=None):
        output = output.float()
        if len(self.tasks) > 1 and task is not None:
            from mvlpt.data.multitask import multitask_loss, multitask_loss_mode

            return multitask_loss(output, label, task.to(output.device), self.tasks,
                                  mode=multitask_loss_mode(self.cfg))
        return F.cross_entropy(output, label)

    def forward_backward(self, batch):
        img, label, task, index = self.parse_batch_train(batch)
        with self.autocast():
            if self.feature_cache is not None and index is not None:
                feats = self.feature_cache[torch.as_tensor(index).long().to(self.device)]
                output = self.learner(image_features=feats)
            else:
                output = self.learner(img)
            loss = self.compute_loss(output, label, task)
        self.model_backward_and_update(loss)
        return {"loss": float(loss.detach()), "acc": compute_accuracy(output.detach(), label)}

    def check_finite(self, loss):
        """NaN guard: stop before the bad update; the last good checkpoint stays in place."""
        bad = torch.tensor([0.0 if torch.isfinite(loss.detach()).all() else 1.0])
        bad = du.all_reduce_sum(bad)
        if float(bad) > 0:
            step = self.epoch * getattr(self, "num_batches", 0) + getattr(self, "batch_idx", 0) + 1
            d = os.path.join(self.output_dir, self.model_name)
            good = latest_file(d) if self.is_main else None
            keep = (f"the last good checkpoint is {good}" if good
                    else "no checkpoint was written yet")
            raise NonFiniteLossError(
                f"training diverged: loss is {float(loss.detach())} at epoch {self.epoch + 1}/"
                f"{self.max_epoch}, batch {getattr(self, 'batch_idx', 0) + 1}/{getattr(self, 'num_batches', 0)} "
                f"(step {step}); {keep}. Lower OPTIM.LR or use PREC fp32, then rerun (it resumes)")

    def model_backward_and_update(self, loss, names=None):
        self.check_finite(loss)
        names = self.get_model_names(names)
        for n in names:
            if self._optims[n] is not None:
                self._optims[n].zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.is_distributed:
            for n in names:
                for p in self._models[n].parameters():
                    if p.requires_grad and p.grad is not None:
                        du.all_reduce_mean_(p.grad)
        for n in names:
            if self._optims[n] is not None:
                self.scaler.step(self._optims[n])
        self.scaler.update()

    # ------------------------------------------------------------------ evaluation
    def parse_batch_test(self, batch):
        return (batch["img"].to(self.device), batch["label"].to(self.device), batch.get("task"),
                batch.get("index"))

    def model_inference(self, input):
        return self.learner(input)

    @property
    def caches_image_features(self):
        """The image side cannot change (no visual prompt trains) and caching is on."""
        return (not getattr(self.learner, "vision_trainable", True)
                and bool(self.cfg.TRAINER.get("CACHE_FEATURES", True)))

    def _eval_features(self, split, loader):
        """(features, labels, tasks, indices) of a split, encoded once and reused by every later
        evaluation: evaluation transforms are deterministic, and the image encoder is frozen."""
        if split not in self._eval_cache:
            parts = [[], [], [], []]
            for batch in tqdm(loader, disable=None if self.is_main else True, leave=False, desc=f"{split} features"):
                img, label, task, index = self.parse_batch_test(batch)
                with self.autocast():
                    parts[0].append(self.learner.encode_images(img))
                parts[1].append(label)
                parts[2].append(None if task is None else torch.as_tensor(task))
                parts[3].append(None if index is None else torch.as_tensor(index))
            self._eval_cache[split] = [None if not p or p[0] is None else torch.cat(p) for p in parts]
        return self._eval_cache[split]

    def _eval_batches(self, split, loader):
        """Yield (logits, label, task, index) per batch; from cached image features when possible."""
        if not self.caches_image_features:
            for batch in tqdm(loader, disable=None if self.is_main else True, leave=False, desc=split):
                img, label, task, index = self.parse_batch_test(batch)
                with self.autocast():
                    yield self.model_inference(img), label, task, index
            return
        feats, labels, tasks, indices = self._eval_features(split, loader)
        if feats is None:  # empty split
            return
        bs = max(1, int(self.cfg.DATALOADER.TEST.BATCH_SIZE))
        for s in range(0, feats.shape[0], bs):
            with self.autocast():
                out = self.learner(image_features=feats[s:s + bs])
            yield (out, labels[s:s + bs], None if tasks is None else tasks[s:s + bs],
                   None if indices is None else indices[s:s + bs])

    @torch.no_grad()
    def test(self, split=None):
        """Evaluate on ``split`` (``TEST.SPLIT`` by default); returns the first metric (accuracy)."""
        self.set_model_mode("eval")
        self.evaluator.reset()
        split = split or self.cfg.TEST.SPLIT
        if split == "val" and self.val_loader is not None:
            loader = self.val_loader
        else:
            split, loader = "test", self.test_loader
        self.log(f"Evaluate on the *{split}* set")
        for output, label, task, index in self._eval_batches(split, loader):
            self.evaluator.process(output, label, task, index)
        if self.is_distributed:
            states = du.all_gather_object(self.evaluator.state())
            self.evaluator.load_state(du.merge_eval_states(states))
        results = self.evaluator.evaluate()
        for k, v in results.items():
            self.write_scalar(f"{split}/{k}", v, self.epoch)
        self.set_model_mode("train")
        if split == "test":
            self.final_results = OrderedDict((k, float(v)) for k, v in results.items())
            if self.is_main:
                atomic_write_bytes(os.path.join(self.output_dir, "results.json"),
                                   json.dumps({"split": split, "epoch": self.epoch + 1,
                                               **self.final_results}, indent=1).encode())
        return list(results.values())[0]

    # ------------------------------------------------------------------ checkpoints
    def _is_kept(self, epoch_num):
        freq = self.cfg.TRAIN.CHECKPOINT_FREQ
        return epoch_num == self.max_epoch or (freq > 0 and epoch_num % freq == 0)

    def save_model(self, epoch, directory, is_best=False, val_result=None, model_name=""):
        """Write ``<directory>/<name>/model.pth.tar-<epoch+1>`` (or ``model_name``) atomically (rank 0)."""
        if self.is_main:
            for name in self.get_model_names():
                d = os.path.join(directory, name)
                os.makedirs(d, exist_ok=True)
                optim, sched = self._optims[name], self._scheds[name]
                state = {
                    "state_dict": self._models[name].prompt_state_dict(),
                    "epoch": epoch + 1,
                    "optimizer": optim.state_dict() if optim is not None else None,
                    "scheduler": sched.state_dict() if sched is not None else None,
                    "val_result": val_result,
                    "format": FORMAT,
                    "trainer": self.cfg.TRAINER.NAME or type(self).__name__,
                    "learner": type(self._models[name]).__name__,
                    "classnames": list(self.classnames),
                    "seed": self.seed,
                    "best_result": float(self.best_result),
                    "scaler": self.scaler.state_dict(),
                    "rng": get_rng_state(),
                    "config": self.cfg.dump(),
                }
                fname = model_name or f"model.pth.tar-{epoch + 1}"
                atomic_torch_save(state, os.path.join(d, fname))
                if not model_name:
                    write_tag(d, fname)
                    if is_best:
                        atomic_torch_save(state, os.path.join(d, "model-best.pth.tar"))
                    for f in os.listdir(d):  # drop rolling checkpoints that are not to be kept
                        m = re.fullmatch(r"model\.pth\.tar-(\d+)", f)
                        if m and int(m.group(1)) < epoch + 1 and not self._is_kept(int(m.group(1))):
                            os.unlink(os.path.join(d, f))
        du.barrier()

    def _check_owner(self, ckpt, path):
        trainer = ckpt.get("trainer") if isinstance(ckpt, dict) else None
        mine = self.cfg.TRAINER.NAME or type(self).__name__
        if trainer and trainer != mine:
            raise CheckpointError(f"{path} was written by trainer {trainer}, but this run uses {mine}; "
                                  f"pass --trainer {trainer} or point to a {mine} checkpoint")

    def _load_state_dict(self, name, sd, path):
        sd = {k: v for k, v in sd.items() if k not in ("token_prefix", "token_suffix")}
        try:
            return self._models[name].load_prompt_state(sd)
        except ValueError as e:
            raise CheckpointError(f"{path} does not fit this model: {str(e).splitlines()[0]}; it was "
                                  f"saved by another method or with other TRAINER settings/classes") from None

    def resume(self):
        """Resume from ``RESUME`` (or ``OUTPUT_DIR``) once; sets ``start_epoch``."""
        self.start_epoch = self.resume_model_if_exist(self.cfg.RESUME or self.output_dir)
        self._resume_done = True
        return self.start_epoch

    def resume_model_if_exist(self, directory):
        """Resume from ``directory/<name>/checkpoint`` if present; returns the epoch to start from."""
        names = self.get_model_names()
        paths = [latest_file(os.path.join(directory, n)) for n in names]
        if not all(paths):
            if self.cfg.RESUME and directory == self.cfg.RESUME:
                raise CheckpointError(f"--resume {directory}: no checkpoint found (expected "
                                      f"{os.path.join(directory, names[0], 'checkpoint')})")
            self.log("No checkpoint found, train from scratch")
            return 0
        start_epoch = 0
        for name, path in zip(names, paths):
            ckpt = read_checkpoint(path)
            self._check_owner(ckpt, path)
            self._load_state_dict(name, ckpt["state_dict"], path)
            try:
                if self._optims[name] is not None and ckpt.get("optimizer"):
                    self._optims[name].load_state_dict(ckpt["optimizer"])
                if self._scheds[name] is not None and ckpt.get("scheduler"):
                    self._scheds[name].load_state_dict(ckpt["scheduler"])
            except (ValueError, KeyError) as e:
                raise CheckpointError(f"{path}: optimizer/scheduler state does not fit ({e}); "
                                      f"use the OPTIM settings of that run or a fresh --output-dir") from None
            if ckpt.get("scaler"):
                self.scaler.load_state_dict(ckpt["scaler"])
            if ckpt.get("seed") is not None:
                self.seed = int(ckpt["seed"])
            if ckpt.get("best_result") is not None:
                self.best_result = float(ckpt["best_result"])
            set_rng_state(ckpt.get("rng"))
            start_epoch = int(ckpt["epoch"])
            self.log(f"Resumed {name} from {path} (epoch {start_epoch})")
        return start_epoch

    def load_model(self, directory, epoch=None):
        """Load weights for evaluation: ``model.pth.tar-<epoch>``, else ``model-best.pth.tar``, else the latest."""
        if not directory:
            self.log("Note that load_model() is skipped as no pretrained model is given")
            return
        for name in self.get_model_names():
            d = os.path.join(directory, name)
            if epoch is not None:
                path = os.path.join(d, f"model.pth.tar-{epoch}")
            elif os.path.isfile(os.path.join(d, "model-best.pth.tar")):
                path = os.path.join(d, "model-best.pth.tar")
            else:
                path = latest_file(d) or os.path.join(d, "model-best.pth.tar")
            if not os.path.isfile(path):
                avail = sorted(os.listdir(d)) if os.path.isdir(d) else []
                raise CheckpointError(f"model not found: {path}"
                                      + (f" (available: {', '.join(avail)})" if avail else
                                         f"; --model-dir must contain {name}/model.pth.tar-N"))
            ckpt = read_checkpoint(path)
            self._check_owner(ckpt, path)
            sd = ckpt["state_dict"] if isinstance(ckpt, dict) and "state_dict" in ckpt else ckpt
            self._load_state_dict(name, sd, path)
            self.log(f'Load {path} to {name} (epoch={ckpt.get("epoch") if isinstance(ckpt, dict) else "?"}, '
                     f'val_result={ckpt.get("val_result") if isinstance(ckpt, dict) else None})')

    def init_prompts_from(self, path_or_dir, epoch=None):
        """Initialise prompts from another run (MVLPT source -> target hand-off) before training.

        Tensors whose shape depends on the class list (e.g. class-specific contexts) are skipped when
        they do not fit; everything else must match. Logs what was loaded and what was skipped.
        """
        for name in self.get_model_names():
            if os.path.isdir(path_or_dir):
                d = os.path.join(path_or_dir, name)
                path = (os.path.join(d, f"model.pth.tar-{epoch}") if epoch is not None else
                        (os.path.join(d, "model-best.pth.tar")
                         if os.path.isfile(os.path.join(d, "model-best.pth.tar")) else latest_file(d)))
                if not path or not os.path.isfile(path):
                    raise CheckpointError(f"no checkpoint to initialise from in {d} (expected "
                                          f"model.pth.tar-N and a 'checkpoint' file)")
            else:
                path = path_or_dir
            ckpt = read_checkpoint(path)
            self._check_owner(ckpt, path)
            sd = ckpt["state_dict"] if isinstance(ckpt, dict) and "state_dict" in ckpt else ckpt
            sd = {k: v for k, v in sd.items() if k not in ("token_prefix", "token_suffix")}
            learner = self._models[name]
            try:
                loaded = learner.load_prompt_state(sd)
                self.log(f"Initialised {name} from {path}: loaded {', '.join(loaded)}")
                continue
            except ValueError:
                pass
            norm = learner._normalise_keys(sd) if hasattr(learner, "_normalise_keys") else sd
            own = dict(learner.trainable_named_parameters())
            unknown = sorted(set(norm) - set(own))
            if unknown:
                raise CheckpointError(f"{path} does not fit {type(learner).__name__}: unexpected keys "
                                      f"{unknown}; it was saved by another method")
            fit = {k: v for k, v in norm.items() if tuple(v.shape) == tuple(own[k].shape)}
            skipped = sorted(f"{k} {tuple(norm[k].shape)}->{tuple(own[k].shape)}" for k in norm if k not in fit)
            if not fit:
                raise CheckpointError(f"{path}: no prompt tensor fits this model ({'; '.join(skipped)}); "
                                      f"class-specific prompts cannot move to another class list")
            learner.load_prompt_state(fit, strict=False)
            self.log(f"Initialised {name} from {path}: loaded {', '.join(sorted(fit))}; skipped "
                     f"(class-dependent shape) {', '.join(skipped)}")

"""Optimizers and learning-rate schedules with Dassl's semantics.

Schedules are stepped once per epoch, after the epoch's last batch (as Dassl's trainers do); with
``OPTIM.SCHED_PER_ITER = True`` once per iteration instead, after each optimizer step, and every length
is counted in iterations (``n = iters_per_epoch``): cosine ``T_max = MAX_EPOCH·n``, step sizes and
milestones ``STEPSIZE·n``, warmup ``WARMUP_EPOCH·n`` iterations. After ``k`` iterations the cosine LR is
``LR·(1 + cos(pi·k / (MAX_EPOCH·n))) / 2`` (torch's ``CosineAnnealingLR``; the official Tip-Adapter-F).
With ``WARMUP_EPOCH = W > 0`` and ``WARMUP_RECOUNT = True`` the learning rate of epoch ``e`` is

* constant warmup: ``WARMUP_CONS_LR`` for ``e < W``;
* linear warmup: ``WARMUP_MIN_LR`` for ``e = 0``, ``LR * e / W`` for ``0 < e < W``;
* afterwards the wrapped schedule starts from its own epoch 0, i.e. cosine gives
  ``LR * (1 + cos(pi * (e - W) / MAX_EPOCH)) / 2`` -- as if the warmup never happened
  (``T_max`` stays ``MAX_EPOCH``), exactly like ``dassl.optim.lr_scheduler``.

The wrapped schedule is torch's own (``CosineAnnealingLR``/``StepLR``/``MultiStepLR``) so the values
are bit-identical to Dassl's. Unlike Dassl, ``state_dict()`` holds the successor's state (not the
object), so checkpoints load with ``torch.load(weights_only=True)``.
"""
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, MultiStepLR, StepLR

from mvlpt.errors import ConfigError

AVAI_OPTIMS = ("sgd", "adam", "adamw", "rmsprop")
AVAI_SCHEDULERS = ("single_step", "multi_step", "cosine")


def build_optimizer(params, optim_cfg):
    """``params``: iterable of tensors or param-group dicts; ``optim_cfg``: the ``OPTIM`` node."""
    name = optim_cfg.NAME.lower()
    params = list(params)
    if not params:
        raise ConfigError("the model has no trainable parameters to optimise; this trainer only "
                          "evaluates (use --eval-only or TRAINER.NAME ZeroshotCLIP with --eval-only)")
    lr, wd = optim_cfg.LR, optim_cfg.WEIGHT_DECAY
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=wd,
                               dampening=optim_cfg.SGD_DAMPNING, nesterov=optim_cfg.SGD_NESTEROV)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd,
                                betas=(optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2),
                                eps=float(optim_cfg.get("ADAM_EPS", 1e-8)))
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd,
                                 betas=(optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2),
                                 eps=float(optim_cfg.get("ADAM_EPS", 1e-8)))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=wd,
                                   alpha=optim_cfg.RMSPROP_ALPHA)
    raise ConfigError(f"unknown OPTIM.NAME {optim_cfg.NAME!r}; use one of {', '.join(AVAI_OPTIMS)}")


class _WarmupScheduler(LRScheduler):
    """Warmup for ``warmup_epoch`` epochs, then hands over to ``successor`` (Dassl semantics)."""

    def __init__(self, optimizer, successor, warmup_epoch, last_epoch=-1):
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        super().__init__(optimizer, last_epoch)

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)

    def state_dict(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "successor")}
        state["successor"] = self.successor.state_dict()
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        succ = state.pop("successor", None)
        if succ is not None:  # ours: a dict; Dassl's checkpoints pickle the scheduler object
            if not isinstance(succ, dict):  # an official file's pickled scheduler: its recorded fields
                from mvlpt.safeload import inert_state

                succ = {k: v for k, v in inert_state(succ).items() if k != "optimizer"}
            self.successor.load_state_dict(succ)
        state.pop("verbose", None)
        self.__dict__.update(state)


class ConstantWarmupScheduler(_WarmupScheduler):
    """``cons_lr`` during warmup (Dassl's ``ConstantWarmupScheduler``)."""

    def __init__(self, optimizer, successor, warmup_epoch, cons_lr, last_epoch=-1):
        self.cons_lr = cons_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]


class LinearWarmupScheduler(_WarmupScheduler):
    """``min_lr`` at epoch 0, then ``base_lr * epoch / warmup_epoch`` (Dassl's ``LinearWarmupScheduler``)."""

    def __init__(self, optimizer, successor, warmup_epoch, min_lr, last_epoch=-1):
        self.min_lr = min_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        if self.last_epoch == 0:
            return [self.min_lr for _ in self.base_lrs]
        return [lr * self.last_epoch / self.warmup_epoch for lr in self.base_lrs]


def build_lr_scheduler(optimizer, optim_cfg, iters_per_epoch: int = 1):
    """Dassl's ``build_lr_scheduler``: single_step / multi_step / cosine, optional warmup. With
    ``OPTIM.SCHED_PER_ITER`` every length is multiplied by ``iters_per_epoch`` (the caller then steps the
    scheduler after every iteration); otherwise ``iters_per_epoch`` is ignored."""
    name = optim_cfg.LR_SCHEDULER
    n = max(1, int(iters_per_epoch)) if optim_cfg.get("SCHED_PER_ITER", False) else 1
    stepsize = optim_cfg.STEPSIZE
    if n > 1:
        stepsize = ([s * n for s in stepsize] if isinstance(stepsize, (list, tuple))
                    else stepsize * n if isinstance(stepsize, int) else stepsize)
    max_epoch = optim_cfg.MAX_EPOCH * n
    warmup = optim_cfg.WARMUP_EPOCH * n if optim_cfg.WARMUP_EPOCH > 0 else optim_cfg.WARMUP_EPOCH
    if name == "single_step":
        if isinstance(stepsize, (list, tuple)):
            stepsize = stepsize[-1]
        if not isinstance(stepsize, int):
            raise ConfigError(f"OPTIM.STEPSIZE must be an integer for single_step, got {stepsize!r}")
        if stepsize <= 0:
            stepsize = max_epoch
        scheduler = StepLR(optimizer, step_size=stepsize, gamma=optim_cfg.GAMMA)
    elif name == "multi_step":
        if not isinstance(stepsize, (list, tuple)):
            raise ConfigError(f"OPTIM.STEPSIZE must be a list for multi_step, got {stepsize!r}")
        scheduler = MultiStepLR(optimizer, milestones=list(stepsize), gamma=optim_cfg.GAMMA)
    elif name == "cosine":
        scheduler = CosineAnnealingLR(optimizer, T_max=float(max_epoch))
    else:
        raise ConfigError(f"unknown OPTIM.LR_SCHEDULER {name!r}; use one of {', '.join(AVAI_SCHEDULERS)}")

    if warmup > 0:
        if not optim_cfg.WARMUP_RECOUNT:
            scheduler.last_epoch = warmup
        if optim_cfg.WARMUP_TYPE == "constant":
            scheduler = ConstantWarmupScheduler(optimizer, scheduler, warmup, optim_cfg.WARMUP_CONS_LR)
        elif optim_cfg.WARMUP_TYPE == "linear":
            scheduler = LinearWarmupScheduler(optimizer, scheduler, warmup, optim_cfg.WARMUP_MIN_LR)
        else:
            raise ConfigError(f"unknown OPTIM.WARMUP_TYPE {optim_cfg.WARMUP_TYPE!r}; use constant or linear")
    return scheduler

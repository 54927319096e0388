"""The one checkpointer of :class:`~mvlpt.engine.TrainerX`: save, resume, load for evaluation, initialise
from another run. Every path goes through :func:`mvlpt.engine.checkpoint.resolve_checkpoint`, every read
through :func:`mvlpt.engine.checkpoint.read_checkpoint`.

A checkpoint holds, besides Dassl's keys (``state_dict``, ``epoch``, ``optimizer``, ``scheduler``,
``val_result``): ``procedure`` (the learner's :meth:`~mvlpt.prompts.PromptLearner.procedure_state`),
``hooks`` (each hook's ``state_dict()``, by class name), ``train_end_done``, ``scaler``, ``rng``,
``seed``, ``config``, ``trainer``, ``learner``, ``classnames``, ``format``.
"""
import os
import re

from mvlpt.engine import dist as du
from mvlpt.engine.checkpoint import (FORMAT, get_rng_state, read_checkpoint, resolve_checkpoint, set_rng_state,
                                     write_tag)
from mvlpt.errors import CheckpointError
from mvlpt.utils import atomic_torch_save

_BUFFERS = ("token_prefix", "token_suffix")


def _state_dict_of(ckpt):
    return ckpt["state_dict"] if isinstance(ckpt, dict) and "state_dict" in ckpt else ckpt


class Checkpointer:
    def __init__(self, trainer):
        self.t = trainer
        self.resumed = None  # the checkpoint dicts a resume restored (re-applied after on_train_begin)

    # ------------------------------------------------------------------ writing
    def _is_kept(self, epoch_num):
        freq = self.t.cfg.TRAIN.CHECKPOINT_FREQ
        return epoch_num == self.t.max_epoch or (freq > 0 and epoch_num % freq == 0)

    def state(self, name, epoch, val_result=None):
        t = self.t
        optim, sched = t._optims[name], t._scheds[name]
        model = t._models[name]
        return {
            "state_dict": model.prompt_state_dict(),
            "epoch": epoch + 1,
            "optimizer": optim.state_dict() if optim is not None else None,
            "scheduler": sched.state_dict() if sched is not None else None,
            "val_result": val_result,
            "format": FORMAT,
            "trainer": t.cfg.TRAINER.NAME or type(t).__name__,
            "learner": type(model).__name__,
            "classnames": list(t.classnames),
            "seed": t.seed,
            "best_result": float(t.best_result),
            "procedure": model.procedure_state() if hasattr(model, "procedure_state") else {},
            "hooks": {type(h).__name__: h.state_dict() for h in t._hooks if h.state_dict()},
            "train_end_done": bool(getattr(t, "train_end_done", False)),
            "scaler": t.scaler.state_dict(),
            "rng": get_rng_state(),
            "config": t.cfg.dump(),
        }

    def save(self, epoch, directory, is_best=False, val_result=None, model_name=""):
        """``<directory>/<name>/model.pth.tar-<epoch+1>`` (or ``model_name``), atomically, on rank 0."""
        t = self.t
        if t.is_main:
            for name in t.get_model_names():
                d = os.path.join(directory, name)
                os.makedirs(d, exist_ok=True)
                state = self.state(name, epoch, val_result)
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

    # ------------------------------------------------------------------ reading
    def check_owner(self, ckpt, path):
        trainer = ckpt.get("trainer") if isinstance(ckpt, dict) else None
        mine = self.t.cfg.TRAINER.NAME or type(self.t).__name__
        if trainer and trainer != mine:
            raise CheckpointError(f"{path} was written by trainer {trainer}, but this run uses {mine}; "
                                  f"pass --trainer {trainer} or point to a {mine} checkpoint")

    def load_state_dict(self, name, sd, path):
        sd = {k: v for k, v in sd.items() if k not in _BUFFERS}
        try:
            return self.t._models[name].load_prompt_state(sd)
        except ValueError as e:
            raise CheckpointError(f"{path} does not fit this model: {str(e).splitlines()[0]}; it was "
                                  f"saved by another method or with other TRAINER settings/classes") from None

    def resume(self, directory):
        """Restore everything from ``directory/<name>/checkpoint``; returns the epoch to start from."""
        t = self.t
        names = t.get_model_names()
        paths = [resolve_checkpoint(directory, n, fallback_highest=False) for n in names]
        if not all(paths):
            if t.cfg.RESUME and directory == t.cfg.RESUME:
                raise CheckpointError(f"--resume {directory}: no checkpoint found (expected "
                                      f"{os.path.join(directory, names[0], 'checkpoint')})")
            t.log("No checkpoint found, train from scratch")
            return 0
        start_epoch = 0
        self.resumed = {}
        for name, path in zip(names, paths):
            ckpt = read_checkpoint(path)
            self.check_owner(ckpt, path)
            self.apply_model_state(name, ckpt, path)
            try:
                if t._optims[name] is not None and ckpt.get("optimizer"):
                    t._optims[name].load_state_dict(ckpt["optimizer"])
                if t._scheds[name] is not None and ckpt.get("scheduler"):
                    t._scheds[name].load_state_dict(ckpt["scheduler"])
            except (ValueError, KeyError) as e:
                raise CheckpointError(f"{path}: optimizer/scheduler state does not fit ({e}); "
                                      f"use the OPTIM settings of that run or a fresh --output-dir") from None
            if ckpt.get("scaler"):
                t.scaler.load_state_dict(ckpt["scaler"])
            if ckpt.get("seed") is not None:
                t.seed = int(ckpt["seed"])
            hooks = ckpt.get("hooks") or {}
            for h in t._hooks:
                if type(h).__name__ in hooks:
                    h.load_state_dict(hooks[type(h).__name__])
            if not hooks.get("BestValHook") and ckpt.get("best_result") is not None:  # older files
                t.best_result = float(ckpt["best_result"])
            t.train_end_done = bool(ckpt.get("train_end_done", False))
            set_rng_state(ckpt.get("rng"))
            start_epoch = int(ckpt["epoch"])
            self.resumed[name] = (ckpt, path)
            t.log(f"Resumed {name} from {path} (epoch {start_epoch})")
        return start_epoch

    def apply_model_state(self, name, ckpt, path):
        """Prompt tensors and the learner's procedure state of a checkpoint."""
        self.load_state_dict(name, _state_dict_of(ckpt), path)
        model = self.t._models[name]
        if isinstance(ckpt, dict) and ckpt.get("procedure") and hasattr(model, "load_procedure_state"):
            model.load_procedure_state(ckpt["procedure"])

    def reapply_resumed(self):
        """After the learner's ``on_train_begin`` on a resumed run: the checkpoint's state wins."""
        for name, (ckpt, path) in (self.resumed or {}).items():
            self.apply_model_state(name, ckpt, path)

    def load_model(self, directory, epoch=None):
        """Weights for evaluation: ``model.pth.tar-<epoch>``, else ``model-best.pth.tar``, else the latest."""
        t = self.t
        if not directory:
            t.log("Note that load_model() is skipped as no pretrained model is given")
            return
        for name in t.get_model_names():
            path = resolve_checkpoint(directory, name, epoch=epoch, prefer_best=True, fallback_highest=False)
            if not path:
                d = os.path.join(directory, name)
                want = os.path.join(d, f"model.pth.tar-{epoch}" if epoch is not None else "model-best.pth.tar")
                avail = sorted(os.listdir(d)) if os.path.isdir(d) else []
                raise CheckpointError(f"model not found: {want}"
                                      + (f" (available: {', '.join(avail)})" if avail else
                                         f"; --model-dir must contain {name}/model.pth.tar-N"))
            ckpt = read_checkpoint(path)
            self.check_owner(ckpt, path)
            self.apply_model_state(name, ckpt, path)
            t.log(f'Load {path} to {name} (epoch={ckpt.get("epoch") if isinstance(ckpt, dict) else "?"}, '
                  f'val_result={ckpt.get("val_result") if isinstance(ckpt, dict) else None})')

    def init_from(self, path_or_dir, epoch=None):
        """Initialise prompts from another run (MVLPT source -> target hand-off) before training.

        Tensors whose shape depends on the class list (class-specific contexts) are skipped when they
        do not fit; everything else must match. Logs what was loaded and what was skipped."""
        t = self.t
        for name in t.get_model_names():
            path = resolve_checkpoint(path_or_dir, name, epoch=epoch, prefer_best=True, fallback_highest=False)
            if not path:
                d = os.path.join(path_or_dir, name)
                raise CheckpointError(f"no checkpoint to initialise from in {d} (expected "
                                      f"model.pth.tar-N and a 'checkpoint' file)")
            ckpt = read_checkpoint(path)
            self.check_owner(ckpt, path)
            sd = {k: v for k, v in _state_dict_of(ckpt).items() if k not in _BUFFERS}
            learner = t._models[name]
            try:
                loaded = learner.load_prompt_state(sd)
                t.log(f"Initialised {name} from {path}: loaded {', '.join(loaded)}")
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
            t.log(f"Initialised {name} from {path}: loaded {', '.join(sorted(fit))}; skipped "
                  f"(class-dependent shape) {', '.join(skipped)}")

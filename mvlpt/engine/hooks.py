"""detectron2-style hooks for :class:`mvlpt.engine.TrainerX`.

A hook gets ``before_train / after_train / before_epoch / after_epoch / before_step / after_backward /
after_step`` callbacks with ``self.trainer`` set (``after_backward``: gradients averaged over ranks,
unscaled and transformed by the learner, before the optimizer step), and keeps its own state in every
checkpoint through ``state_dict`` / ``load_state_dict``. The default list (``TrainerX.build_hooks``),
in call order:

``EpochSeedHook``      reseed python/numpy/torch from (seed, epoch); ``sampler.set_epoch``: the data order
                       and augmentations of an epoch depend on nothing else (exact resume)
``FeatureCacheHook``   frozen image side + deterministic train transform: image features computed once
``TimerHook``          data / batch time, ETA
``LRSchedulerHook``    steps the schedulers once per epoch (Dassl semantics)
``LearnerHook``        the learner's training-procedure points: ``on_train_begin`` (with the training
                       set's frozen features when it asks), ``on_epoch_end``, ``on_train_end``
``BestValHook``        TEST.FINAL_MODEL best_val: validate, write model-best.pth.tar (best value: its state)
``CheckpointHook``     model.pth.tar-N every TRAIN.CHECKPOINT_FREQ epochs, the last one, and a
                       rolling resume checkpoint at every epoch end
``LoggerHook``         Dassl-style console / log.txt lines, TensorBoard scalars
"""
import datetime
import time

import numpy as np
import torch


class HookBase:
    """Base class of trainer hooks; override any of the callbacks, and ``state_dict`` /
    ``load_state_dict`` for state that must survive a resume (weights_only-loadable values)."""

    trainer = None

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def after_backward(self):
        pass

    def before_train(self):
        pass

    def after_train(self):
        pass

    def before_epoch(self):
        pass

    def after_epoch(self):
        pass

    def before_step(self):
        pass

    def after_step(self):
        pass


def epoch_seed(seed, epoch):
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 17) % (2 ** 32)


class EpochSeedHook(HookBase):
    """Makes each epoch a pure function of (seed, epoch, model state)."""

    def before_epoch(self):
        import random

        t = self.trainer
        s = epoch_seed(t.seed, t.epoch)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        loader = t.train_loader_x
        for sampler in (getattr(loader, "sampler", None),
                        getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
            if sampler is not None and hasattr(sampler, "set_epoch"):
                sampler.set_epoch(t.epoch)


def _rows_in_dataset_order(t, n, feats, labels, idxs):
    """``(features (n, D), labels (n,))`` in dataset order from this rank's rows ``feats`` / ``labels`` of
    the samples ``idxs`` (under DDP the ranks' rows are all-gathered first; rows repeated by a padded
    sampler land on the same slot). ``(None, None)`` when no rank has a row."""
    from mvlpt.engine import dist as du

    if t.is_distributed:
        feats, labels, idxs = du.all_gather_rows(feats), du.all_gather_rows(labels), du.all_gather_rows(idxs)
    if feats is None:
        return None, None
    full_f = torch.zeros(n, feats.shape[-1], dtype=feats.dtype, device=t.device)
    full_l = torch.zeros(n, dtype=torch.long, device=t.device)
    full_f[idxs.to(t.device)] = feats.to(t.device)
    full_l[idxs.to(t.device)] = labels.to(t.device).long()
    return full_f, full_l


def train_features(t, with_labels=False, fresh=False):
    """Frozen, prompt-free image features of the training set in dataset order ``(N, D)`` (and the
    labels ``(N,)``), through the trainer's feature store: one encoding per run, shared with the
    training feature cache. ``fresh``: encode again, through the training transform, and keep nothing
    (one augmented pass per call, for a random transform).

    Under DDP each rank encodes only its contiguous block of the training set
    (:func:`mvlpt.data.samplers.shard_range`) and the blocks are all-gathered, so every rank holds the
    same full table, in the same order as one process, for ``1/world_size`` of the encoding work."""
    from mvlpt.data.samplers import ShardSampler

    name = ("train", t._store_token)
    if fresh or t.feature_store.table(name) is None:
        loader = t.train_loader_x
        ds = loader.dataset
        shard = ShardSampler(len(ds), t.world_size, t.rank) if t.is_distributed else None
        seq = torch.utils.data.DataLoader(ds, batch_size=max(1, t.cfg.DATALOADER.TEST.BATCH_SIZE),
                                          shuffle=False, sampler=shard, num_workers=loader.num_workers,
                                          collate_fn=loader.collate_fn)
        feats, labels, idxs = [], [], []
        learner = t.learner
        was_training = learner.training
        learner.eval()
        with torch.no_grad(), t.autocast():
            for batch in seq:
                idxs.append(torch.as_tensor(batch["index"]).long())
                feats.append(t.encode_frozen(batch["img"].to(t.device)))
                labels.append(torch.as_tensor(batch["label"]).long())
        learner.train(was_training)
        cat = lambda xs: torch.cat(xs) if xs else None  # noqa: E731
        table = _rows_in_dataset_order(t, len(ds), cat(feats), cat(labels), cat(idxs))
        if fresh:
            return table if with_labels else table[0]
        t.feature_store.put_table(name, table)
    feats, labels = t.feature_store.table(name)
    return (feats, labels) if with_labels else feats


def val_features(t):
    """Frozen, prompt-free image features of the validation split ``(M, D)`` and its labels ``(M,)``, through
    the evaluation feature table (one encoding per run, shared with validation). With a distributed
    evaluation loader (``TEST.SHARDED_EVAL``'s block per rank, or ``DATALOADER.TEST.DISTRIBUTED``) every
    rank gets the whole split (gathered, in dataset order, the sampler's padding dropped), so that every
    rank computes the same from it."""
    feats, labels, _, index = t._eval_features("val", t.val_loader)
    # every rank takes part in the gather (one with an empty block passes no rows)
    if t.is_distributed and not isinstance(getattr(t.val_loader, "sampler", None), torch.utils.data.SequentialSampler):
        feats, labels = _rows_in_dataset_order(t, len(t.val_loader.dataset), feats, labels,
                                               None if index is None else index.long())
    return feats, labels


class FeatureCacheHook(HookBase):
    """Caches training image features by sample index when the image side cannot change.

    Active when the learner's vision side is frozen (``not learner.vision_trainable``) and the
    train transform is deterministic (``TRAINER.CACHE_FEATURES``). Features are computed once, in
    dataset order, before training, into the trainer's feature store (evaluation splits: ``TrainerX.test``).
    """

    def before_train(self):
        t = self.trainer
        t.feature_cache = None
        if not t.caches_image_features or not t.has_trainable_params:
            return
        if not getattr(t.dm, "train_transform_is_deterministic", False):
            return
        if t.start_epoch >= t.max_epoch:
            return
        t.feature_cache = train_features(t)
        t.log(f"Cached image features of {len(t.train_loader_x.dataset)} training images (frozen image "
              f"encoder, deterministic train transform)")


class TimerHook(HookBase):
    """Measures data and batch time (averages kept on the trainer for the logger)."""

    def before_train(self):
        self.trainer.train_start_time = time.time()

    def before_epoch(self):
        self._end = time.time()
        self.trainer.meters = {}

    def before_step(self):
        self.trainer._data_time = time.time() - self._end

    def after_step(self):
        now = time.time()
        t = self.trainer
        t._batch_time = now - self._end
        self._end = now


class LRSchedulerHook(HookBase):
    """Steps every registered scheduler once, after the epoch's last batch (Dassl ``update_lr``); with
    ``OPTIM.SCHED_PER_ITER`` after every iteration instead (lengths in iterations, see :mod:`mvlpt.engine.optim`)."""

    def _per_iter(self):
        return bool(self.trainer.cfg.OPTIM.get("SCHED_PER_ITER", False))

    def after_step(self):
        if self._per_iter():
            self.trainer.update_lr()

    def after_epoch(self):
        if not self._per_iter():
            self.trainer.update_lr()


class LearnerHook(HookBase):
    """The learner's training-procedure points (:class:`mvlpt.prompts.PromptLearner`).

    ``before_train``: ``on_train_begin(train_features)`` (a zero-argument callable returning the training
    set's frozen features and labels when the learner sets ``needs_train_features``), then, on a resumed
    run, the checkpoint's prompt and procedure state again (the checkpoint wins); ``after_epoch`` (after
    the LR step, before best-val and the checkpoint): ``on_epoch_end(epoch, max_epoch)``; ``after_train``
    (before the final evaluation): ``on_train_end()`` once per run - a checkpoint records that it ran.

    A learner with ``needs_val_features`` gets ``val_features=(features, labels)`` (the validation split's
    frozen features) in ``on_train_begin`` and ``on_train_end``; with ``TEST.FINAL_MODEL best_val`` its
    ``on_train_end`` also runs on the best-val model, and ``model-best.pth.tar`` is rewritten with the result
    (same epoch and val result), so the deployed model holds what ``on_train_end`` computed (Tip-Adapter-F's
    hyper-parameter search on its best fine-tuned keys)."""

    def before_train(self):
        t = self.trainer
        t.begin_learner()
        t.checkpointer.reapply_resumed()

    def after_epoch(self):
        t = self.trainer
        t.learner.on_epoch_end(t.epoch, t.max_epoch)

    def after_train(self):
        t = self.trainer
        if getattr(t, "train_end_done", False):
            return
        kw = t.learner_val_kwargs()
        overridden = type(t.learner).on_train_end is not _base_on_train_end()
        if kw and overridden and t.has_trainable_params:
            self._end_best_val(kw)  # first: a kill before the last save below redoes both
        t.learner.on_train_end(**kw)
        t.train_end_done = True
        if overridden and t.has_trainable_params:
            t.save_model(max(t.max_epoch - 1, 0), t.output_dir)  # the final state is what a rerun resumes

    def _end_best_val(self, kw):
        """``on_train_end`` on the model of ``model-best.pth.tar`` (when best-val selection wrote one), which
        is rewritten; the learner's current (last-epoch) state is restored afterwards."""
        import os

        from mvlpt.engine.checkpoint import read_checkpoint

        t = self.trainer
        if t.cfg.TEST.NO_TEST or t.cfg.TEST.FINAL_MODEL != "best_val":
            return
        path = os.path.join(t.output_dir, t.model_name, "model-best.pth.tar")
        if not os.path.isfile(path):
            return
        keep = (t.learner.prompt_state_dict(), t.learner.procedure_state())
        ckpt = read_checkpoint(path)
        t.checkpointer.apply_model_state(t.model_name, ckpt, path)
        t.learner.on_train_end(**kw)
        t.save_model(int(ckpt["epoch"]) - 1, t.output_dir, val_result=ckpt.get("val_result"),
                     model_name="model-best.pth.tar")
        t.learner.load_prompt_state(keep[0])
        t.learner.load_procedure_state(keep[1])


def _base_on_train_end():
    from mvlpt.prompts.base import PromptLearner

    return PromptLearner.on_train_end


class BestValHook(HookBase):
    """With ``TEST.FINAL_MODEL best_val``: validate after each epoch, keep ``model-best.pth.tar``; the
    best value so far is this hook's state (``trainer.best_result`` reads it)."""

    def __init__(self):
        self.best = -np.inf

    def state_dict(self):
        return {"best": float(self.best)}

    def load_state_dict(self, state):
        self.best = float(state.get("best", -np.inf))

    def after_epoch(self):
        t = self.trainer
        if t.cfg.TEST.NO_TEST or t.cfg.TEST.FINAL_MODEL != "best_val":
            return
        result = t.test(split="val")
        if result > self.best:
            self.best = result
            t.save_model(t.epoch, t.output_dir, val_result=result, model_name="model-best.pth.tar")


class CheckpointHook(HookBase):
    """Epoch-end checkpoints: every epoch (rolling, for resume); kept every N epochs and at the end."""

    def after_epoch(self):
        t = self.trainer
        t.save_model(t.epoch, t.output_dir)


class LoggerHook(HookBase):
    """Prints Dassl-style progress lines every ``TRAIN.PRINT_FREQ`` batches; TensorBoard scalars.

    The meters (``loss_summary``: loss, acc, loss terms) are, under DDP, the mean over the ranks of
    each rank's step value: the step values since the last line are buffered and averaged in one
    all-reduce per progress line (and one at the end of the epoch for the steps after the last line);
    TensorBoard still gets one averaged value per step. On one process nothing is reduced (the
    values are the ones logged before)."""

    def before_epoch(self):
        self.sums = {}
        self.count = 0
        self.tb_sum = 0.0
        self.time_sum = self.data_sum = 0.0
        self.pending = []  # (n_iter, lr, {meter: this rank's value}) not yet averaged / written

    def _flush(self):
        """Average the pending steps' meters over the ranks (one all-reduce); update the epoch sums and
        write the TensorBoard scalars. Returns the last step's averaged meters."""
        from mvlpt.engine import dist as du

        t = self.trainer
        pending, self.pending = self.pending, []
        if not pending:
            return {}
        rows = [dict(m) for _, _, m in pending]
        if t.is_distributed:
            keys = list(rows[0])
            vals = torch.tensor([[float(r[k]) for k in keys] for r in rows], dtype=torch.float64)
            vals = du.all_reduce_sum(vals) / du.get_world_size()
            rows = [dict(zip(keys, map(float, v))) for v in vals]
        for (n_iter, lr, _), row in zip(pending, rows):
            for k, v in row.items():
                self.sums[k] = self.sums.get(k, 0.0) + float(v)
                t.write_scalar("train/" + k, float(v), n_iter)
            t.write_scalar("train/lr", lr, n_iter)
        return rows[-1]

    def after_step(self):
        t = self.trainer
        self.count += 1
        self.time_sum += t._batch_time
        self.data_sum += t._data_time
        n_iter = t.epoch * t.num_batches + t.batch_idx
        self.pending.append((n_iter, t.get_current_lr(), dict(t.loss_summary)))
        freq = max(1, t.cfg.TRAIN.PRINT_FREQ)
        if (t.batch_idx + 1) % freq == 0 or t.num_batches < freq and t.batch_idx + 1 == t.num_batches:
            meters = self._flush()
            left = t.num_batches - t.batch_idx - 1 + (t.max_epoch - t.epoch - 1) * t.num_batches
            eta = datetime.timedelta(seconds=int(self.time_sum / self.count * left))
            parts = [f"epoch [{t.epoch + 1}/{t.max_epoch}]", f"batch [{t.batch_idx + 1}/{t.num_batches}]",
                     f"time {t._batch_time:.3f} ({self.time_sum / self.count:.3f})",
                     f"data {t._data_time:.3f} ({self.data_sum / self.count:.3f})"]
            for k, v in meters.items():
                parts.append(f"{k} {float(v):.4f} ({self.sums[k] / self.count:.4f})")
            parts.append(f"lr {t.get_current_lr():.4e}")
            parts.append(f"eta {eta}")
            t.log(" ".join(parts))

    def after_epoch(self):
        self._flush()

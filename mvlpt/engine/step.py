"""One optimisation step (detectron2's ``SimpleTrainer.run_step`` / ``AMPTrainer``, as a mixin of
:class:`~mvlpt.engine.TrainerX` so that Dassl's method names stay overridable).

``forward_backward(batch)``:

1. ``logits, terms = learner.forward_train(images= | image_features=, labels=)`` - cached frozen
   image features when the image side cannot change (by sample index, else through the feature store);
2. ``loss = classification loss (cross-entropy, or the multitask loss) + sum(terms.values())``;
   every part is logged (``loss_ce``, ``loss_<term>``) when the learner adds terms;
3. ``model_backward_and_update(loss)``: non-finite guard on the total (all ranks agree), zero grads,
   backward (scaled when fp16), ``after_backward`` hooks, DDP gradient averaging (every rank reduces
   the same flat buffer: zeros and a 0 "has gradient" flag where a gradient is None, so no rank can
   hang and a parameter without any gradient stays without one), ``scaler.unscale_``, the learner's
   ``transform_gradients()``, optimizer step(s), ``scaler.update()``.
"""
import contextlib
import os

import torch
import torch.nn.functional as F

from mvlpt.engine import dist as du
from mvlpt.engine.checkpoint import latest_file
from mvlpt.errors import NonFiniteLossError

PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16, "amp": torch.float16}


def compute_accuracy(output, target):
    """Top-1 accuracy in percent (:func:`mvlpt.data.metrics.accuracy` on a batch)."""
    from mvlpt.data.metrics import accuracy

    return accuracy(output, target)


def average_gradients(params):
    """Mean of ``p.grad`` over ranks for every parameter, in one all-reduce of one flat buffer."""
    params = list(params)
    if not params:
        return
    ref = params[0]
    parts = []
    for p in params:
        g = p.grad
        parts.append((g if g is not None else torch.zeros_like(p)).reshape(-1).float())
        parts.append(torch.ones(1, device=ref.device) if g is not None else torch.zeros(1, device=ref.device))
    flat = du.all_reduce_sum(torch.cat(parts))
    world = du.get_world_size()
    offset = 0
    for p in params:
        n = p.numel()
        g, has = flat[offset:offset + n], float(flat[offset + n])
        offset += n + 1
        if has == 0:
            p.grad = None
            continue
        p.grad = (g / world).view_as(p).to(p.dtype)


class StepMixin:
    """The training step of :class:`~mvlpt.engine.TrainerX`."""

    def autocast(self):
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def parse_batch_train(self, batch):
        img = batch["img"].to(self.device)
        label = batch["label"].to(self.device)
        return img, label, batch.get("task"), batch.get("index")

    def compute_loss(self, output, label, task=None):
        """The classification loss on the logits: cross-entropy, or the multitask loss."""
        output = output.float()
        if len(self.tasks) > 1 and task is not None:
            from mvlpt.data.multitask import multitask_loss, multitask_loss_mode

            return multitask_loss(output, label, task.to(output.device), self.tasks,
                                  mode=multitask_loss_mode(self.cfg))
        return F.cross_entropy(output, label)

    def train_image_features(self, img, index):
        """Frozen image features of a training batch, or None when the image side must run."""
        if self.feature_cache is not None and index is not None:
            return self.feature_cache[torch.as_tensor(index).long().to(self.device)]
        if self.caches_image_features and self.has_trainable_params:
            with torch.no_grad():
                return self.encode_frozen(img)
        return None

    def forward_backward(self, batch):
        img, label, task, index = self.parse_batch_train(batch)
        with self.autocast():
            feats = self.train_image_features(img, index)
            if feats is not None:
                output, terms = self.learner.forward_train(image_features=feats, labels=label)
            else:
                output, terms = self.learner.forward_train(images=img, labels=label)
            cls_loss = self.compute_loss(output, label, task)
            loss = cls_loss + sum(t.float() for t in terms.values()) if terms else cls_loss
        self.model_backward_and_update(loss, terms=terms)
        summary = {"loss": float(loss.detach()), "acc": compute_accuracy(output.detach(), label)}
        if terms:
            summary["loss_ce"] = float(cls_loss.detach())
            summary.update((f"loss_{k}", float(v.detach())) for k, v in terms.items())
        return summary

    def check_finite(self, loss, terms=None):
        """NaN guard: stop before the bad update; the last good checkpoint stays in place."""
        bad = torch.tensor([0.0 if torch.isfinite(loss.detach()).all() else 1.0])
        bad = du.all_reduce_sum(bad)
        if float(bad) > 0:
            step = self.epoch * getattr(self, "num_batches", 0) + getattr(self, "batch_idx", 0) + 1
            d = os.path.join(self.output_dir, self.model_name)
            good = latest_file(d) if self.is_main else None
            keep = f"the last good checkpoint is {good}" if good else "no checkpoint was written yet"
            which = [k for k, v in (terms or {}).items() if not torch.isfinite(v.detach()).all()]
            part = f" (non-finite term(s): {', '.join(which)})" if which else ""
            raise NonFiniteLossError(
                f"training diverged: loss is {float(loss.detach())}{part} at epoch {self.epoch + 1}/"
                f"{self.max_epoch}, batch {getattr(self, 'batch_idx', 0) + 1}/{getattr(self, 'num_batches', 0)} "
                f"(step {step}); {keep}. Lower OPTIM.LR or use PREC fp32, then rerun (it resumes)")

    def model_backward_and_update(self, loss, names=None, terms=None):
        self.check_finite(loss, terms)
        names = self.get_model_names(names)
        optims = [self._optims[n] for n in names if self._optims[n] is not None]
        if not optims:  # nothing trains (a training-free method)
            return
        for o in optims:
            o.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.is_distributed:
            for n in names:
                average_gradients(p for p in self._models[n].parameters() if p.requires_grad)
        if self.scaler.is_enabled():
            for o in optims:
                self.scaler.unscale_(o)
        for n in names:
            transform = getattr(self._models[n], "transform_gradients", None)
            if transform is not None:
                transform()
        self.call_hooks("after_backward")
        for o in optims:
            self.scaler.step(o)
        self.scaler.update()

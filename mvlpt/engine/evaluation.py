"""Evaluation of :class:`~mvlpt.engine.TrainerX` (Dassl's ``test`` / ``model_inference`` /
``parse_batch_test``), as a mixin.

When the image side cannot change (no visual prompt trains, ``TRAINER.CACHE_FEATURES``), each split is
encoded once (through the trainer's feature store) and every later evaluation starts from the
features: ``model_inference(image_features=...)``. A subclass that overrides ``model_inference`` keeps
that path if its override accepts ``image_features``; an override with Dassl's one-argument signature
``model_inference(self, input)`` turns the cache off for evaluation, so the override always runs.

Under DDP with ``TEST.SHARDED_EVAL`` (the default) each rank's val / test loader holds its own block
of the split (:class:`~mvlpt.data.samplers.ShardSampler`), each rank encodes and scores only that
block, and the evaluator reduces metric inputs over the ranks (``evaluate_sharded``); an evaluator
without ``evaluate_sharded`` gets the ranks' states gathered (still one score per sample). With
``TEST.SHARDED_EVAL False`` every rank scores the whole split and the outputs are gathered.
"""
import inspect
import json
import os
from collections import OrderedDict

import torch
from tqdm import tqdm

from mvlpt.engine import dist as du
from mvlpt.utils import atomic_write_bytes


class EvalMixin:
    """Evaluation methods of :class:`~mvlpt.engine.TrainerX`."""

    def parse_batch_test(self, batch):
        return (batch["img"].to(self.device), batch["label"].to(self.device), batch.get("task"),
                batch.get("index"))

    def model_inference(self, input=None, image_features=None):
        """Logits of images ``input`` or of their frozen features ``image_features``."""
        return self.learner(input, image_features=image_features)

    @property
    def caches_image_features(self):
        """The image side cannot change (no visual prompt trains) and caching is on."""
        return (not getattr(self.learner, "vision_trainable", True)
                and bool(self.cfg.TRAINER.get("CACHE_FEATURES", True)))

    def _inference_takes_features(self):
        fn = type(self).model_inference
        if fn is EvalMixin.model_inference:
            return True
        return "image_features" in inspect.signature(fn).parameters

    def encode_frozen(self, img):
        """Frozen, prompt-free image features of ``img`` (``clip.encode_image``, before the learner's
        ``adapt_image_features``) through the feature store."""
        clip = self.learner.clip
        return self.feature_store.encode(clip.encode_image, img, key=self.feature_store.encoder_key(clip))

    def _eval_features(self, split, loader):
        """(features, labels, tasks, indices) of a split, encoded once and reused by every later
        evaluation: evaluation transforms are deterministic, and the image encoder is frozen."""
        name = ("eval", self._store_token, split)
        if self.feature_store.table(name) is None:
            parts = [[], [], [], []]
            for batch in tqdm(loader, disable=None if self.is_main else True, leave=False, desc=f"{split} features"):
                img, label, task, index = self.parse_batch_test(batch)
                with self.autocast():
                    parts[0].append(self.encode_frozen(img))
                parts[1].append(label)
                parts[2].append(None if task is None else torch.as_tensor(task))
                parts[3].append(None if index is None else torch.as_tensor(index))
            self.feature_store.put_table(name, [None if not p or p[0] is None else torch.cat(p) for p in parts])
        return self.feature_store.table(name)

    def _eval_batches(self, split, loader):
        """Yield (logits, label, task, index) per batch; from cached image features when possible."""
        if not (self.caches_image_features and self._inference_takes_features()):
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
                out = self.model_inference(image_features=feats[s:s + bs])
            yield (out, labels[s:s + bs], None if tasks is None else tasks[s:s + bs],
                   None if indices is None else indices[s:s + bs])

    @property
    def sharded_eval(self):
        """Each rank holds a disjoint block of the evaluation splits (DDP, ``TEST.SHARDED_EVAL``)."""
        return self.is_distributed and bool(getattr(self.dm, "sharded_eval", False))

    def evaluate_split(self):
        """The evaluator's results over the whole split, whatever part of it this rank processed."""
        ev = self.evaluator
        if self.sharded_eval and hasattr(ev, "evaluate_sharded"):
            return ev.evaluate_sharded()
        if self.is_distributed:
            states = du.all_gather_object(ev.state())
            ev.load_state(du.merge_eval_states(states))
        return ev.evaluate()

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
        results = self.evaluate_split()
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

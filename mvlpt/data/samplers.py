"""Train samplers: task-balanced sampling for merged multitask datasets."""
from __future__ import annotations

import torch
from torch.utils.data import Sampler

__all__ = ["TaskBalancedSampler"]


class TaskBalancedSampler(Sampler):
    """Each draw picks a task uniformly, then the next item of that task's shuffled list.

    With the official (uniform over items) sampler a 1000-class ImageNet dominates the batches;
    here every task gets ``num_samples / num_tasks`` draws per epoch in expectation. A task's list is
    reshuffled when exhausted (small tasks repeat, large ones are sub-sampled).

    Args:
        task_ids: task index of each item.
        num_samples: draws per epoch (default: number of items).
        seed: base seed; the epoch is added (call :meth:`set_epoch`, as with DistributedSampler).
    """

    def __init__(self, task_ids, num_samples=None, seed=0):
        self.task_ids = torch.as_tensor(list(task_ids), dtype=torch.long)
        self.tasks = sorted(set(self.task_ids.tolist()))
        self.groups = {t: torch.nonzero(self.task_ids == t).flatten() for t in self.tasks}
        self.num_samples = int(num_samples or len(self.task_ids))
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        self.epoch += 1
        perms = {t: self.groups[t][torch.randperm(len(self.groups[t]), generator=g)] for t in self.tasks}
        pos = {t: 0 for t in self.tasks}
        choice = torch.randint(len(self.tasks), (self.num_samples,), generator=g).tolist()
        for c in choice:
            t = self.tasks[c]
            if pos[t] >= len(perms[t]):
                perms[t] = self.groups[t][torch.randperm(len(self.groups[t]), generator=g)]
                pos[t] = 0
            yield int(perms[t][pos[t]])
            pos[t] += 1

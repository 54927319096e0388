"""Train samplers and the seeds of the data pipeline.

* :class:`TaskBalancedSampler`: task-balanced sampling for merged multitask datasets, on one process
  or sharded over the ranks of a DDP run (each rank takes every ``num_replicas``-th draw of the one
  global stream, so the ranks together draw what one process draws).
* :class:`ShardSampler`: one rank's contiguous block of an evaluation split (no padding, no repeats),
  so that the ranks together score every sample exactly once.
* :func:`rank_seed`: the augmentation / worker seed of a rank in an epoch.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler

__all__ = ["TaskBalancedSampler", "ShardSampler", "shard_range", "rank_seed", "dist_info"]


def dist_info():
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_range(n: int, num_replicas: int, rank: int):
    """``(start, stop)`` of rank ``rank``'s contiguous block of ``range(n)`` split over ``num_replicas``.

    Block sizes differ by at most one (the first ``n % num_replicas`` ranks hold one more); the blocks
    in rank order are ``range(n)`` itself. A rank may hold nothing when ``n < num_replicas``.

    >>> [shard_range(5, 2, r) for r in (0, 1)], shard_range(1, 3, 2)
    ([(0, 3), (3, 5)], (1, 1))
    """
    n, num_replicas, rank = int(n), max(1, int(num_replicas)), int(rank)
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank {rank} outside [0, {num_replicas})")
    base, extra = divmod(n, num_replicas)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardSampler(Sampler):
    """Rank ``rank``'s contiguous block of ``range(len(data))``, in order (sharded evaluation under DDP).

    Unlike ``DistributedSampler`` nothing is padded or repeated: the blocks of the ``num_replicas``
    ranks are disjoint, uneven by at most one item, and together (in rank order) they are the
    dataset in its order, so every sample is scored exactly once and a metric reduced over the ranks
    equals the one-process metric. ``data``: a sized collection (or its length).

    >>> [list(ShardSampler(range(5), 2, r)) for r in (0, 1)]
    [[0, 1, 2], [3, 4]]
    """

    def __init__(self, data, num_replicas=1, rank=0):
        n = data if isinstance(data, int) else len(data)
        self.num_replicas, self.rank = max(1, int(num_replicas)), int(rank)
        self.start, self.stop = shard_range(n, self.num_replicas, self.rank)

    def __len__(self):
        return self.stop - self.start

    def __iter__(self):
        return iter(range(self.start, self.stop))


def rank_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of rank ``rank`` in ``epoch`` for augmentations and loader workers (a 31-bit int).

    Deterministic in ``(seed, epoch, rank)``; different ranks get unrelated streams (splitmix64).

    >>> rank_seed(1, 0, 0) == rank_seed(1, 0, 0), rank_seed(1, 0, 0) != rank_seed(1, 0, 1)
    (True, True)
    """
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(epoch) * 0xBF58476D1CE4E5B9 + (int(rank) + 1) * 0x94D049BB133111EB)
    x &= 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return int((x ^ (x >> 31)) % (2 ** 31))


class TaskBalancedSampler(Sampler):
    """Each draw picks a task uniformly, then the next item of that task's shuffled list.

    With the official (uniform over items) sampler a 1000-class ImageNet dominates the batches;
    here every task gets ``num_samples / num_tasks`` draws per epoch in expectation. A task's list is
    reshuffled when exhausted (small tasks repeat, large ones are sub-sampled).

    Under DDP (``num_replicas > 1``) the global stream of ``num_samples`` draws is the one a single
    process draws for the same ``(seed, epoch)``; it is padded (by wrapping around) to a multiple of
    ``num_replicas`` and rank ``r`` takes draws ``r, r + R, r + 2R, ...``. The union of the ranks'
    draws is therefore the single-process stream (plus at most ``R - 1`` repeats), with its task balance.

    Args:
        task_ids: task index of each item.
        num_samples: draws per epoch over all ranks (default: number of items).
        seed: base seed; the epoch is added (call :meth:`set_epoch`, as with DistributedSampler;
            without calls the epoch advances by one per iteration on a single process).
        num_replicas, rank: DDP shard (default: one process).

    >>> s = TaskBalancedSampler([0, 0, 0, 1], seed=3)
    >>> a = list(s); s.set_epoch(0); a == list(s)
    True
    >>> r0, r1 = (TaskBalancedSampler([0, 0, 0, 1], seed=3, num_replicas=2, rank=r) for r in (0, 1))
    >>> sorted(list(r0) + list(r1)) == sorted(a)
    True
    """

    def __init__(self, task_ids, num_samples=None, seed=0, num_replicas=1, rank=0):
        self.task_ids = torch.as_tensor(list(task_ids), dtype=torch.long)
        self.tasks = sorted(set(self.task_ids.tolist()))
        self.groups = {t: torch.nonzero(self.task_ids == t).flatten() for t in self.tasks}
        self.num_samples = int(num_samples or len(self.task_ids))
        self.seed = int(seed)
        self.epoch = 0
        self.num_replicas = max(1, int(num_replicas))
        self.rank = int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {rank} outside [0, {num_replicas})")

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return math.ceil(self.num_samples / self.num_replicas)

    def stream(self, epoch=None):
        """The global (all ranks) draw sequence of ``epoch`` (default: the current one)."""
        g = torch.Generator()
        g.manual_seed(self.seed + (self.epoch if epoch is None else int(epoch)))
        perms = {t: self.groups[t][torch.randperm(len(self.groups[t]), generator=g)] for t in self.tasks}
        pos = {t: 0 for t in self.tasks}
        choice = torch.randint(len(self.tasks), (self.num_samples,), generator=g).tolist()
        out = []
        for c in choice:
            t = self.tasks[c]
            if pos[t] >= len(perms[t]):
                perms[t] = self.groups[t][torch.randperm(len(self.groups[t]), generator=g)]
                pos[t] = 0
            out.append(int(perms[t][pos[t]]))
            pos[t] += 1
        return out

    def __iter__(self):
        out = self.stream()
        if self.num_replicas == 1:
            self.epoch += 1
            return iter(out)
        total = len(self) * self.num_replicas
        out = (out * math.ceil(total / max(1, len(out))))[:total] if out else []
        return iter(out[self.rank:total:self.num_replicas])

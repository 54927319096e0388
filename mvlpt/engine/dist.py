"""Small torch.distributed helpers (no-ops in a single process).

Launch with ``torchrun --nproc_per_node N train.py ...``: one process per device, gloo on CPU,
nccl on GPU. Gradients of the prompt parameters are averaged across ranks after backward (the same
as one process with the global batch when ranks see equal batch sizes); evaluation is sharded (each
rank scores its block of the split, the evaluator reduces metric inputs, see
:meth:`mvlpt.engine.evaluator.Classification.evaluate_sharded`), or with ``TEST.SHARDED_EVAL False``
every rank scores the whole split and the outputs are gathered and de-duplicated by sample index;
rank 0 writes logs and checkpoints, and its logged training meters are averaged over the ranks.
"""
import os

import torch
import torch.distributed as dist


def is_dist():
    return dist.is_available() and dist.is_initialized()


def get_rank():
    return dist.get_rank() if is_dist() else 0


def get_world_size():
    return dist.get_world_size() if is_dist() else 1


def get_local_rank():
    return int(os.environ.get("LOCAL_RANK", 0))


def init_from_env(use_cuda=True):
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1). Returns True if so."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_dist():
        return is_dist()
    gpu = use_cuda and torch.cuda.is_available()
    if gpu:
        torch.cuda.set_device(get_local_rank())
    dist.init_process_group(backend="nccl" if gpu else "gloo")
    return True


def barrier():
    if is_dist():
        dist.barrier()


def broadcast_object(obj, src=0):
    if not is_dist():
        return obj
    lst = [obj]
    dist.broadcast_object_list(lst, src=src)
    return lst[0]


def all_gather_object(obj):
    if not is_dist():
        return [obj]
    out = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _on_backend_device(t):
    if is_dist() and dist.get_backend() == "nccl" and not t.is_cuda:
        return t.cuda()
    return t


def all_reduce_sum(t):
    if not is_dist():
        return t
    x = _on_backend_device(t.clone())
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x.to(t.device)


def all_reduce_mean_(t):
    """In-place mean over ranks."""
    if not is_dist():
        return t
    x = _on_backend_device(t)
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    x.div_(get_world_size())
    if x is not t:
        t.copy_(x)
    return t


def all_gather_rows(t):
    """Concatenation over ranks (in rank order) of each rank's rows ``t`` ``(n_r, ...)``.

    ``n_r`` may differ between ranks; a rank with no rows passes ``None`` (or an empty tensor) and
    the others' trailing shape and dtype are used (they must agree). Returns None when no rank has a
    row. One process: ``t`` itself. The rows travel as tensors (one padded ``all_gather``)."""
    if not is_dist():
        return t
    has = t is not None and t.shape[0] > 0
    metas = all_gather_object((int(t.shape[0]), tuple(t.shape[1:]), t.dtype) if has else None)
    ref = next((m for m in metas if m is not None), None)
    if ref is None:
        return None
    sizes = [m[0] if m is not None else 0 for m in metas]
    shape, dtype = ref[1], ref[2]
    device = t.device if t is not None else torch.device("cpu")
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    pad = torch.zeros((max(sizes),) + shape, dtype=dtype, device=device)
    if has:
        pad[:t.shape[0]] = t.to(device=device, dtype=dtype)
    parts = [torch.empty_like(pad) for _ in sizes]
    dist.all_gather(parts, pad)
    out = torch.cat([p[:k] for p, k in zip(parts, sizes)])
    return out.to(t.device) if t is not None else out


def merge_eval_states(states):
    """Concatenate evaluator states from all ranks; drop duplicates (DistributedSampler padding)."""
    keys = ("logits", "gt", "task", "index")
    merged = {k: [s[k] for s in states if s.get(k) is not None] for k in keys}
    merged = {k: (torch.cat(v) if v else None) for k, v in merged.items()}
    idx = merged["index"]
    if idx is not None and merged["logits"] is not None and len(idx) == len(merged["logits"]):
        order = torch.argsort(idx, stable=True)
        idx_sorted = idx[order]
        keep = torch.ones_like(idx_sorted, dtype=torch.bool)
        keep[1:] = idx_sorted[1:] != idx_sorted[:-1]
        sel = order[keep]
        merged = {k: (v[sel] if v is not None and len(v) == len(idx) else v) for k, v in merged.items()}
    return merged

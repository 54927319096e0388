"""Checkpoints in Dassl's layout, written atomically.

::

    OUTPUT_DIR/<model name>/model.pth.tar-<epoch>   # every TRAIN.CHECKPOINT_FREQ epochs + the last one
    OUTPUT_DIR/<model name>/model-best.pth.tar      # TEST.FINAL_MODEL best_val
    OUTPUT_DIR/<model name>/checkpoint              # one line: the file to resume from

Each file is a dict with Dassl's keys ``state_dict`` (the prompt learner's trainable tensors only,
never the frozen CLIP), ``epoch``, ``optimizer``, ``scheduler``, ``val_result`` plus ours:
``rng`` (python/numpy/torch RNG states), ``config`` (yaml text), ``trainer``, ``learner``,
``best_result``, ``scaler``, ``seed``, ``format``. Files are written to a temp file in the same
directory, fsynced and ``os.replace``d, so a kill at any moment leaves either the old or the new file.
"""
import os
import random

import numpy as np
import torch

from mvlpt.errors import CheckpointError

from mvlpt.utils import atomic_write_bytes

FORMAT = "mvlpt-checkpoint-1"


def get_rng_state():
    """Python, numpy and torch RNG states, as weights_only-loadable objects."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np.asarray(np_state["state"]["key"]).astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state):
    if not state:
        return
    if "python" in state:
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state({"bit_generator": n["bit_generator"],
                             "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                             "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    restore_cuda_rng(state.get("cuda") or [])


def restore_cuda_rng(states):
    """Restore the saved per-GPU RNG states where those GPUs exist now. A run resumed on fewer GPUs
    (8 -> 1), on the CPU, or on more GPUs gets a warning: exactness is then per-rank best effort."""
    n_now = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if len(states) != n_now and (states or n_now):
        import logging

        logging.getLogger("mvlpt").warning(
            "the checkpoint holds RNG states of %d GPU(s), this machine has %d: restoring %d; the resumed run "
            "is not bit-identical to an uninterrupted one", len(states), n_now, min(len(states), n_now))
    for i in range(min(len(states), n_now)):
        torch.cuda.set_rng_state(states[i], device=i)


def read_checkpoint(path):
    """Load a checkpoint file (ours, or an official Dassl one) via
    :func:`mvlpt.prompts.official.read_checkpoint`, which never runs code from the file (see
    :mod:`mvlpt.safeload`). Any failure, a refused file included, is one :class:`CheckpointError` line."""
    from mvlpt.prompts.official import read_checkpoint as read_any

    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return read_any(path)
    except Exception as e:  # noqa: BLE001 - one line for any unreadable file
        if str(e).startswith("refusing to load"):
            raise CheckpointError(str(e)) from None
        raise CheckpointError(f"cannot read checkpoint {path}: {e.__class__.__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}; the file is corrupt or not "
                              f"a checkpoint") from None


def latest_file(model_dir):
    """The file named in ``model_dir/checkpoint`` (Dassl's tag file), or None when there is no tag.

    A tag that cannot be read, names no file in ``model_dir``, or names a file that is not a complete
    checkpoint (torch's zip container) falls back, with a warning, to the newest complete
    ``model.pth.tar-N``; when there is none, :class:`CheckpointError` names the files to delete.
    """
    import logging
    import re
    import zipfile

    def complete(p):  # torch's zip container (intact central directory), or a legacy pickle stream
        if zipfile.is_zipfile(p):
            return True
        with open(p, "rb") as fh:
            return fh.read(1) == b"\x80"

    tag = os.path.join(model_dir, "checkpoint")
    if not os.path.isfile(tag):
        return None
    problem = None
    try:
        with open(tag, "rb") as f:
            name = f.read(4096).decode("utf-8").splitlines()[0].strip() if os.path.getsize(tag) else ""
    except (OSError, UnicodeDecodeError, IndexError) as e:
        name, problem = "", f"cannot be read ({type(e).__name__})"
    path = os.path.join(model_dir, name)
    if problem is None:
        if not name or os.path.basename(name) != name:
            problem = f"does not name a file ({name[:40]!r})"
        elif not os.path.isfile(path):
            problem = f"names {name}, which does not exist"
        elif not complete(path):
            problem = f"names {name}, which is not a complete checkpoint"
    if problem is None:
        return path
    found = []
    for f in os.listdir(model_dir):
        m = re.fullmatch(r"model\.pth\.tar-(\d+)", f)
        if m and f != name and complete(os.path.join(model_dir, f)):
            found.append((int(m.group(1)), f))
    if not found:
        bad = [tag] + ([path] if name and os.path.isfile(path) else [])
        raise CheckpointError(f"the checkpoint tag file {tag} {problem} and no complete model.pth.tar-N is next "
                              f"to it; delete {' and '.join(bad)} to start from scratch")
    best = os.path.join(model_dir, max(found)[1])
    logging.getLogger("mvlpt").warning(f"checkpoint tag file {tag} {problem}; using the newest complete "
                                       f"checkpoint {best} instead (rewrite or delete the tag file to silence this)")
    return best


def write_tag(model_dir, filename):
    atomic_write_bytes(os.path.join(model_dir, "checkpoint"), (filename + "\n").encode())


def _highest_epoch(model_dir):
    cands = [(int(f.rsplit("-", 1)[-1]), f) for f in os.listdir(model_dir)
             if f.startswith("model.pth.tar-") and f.rsplit("-", 1)[-1].isdigit()]
    return os.path.join(model_dir, max(cands)[1]) if cands else None


def resolve_checkpoint(path, model_name=None, epoch=None, prefer_best=False, fallback_highest=True):
    """The one path resolver (resume, ``--model-dir``, ``--load-epoch``, ``MODEL.INIT_WEIGHTS``,
    averaging, the recipe's ``init_from``). Returns a file path or None.

    ``path``: a checkpoint file (returned as is), a model folder (``OUTPUT_DIR/<model>``) or a run folder
    (``OUTPUT_DIR``: ``<model_name>`` inside it, else the first sub-folder holding checkpoints). In a
    folder: ``model.pth.tar-<epoch>`` when ``epoch`` is given; else ``model-best.pth.tar`` when
    ``prefer_best`` and present; else the file named by the ``checkpoint`` tag; else (with
    ``fallback_highest``) the highest ``model.pth.tar-N``.
    """
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        return None
    if model_name:
        dirs = [os.path.join(path, model_name), path]
    else:
        dirs = [path] + sorted(os.path.join(path, d) for d in os.listdir(path)
                               if os.path.isdir(os.path.join(path, d)) and d != "tensorboard")
    for d in dirs:
        if not os.path.isdir(d):
            continue
        if epoch is not None:
            f = os.path.join(d, f"model.pth.tar-{epoch}")
            if os.path.isfile(f):
                return f
            continue
        if prefer_best and os.path.isfile(os.path.join(d, "model-best.pth.tar")):
            return os.path.join(d, "model-best.pth.tar")
        f = latest_file(d) or (_highest_epoch(d) if fallback_highest else None)
        if f:
            return f
    return None

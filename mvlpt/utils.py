"""Small shared helpers."""
import os
import tempfile

import torch


def atomic_save(obj, path: str):
    """``torch.save`` to a temp file in the same folder, fsync, then rename: a crash never leaves a
    partial file under ``path`` (the old file, if any, stays until the new one is complete)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise

"""Small shared helpers: atomic file writes (every file mvlpt writes goes through these)."""
import io
import json
import os
import tempfile

import torch


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``,
    then fsync of the folder. A kill at any moment leaves either the old or the new file."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path, text: str):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj, indent=1):
    atomic_write_text(path, json.dumps(obj, indent=indent))


def atomic_torch_save(obj, path):
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())

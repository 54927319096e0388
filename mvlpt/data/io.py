"""Image reading (plain files and ``archive.zip@member`` paths) and layout errors."""
from __future__ import annotations

import json
import os
import zipfile

from PIL import Image, ImageFile, ImageOps

from mvlpt.utils import atomic_write_json

__all__ = ["read_image", "DatasetLayoutError", "ImageReadError", "split_zip_path", "read_json", "write_json_atomic",
           "listdir_nohidden"]

ImageFile.LOAD_TRUNCATED_IMAGES = True

_ZIP_CACHE = {}


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder or file is missing. The message names the path and how to fetch it."""


class ImageReadError(RuntimeError):
    """An image could not be read or decoded. The message names the file."""


def split_zip_path(path: str):
    """``/r/train.zip@a/b.jpg`` -> ``("/r/train.zip", "a/b.jpg")``; ``(None, path)`` for plain files."""
    if "@" not in path:
        return None, path
    left, _, member = path.partition("@")
    if left.lower().endswith(".zip"):
        return left, member
    return None, path


def _zip(path):
    key = (os.getpid(), path)
    zf = _ZIP_CACHE.get(key)
    if zf is None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"zip archive not found: {path}")
        zf = zipfile.ZipFile(path, "r")
        _ZIP_CACHE[key] = zf
    return zf


def read_image(path: str) -> Image.Image:
    """Open an image as RGB (EXIF orientation applied).

    Raises ``FileNotFoundError`` (missing) or :class:`ImageReadError` (corrupt), both naming the file.
    """
    zpath, member = split_zip_path(path)
    try:
        if zpath is not None:
            zf = _zip(zpath)
            try:
                fh = zf.open(member)
            except KeyError:
                raise FileNotFoundError(f"image not found: member {member!r} of {zpath}") from None
            with fh:
                img = Image.open(fh)
                img.load()
        else:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"image not found: {path}")
            with open(path, "rb") as f:
                img = Image.open(f)
                img.load()
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # noqa: BLE001 - broken EXIF must not lose the image
            pass
        return img.convert("RGB")
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(f"cannot read image {path}: {type(e).__name__}: {e}") from e


def read_json(path):
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def write_json_atomic(obj, path, indent=None):
    """Write JSON via a temp file + rename (safe with concurrent readers and kills)."""
    atomic_write_json(path, obj, indent=indent)


def listdir_nohidden(path, sort=False):
    items = [f for f in os.listdir(path) if not f.startswith(".")]
    return sorted(items) if sort else items

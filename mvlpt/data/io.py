"""Image reading (plain files and ``archive.zip@member`` paths) and layout errors."""
from __future__ import annotations

import json
import os
import warnings
import zipfile

from PIL import Image, ImageFile, ImageOps

from mvlpt.errors import ConfigError, MvlptError
from mvlpt.utils import atomic_write_json

__all__ = ["read_image", "DatasetError", "DatasetLayoutError", "ImageReadError", "ConfigError", "split_zip_path",
           "read_json", "write_json_atomic", "listdir_nohidden", "set_allow_truncated_images"]

_ZIP_CACHE = {}
#: ``DATASET.ALLOW_TRUNCATED_IMAGES`` (set by the DataManager): load truncated files with a warning
#: (what the ELEVATER toolkit does) instead of stopping with :class:`ImageReadError`.
_ALLOW_TRUNCATED = False
_WARNED_TRUNCATED = set()


def _one_line(msg):
    """A message re-raised by a DataLoader worker reads ``Caught X in DataLoader worker ...\nOriginal
    Traceback ...``; keep the original last line only, so the CLI prints the file name."""
    msg = str(msg)
    if msg.startswith("Caught ") and "Original Traceback" in msg:
        last = [ln for ln in msg.splitlines() if ln.strip()][-1].strip()
        head, sep, rest = last.partition(": ")
        return rest if sep and "Error" in head.rsplit(".", 1)[-1] else last
    return msg


class DatasetError(MvlptError, ValueError):
    """Bad dataset content (empty class, label outside the class list, ...): one line, exit code 2."""

    def __init__(self, msg=""):
        super().__init__(_one_line(msg))


class DatasetLayoutError(MvlptError, FileNotFoundError):
    """A dataset folder or file is missing. The message names the path and how to fetch it."""

    def __init__(self, msg=""):
        super().__init__(_one_line(msg))


class ImageReadError(MvlptError, RuntimeError):
    """An image could not be read or decoded. The message names the file."""

    def __init__(self, msg=""):
        super().__init__(_one_line(msg))


def set_allow_truncated_images(flag: bool):
    """Process-wide switch behind ``DATASET.ALLOW_TRUNCATED_IMAGES`` (inherited by forked workers)."""
    global _ALLOW_TRUNCATED
    _ALLOW_TRUNCATED = bool(flag)


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
            raise DatasetLayoutError(f"zip archive not found: {path}; download it again (see datasets/elevater.md)")
        zf = zipfile.ZipFile(path, "r")
        _ZIP_CACHE[key] = zf
    return zf


def _open(path, zpath, member):
    if zpath is not None:
        zf = _zip(zpath)
        try:
            fh = zf.open(member)
        except KeyError:
            raise DatasetLayoutError(f"image not found: member {member!r} of {zpath}") from None
        with fh:
            img = Image.open(fh)
            img.load()
        return img
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"image not found: {path}; restore the file or remove it from the split")
    with open(path, "rb") as f:
        img = Image.open(f)
        img.load()
    return img


def read_image(path: str, allow_truncated=None) -> Image.Image:
    """Open an image as RGB (EXIF orientation applied).

    Raises :class:`DatasetLayoutError` (a ``FileNotFoundError``: missing) or :class:`ImageReadError`
    (corrupt or truncated), both naming the file. ``allow_truncated`` (default: the
    ``DATASET.ALLOW_TRUNCATED_IMAGES`` switch) loads a truncated file, grey-filling the missing part,
    with one warning per file.
    """
    zpath, member = split_zip_path(path)
    allow = _ALLOW_TRUNCATED if allow_truncated is None else bool(allow_truncated)
    try:
        try:
            img = _open(path, zpath, member)
        except OSError as e:
            if isinstance(e, FileNotFoundError) or "truncated" not in str(e).lower() or not allow:
                raise
            ImageFile.LOAD_TRUNCATED_IMAGES = True
            try:
                img = _open(path, zpath, member)
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = False
            if path not in _WARNED_TRUNCATED:
                _WARNED_TRUNCATED.add(path)
                warnings.warn(f"truncated image loaded with its missing part filled (DATASET.ALLOW_TRUNCATED_IMAGES): "
                              f"{path}")
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # noqa: BLE001 - broken EXIF must not lose the image
            pass
        return img.convert("RGB")
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001
        hint = ("it is truncated: re-download it, delete it from the split, or set DATASET.ALLOW_TRUNCATED_IMAGES "
                "True to load it grey-filled" if "truncated" in str(e).lower() else
                "the file is corrupt or not an image: re-download or delete it")
        raise ImageReadError(f"cannot read image {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                             f"; {hint}") from e


def read_json(path):
    """Load a JSON file; a malformed one is a :class:`DatasetError` naming the file and the line."""
    with open(path, "r", encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise DatasetError(f"cannot parse {path} (line {e.lineno}, column {e.colno}: {e.msg}); the file is "
                               f"truncated or not JSON: download it again") from None
        except UnicodeDecodeError as e:
            raise DatasetError(f"cannot parse {path}: not UTF-8 text ({e.reason}); download it again") from None


def write_json_atomic(obj, path, indent=None):
    """Write JSON via a temp file + rename (safe with concurrent readers and kills)."""
    atomic_write_json(path, obj, indent=indent)


def listdir_nohidden(path, sort=False):
    items = [f for f in os.listdir(path) if not f.startswith(".")]
    return sorted(items) if sort else items

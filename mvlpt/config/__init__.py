"""Configuration: Dassl-compatible defaults, strict yaml / command-line merging.

    >>> from mvlpt.config import get_cfg_default, merge_from_file, merge_from_list
    >>> cfg = get_cfg_default()
    >>> merge_from_file(cfg, "configs/trainers/CoOp/vit_b16.yaml")   # official yamls load too
    >>> merge_from_list(cfg, ["OPTIM.MAX_EPOCH", "5"])

Unknown keys raise :class:`~mvlpt.errors.ConfigError` naming the key and the closest valid one.
Official spellings are translated in :mod:`mvlpt.config.compat`.
"""
import ast
import difflib
import os

import yaml
from yacs.config import CfgNode

from mvlpt.config.compat import IGNORE, OFFICIAL_DATA_KEYS, translate
from mvlpt.config.defaults import get_cfg, get_cfg_default
from mvlpt.errors import ConfigError

__all__ = ["get_cfg_default", "get_cfg", "merge_from_file", "merge_from_list", "merge_from_dict",
           "all_keys", "load_yaml", "CfgNode", "ConfigError"]


def all_keys(cfg, prefix=""):
    """All leaf keys of ``cfg`` as dotted strings."""
    out = []
    for k, v in cfg.items():
        if isinstance(v, CfgNode):
            out.extend(all_keys(v, prefix + k + "."))
        else:
            out.append(prefix + k)
    return out


def _closest(cfg, key):
    keys = all_keys(cfg)
    leaf = key.rsplit(".", 1)[-1]
    cands = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if not cands:  # same leaf name somewhere else, or similar leaf in any node
        same = [k for k in keys if k.rsplit(".", 1)[-1] == leaf]
        cands = same[:1] or difflib.get_close_matches(key, keys, n=1, cutoff=0.3)
    return cands[0] if cands else None


def _flatten(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _coerce(key, new, old, source):
    if old is None or new is None:
        return new
    if isinstance(old, bool) or isinstance(new, bool):
        if isinstance(old, bool) and isinstance(new, bool):
            return new
        if isinstance(old, str) and isinstance(new, bool):  # "auto"-style keys (PIN_MEMORY, DROP_LAST)
            return str(new)
        if isinstance(old, bool) and isinstance(new, str) and new.lower() in ("true", "false"):
            return new.lower() == "true"
    elif type(new) is type(old):
        return new
    elif isinstance(old, float) and isinstance(new, int):
        return float(new)
    elif isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return type(old)(new)
    elif isinstance(old, (list, tuple)) and isinstance(new, (int, float, str)):
        return type(old)([new])
    elif isinstance(old, str) and isinstance(new, (int, float)):
        return str(new)
    raise ConfigError(f"config key {key} ({source}) expects {type(old).__name__} like {old!r}, "
                      f"got {type(new).__name__} {new!r}")


def _set(cfg, key, value, source, notes):
    key, value = translate(key, value)
    if value is IGNORE:
        notes.append(f"ignored {key} ({source}): option of a Dassl trainer that mvlpt does not have")
        return
    node = cfg
    parts = key.split(".")
    for i, p in enumerate(parts):
        if not isinstance(node, CfgNode) or p not in node:
            if key in OFFICIAL_DATA_KEYS:
                notes.append(f"ignored {key} ({source}): Dassl data option not used by mvlpt")
                return
            hint = _closest(cfg, key)
            msg = f"unknown config key {key} in {source}"
            if hint:
                msg += f"; did you mean {hint}?"
            raise ConfigError(msg + " (see `python -m mvlpt --list-keys`)")
        if i < len(parts) - 1:
            node = node[p]
    leaf = parts[-1]
    old = node[leaf]
    if isinstance(value, str) and not isinstance(old, str):
        value = _decode(value)  # yacs semantics: "1e-5", "(224, 224)", "True" from yaml or the command line
    if isinstance(old, CfgNode):
        raise ConfigError(f"config key {key} in {source} is a group; set one of its keys, "
                          f"e.g. {key}.{next(iter(old.keys()))}")
    node[leaf] = _coerce(key, value, old, source)


def _was_frozen(cfg):
    frozen = cfg.is_frozen()
    if frozen:
        cfg.defrost()
    return frozen


def merge_from_dict(cfg, data, source="<dict>"):
    """Merge a nested dict (as read from yaml) into ``cfg``; returns a list of notes (ignored keys)."""
    notes = []
    frozen = _was_frozen(cfg)
    try:
        for key, value in _flatten(data):
            _set(cfg, key, value, source, notes)
    finally:
        if frozen:
            cfg.freeze()
    return notes


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (yaml keeps the last one
    silently, so ``LR: 0.002`` ... ``LR: 0.02`` would train with the second)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue  # let the base class report unhashable keys
            if key in seen:
                raise _DuplicateKey(key, seen[key], key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key, first, second):
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def load_yaml(path):
    """Read a yaml file safely (no code runs), refusing duplicate keys; errors are one
    :class:`ConfigError` line naming the file and the line."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as e:
        raise ConfigError(f"duplicate key {e.key} in {path} (lines {e.first} and {e.second}); keep one of "
                          f"them (yaml would silently use the last)") from None


def merge_from_file(cfg, path):
    """Merge a yaml file into ``cfg`` (official method yamls accepted); returns notes on ignored keys.

    A key given twice in one mapping of the file is a :class:`ConfigError` naming both lines."""
    if not path or not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}; check the path (relative paths are "
                          f"resolved from {os.getcwd()})")
    try:
        data = load_yaml(path)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"YAML syntax error in {path}{where}: {problem}; fix the file "
                          f"(indent with spaces, 'KEY: value')") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys (KEY: value), "
                          f"got {type(data).__name__}")
    return merge_from_dict(cfg, data, source=path)


def _decode(v):
    if not isinstance(v, str):
        return v
    try:
        return ast.literal_eval(v)
    except (ValueError, SyntaxError):
        if v.lower() in ("true", "false"):
            return v.lower() == "true"
        return v


def merge_from_list(cfg, opts):
    """Merge ``KEY VALUE KEY VALUE ...`` command-line options (values parsed like yacs)."""
    opts = list(opts or [])
    if len(opts) % 2:
        raise ConfigError(f"config options must be KEY VALUE pairs; {opts[-1]!r} has no value")
    notes = []
    frozen = _was_frozen(cfg)
    try:
        for k, v in zip(opts[0::2], opts[1::2]):
            _set(cfg, k, v, "command line", notes)
    finally:
        if frozen:
            cfg.freeze()
    return notes

"""The method registry: a method is one learner class and one decorator.

    >>> from mvlpt.prompts.registry import register_method, METHODS
    >>> from mvlpt.prompts.base import PromptLearner
    >>> @register_method("MyPrompt", cfg_node="MYPROMPT", prec="fp32")
    ... class MyPrompt(PromptLearner):
    ...     def __init__(self, clip, classnames, n_ctx: int = 4, **kw):
    ...         ...
    >>> METHODS["MyPrompt"].defaults["N_CTX"]
    4

The decorator records a :class:`MethodSpec`: the learner class, its ``TRAINER.<cfg_node>`` config node
(derived from the constructor's signature and defaults, written once, plus ``PREC``), the official
key renames inside that node, and the official trainer name. The config defaults, the trainer
registry and the MVLPT recipe read this table; nothing else lists methods. This module sits at the
bottom of the package: it imports nothing from the engine.
"""
import inspect
from dataclasses import dataclass, field
from typing import Dict, Tuple

#: constructor arguments that are not configuration
_NOT_CONFIG = ("self", "clip", "classnames")


@dataclass(frozen=True)
class MethodSpec:
    name: str                      # the official trainer name (``TRAINER.NAME``, ``--trainer``)
    learner: type                  # the PromptLearner subclass
    cfg_node: str                  # ``TRAINER.<cfg_node>``
    defaults: Dict[str, object]    # {CONFIG_KEY: default}, from the constructor (+ ``PREC``)
    renames: Dict[str, str] = field(default_factory=dict)  # official key in the node -> ours
    aliases: Tuple[str, ...] = ()  # other trainer names that select this method


METHODS: Dict[str, MethodSpec] = {}


def constructor_defaults(cls) -> Dict[str, object]:
    """``{ARG_NAME_UPPER: default}`` for every keyword argument of ``cls.__init__`` with a default,
    following ``**kwargs`` into the parent classes' constructors (so the base class's ``text_chunk``
    etc. appear too). Tuples become lists (YACS)."""
    out = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        has_var_kw = False
        for p in params:
            if p.kind is p.VAR_KEYWORD:
                has_var_kw = True
            elif p.name not in _NOT_CONFIG and p.default is not p.empty and p.name.upper() not in out:
                v = p.default
                out[p.name.upper()] = list(v) if isinstance(v, tuple) else v
        if not has_var_kw:
            break
    return out


def register_method(name: str = None, cfg_node: str = None, prec: str = "fp32", renames: Dict[str, str] = None,
                    aliases: Tuple[str, ...] = ()):
    """Class decorator: register a :class:`~mvlpt.prompts.base.PromptLearner` subclass as a method.

    ``name``: the trainer name (default: the class name); ``cfg_node``: its config node (default: the
    name upper-cased); ``prec``: the default ``PREC`` of the node (the official yaml's); ``renames``:
    official spellings of keys inside the node (``{"CLASS_TOKEN_POSITION": "POSITION"}``)."""

    def deco(cls):
        n = name or cls.__name__
        if n in METHODS and METHODS[n].learner is not cls:
            raise KeyError(f"a method named {n!r} is already registered ({METHODS[n].learner.__module__})")
        defaults = constructor_defaults(cls)
        defaults["PREC"] = prec
        METHODS[n] = MethodSpec(n, cls, cfg_node or n.upper(), defaults, dict(renames or {}), tuple(aliases))
        return cls

    return deco


def method_names():
    """Registered method names, in registration order."""
    return list(METHODS)


def get_method(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of a method name or alias; ``KeyError`` with a did-you-mean otherwise."""
    if name in METHODS:
        return METHODS[name]
    for spec in METHODS.values():
        if name in spec.aliases:
            return spec
    import difflib

    lowered = {k.lower(): k for k in METHODS}
    close = [lowered[c] for c in difflib.get_close_matches(str(name).lower(), list(lowered), n=2, cutoff=0.4)]
    raise KeyError(f"unknown prompt learner {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                   + f" (available: {', '.join(METHODS)})")


def official_renames() -> Dict[str, str]:
    """The one table of official config spellings: ``TRAINER.<NODE>.<official>`` → ``TRAINER.<NODE>.<ours>``,
    from every method's ``renames``."""
    return {f"TRAINER.{s.cfg_node}.{old}": f"TRAINER.{s.cfg_node}.{new}"
            for s in METHODS.values() for old, new in s.renames.items()}


def kwargs_from_node(spec: MethodSpec, node) -> Dict[str, object]:
    """Constructor kwargs from a ``TRAINER.<NODE>`` mapping (ours or an official dump): official key
    spellings renamed, keys the constructor does not take (``PREC``, other methods' options) dropped,
    lists turned into tuples."""
    out = {}
    for k, v in dict(node or {}).items():
        k = spec.renames.get(k, k)
        if k == "PREC" or k not in spec.defaults:
            continue
        out[k.lower()] = tuple(v) if isinstance(v, list) else v
    return out

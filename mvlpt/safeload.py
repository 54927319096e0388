"""Loading checkpoint files without ever running code from them.

Policy (every checkpoint mvlpt reads goes through :func:`safe_torch_load`):

1. ``torch.load(weights_only=True)`` - PyTorch's own restricted unpickler. Every file mvlpt writes
   loads this way (tensors, numbers, strings, plain containers only).
2. Files that need more - official Dassl checkpoints pickle LR-scheduler *objects* (and numpy
   scalars) - are read by :class:`RestrictedUnpickler`: an explicit allow-list (torch tensor and
   storage rebuilds, ``collections.OrderedDict``, torch dtypes/sizes/devices, numpy scalars and arrays,
   plain builtin types) is admitted; any other class becomes an inert placeholder (:class:`Inert`) that
   records its name and pickled state and runs nothing. A pickle that *calls* anything outside the
   allow-list (``os.system``, ``eval``, ``subprocess.Popen``, a class constructor, ...) is refused with
   :class:`UnsafeCheckpointError` naming the global before anything is called.

No flag turns this off: there is no "trusted file" path that unpickles without restriction.

    >>> import io, torch
    >>> buf = io.BytesIO(); torch.save({"ctx": torch.zeros(2)}, buf); _ = buf.seek(0)
    >>> safe_torch_load(buf)["ctx"].shape
    torch.Size([2])
"""
import builtins
import collections
import pickle
import re
import warnings
import zipfile

import torch

__all__ = ["UnsafeCheckpointError", "Inert", "RestrictedUnpickler", "safe_torch_load", "inert_state",
           "read_torchscript_tensors"]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file asks to call a global that is not on the allow-list; nothing was called."""


class Inert:
    """Stand-in for a pickled object of a class outside the allow-list: holds the class's dotted name
    (``mvlpt_global``) and the pickled state (``mvlpt_state``; dict states also become attributes).
    Creating one (pickle's NEWOBJ) and giving it state (BUILD) runs no code of the original class;
    *calling* the class (REDUCE, i.e. ``cls(*args)``) is refused."""

    mvlpt_global = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        object.__setattr__(obj, "mvlpt_args", args)
        object.__setattr__(obj, "mvlpt_state", None)
        return obj

    def __init__(self, *args, **kwargs):  # only reached through a call: cls(*args)
        raise UnsafeCheckpointError(f"refusing to call {self.mvlpt_global}(...) while unpickling: it is not "
                                    f"on mvlpt's allow-list")

    def __setstate__(self, state):
        object.__setattr__(self, "mvlpt_state", state)
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}  # (dict state, slot state)
        if isinstance(state, dict):
            for k, v in state.items():
                if isinstance(k, str) and not k.startswith("mvlpt_"):
                    object.__setattr__(self, k, v)

    def __repr__(self):
        return f"<inert {self.mvlpt_global}>"


def inert_state(obj) -> dict:
    """The recorded attribute dict of an :class:`Inert` (e.g. a pickled Dassl scheduler's fields)."""
    if isinstance(obj, Inert):
        return {k: v for k, v in vars(obj).items() if not k.startswith("mvlpt_")}
    raise TypeError(f"not an inert placeholder: {type(obj).__name__}")


def _placeholder(module: str, name: str):
    return type(name, (Inert,), {"__module__": "mvlpt.safeload.inert", "__qualname__": name,
                                 "mvlpt_global": f"{module}.{name}"})


def _allowed():
    import torch._utils as tu

    table = {("collections", "OrderedDict"): collections.OrderedDict, ("collections", "defaultdict"): _defaultdict,
             ("torch", "Size"): torch.Size, ("torch", "device"): torch.device}
    for n in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
              "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy"):
        if hasattr(tu, n):
            table[("torch._utils", n)] = getattr(tu, n)
    for n in ("set", "frozenset", "slice", "complex", "bytearray", "range", "bool", "int", "float", "str",
              "bytes", "list", "dict", "tuple"):
        table[("builtins", n)] = getattr(builtins, n)
        table[("__builtin__", n)] = getattr(builtins, n)
    try:  # numpy scalars / arrays (val_result, RNG states of official files)
        import numpy as np

        for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
            table[(mod, "scalar")] = _np_scalar
            table[(mod, "_reconstruct")] = _np_reconstruct
        table[("numpy", "dtype")] = _np_dtype
        table[("numpy", "ndarray")] = np.ndarray
        for t in ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "uint32",
                  "uint64", "bool_"):
            if hasattr(np, t):
                table[("numpy", t)] = getattr(np, t)
    except ImportError:
        pass
    return table


def _defaultdict(factory=None, *args):
    if factory not in (None, dict, list, set, int, float, str, tuple, collections.OrderedDict):
        raise UnsafeCheckpointError(f"refusing collections.defaultdict with factory {factory!r}")
    return collections.defaultdict(factory, *args)


def _np_dtype(spec, align=False, copy=False):
    import numpy as np

    if not isinstance(spec, str) or spec.startswith(("O", "|O")):
        raise UnsafeCheckpointError(f"refusing numpy dtype {spec!r} (object dtypes unpickle arbitrary objects)")
    return np.dtype(spec, align, copy)


def _np_scalar(dtype, data=None):
    import numpy as np

    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafeCheckpointError("refusing a numpy object scalar")
    return np.frombuffer(data, dtype=dtype, count=1)[0] if data is not None else dtype.type()


def _np_reconstruct(cls, shape, dtype_bytes):
    import numpy as np

    if cls is not np.ndarray:
        raise UnsafeCheckpointError("refusing a numpy array subclass")
    return np.ndarray.__new__(np.ndarray, shape, np.uint8)


_ALLOWED = None


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` returns allow-listed callables, torch dtypes, or
    :class:`Inert` placeholder classes; never imports a module."""

    def find_class(self, module, name):
        global _ALLOWED
        if _ALLOWED is None:
            _ALLOWED = _allowed()
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module == "torch" and name.endswith("Storage") and hasattr(torch, name):
            return getattr(torch, name)
        return _placeholder(module, name)


class _RestrictedPickleModule:
    """The ``pickle_module`` handed to ``torch.load``: only the restricted unpickler."""

    __name__ = "mvlpt.safeload"
    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def load(f, **kwargs):
        return RestrictedUnpickler(f, **kwargs).load()


def safe_torch_load(f, map_location="cpu"):
    """``torch.load`` that never runs code from the file (see the module docstring)."""
    seekable = hasattr(f, "seek")
    start = f.tell() if seekable else None
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        pass  # needs more than torch's allow-list: try ours
    if seekable:
        f.seek(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.load(f, map_location=map_location, weights_only=False, pickle_module=_RestrictedPickleModule)
        except UnsafeCheckpointError:
            raise
        except (TypeError, AttributeError) as e:  # e.g. a placeholder used where a real object is needed
            raise UnsafeCheckpointError(f"the file needs objects outside mvlpt's allow-list: {e}") from None


# --------------------------------------------------------------------------- TorchScript archives
_CLASS_DECL = re.compile(r"^class (\w+)\(Module\):\n  __parameters__ = \[(.*?)\]\n  __buffers__ = \[(.*?)\]", re.M)


def read_torchscript_tensors(path: str) -> "collections.OrderedDict":
    """The state dict (parameters and buffers, as ``Module.state_dict()`` names them) of a TorchScript
    archive (OpenAI's CLIP ``.pt`` releases), read **without** ``torch.jit.load``: the archive's
    ``data.pkl`` goes through :class:`RestrictedUnpickler` (modules become inert records), tensors
    come from its storage files, and which attributes are parameters/buffers is read from the class
    declarations in ``code/`` as text. No TorchScript code is compiled or run."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            raise ValueError(f"{path} is not a TorchScript archive (no data.pkl)")
        root = pkl[0].split("/")[0]
        if f"{root}/byteorder" in names and z.read(f"{root}/byteorder").decode().strip() != "little":
            raise ValueError(f"{path}: big-endian TorchScript archives are not supported")
        declared = {}
        for n in names:
            if n.startswith(f"{root}/code/") and n.endswith(".py"):
                module = n[len(f"{root}/code/"):-3].replace("/", ".")
                for cls, params, bufs in _CLASS_DECL.findall(z.read(n).decode("utf-8", "replace")):
                    declared[f"{module}.{cls}"] = set(re.findall(r'"(\w+)"', params + bufs))

        def persistent_load(pid):
            if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
                raise UnsafeCheckpointError(f"unexpected persistent id {pid!r}")
            _, stype, key, _location, _numel = pid
            dtype = stype.dtype if hasattr(stype, "dtype") else stype
            raw = bytearray(z.read(f"{root}/data/{key}"))
            untyped = torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8) if raw else torch.UntypedStorage(0)
            return torch.storage.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)

        with z.open(pkl[0]) as f:
            up = RestrictedUnpickler(f)
            up.persistent_load = persistent_load
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                top = up.load()

    out = collections.OrderedDict()

    def walk(obj, prefix):
        keep = declared.get(obj.mvlpt_global)
        for k, v in vars(obj).items():
            if k.startswith("mvlpt_"):
                continue
            if isinstance(v, torch.Tensor) and (keep is None or k in keep):
                out[prefix + k] = v.detach()
            elif isinstance(v, Inert):
                walk(v, prefix + k + ".")

    if not isinstance(top, Inert):
        raise ValueError(f"{path}: the archive does not hold a module")
    walk(top, "")
    return out

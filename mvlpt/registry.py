"""Name → class registries, shaped like Dassl's / fvcore's ``Registry``.

    >>> from mvlpt.registry import Registry
    >>> R = Registry("DEMO")
    >>> @R.register()
    ... class Foo: pass
    >>> R.get("Foo") is Foo
    True

This module and :mod:`mvlpt.errors` are the bottom of the package: they import nothing from it.
Registries are filled when ``mvlpt`` is imported (the packages that define trainers, datasets and
evaluators import their modules), so users never import a module by hand. An unknown name raises
``KeyError`` whose message lists the closest registered names ("did you mean ...").
"""
import difflib


class Registry:
    """Name -> object map. ``autoload``: modules imported on the first lookup (they register the
    objects), so ``import mvlpt`` stays light and lookups still see every registered name."""

    def __init__(self, name, autoload=()):
        self._name = name
        self._obj_map = {}
        self._autoload = tuple(autoload)
        self._loaded = not self._autoload
        self._dynamic = None  # (names_fn, make_fn): objects made on demand (method trainers)

    def set_dynamic(self, names_fn, make_fn):
        """Names listed by ``names_fn()`` resolve to ``make_fn(name)`` (registered on first lookup);
        the trainer registry uses it so that every registered method has a trainer, whenever it
        was registered."""
        self._dynamic = (names_fn, make_fn)

    def _make(self, name):
        if self._dynamic is not None and name not in self._obj_map and name in self._dynamic[0]():
            self._obj_map[name] = self._dynamic[1](name)

    def _ensure_loaded(self):
        if self._loaded:
            return
        self._loaded = True  # set first: the modules being imported may look names up themselves
        import importlib

        for mod in self._autoload:
            importlib.import_module(mod)

    def _do_register(self, name, obj, force=False):
        if name in self._obj_map and not force and self._obj_map[name] is not obj:
            raise KeyError(f'An object named "{name}" was already registered in the {self._name} registry')
        self._obj_map[name] = obj

    def register(self, obj=None, name=None, force=False):
        """Use as ``@R.register()``, ``@R.register(name="X")`` or ``R.register(obj)``."""
        if obj is None:
            def deco(func_or_class):
                self._do_register(name or func_or_class.__name__, func_or_class, force=force)
                return func_or_class
            return deco
        self._do_register(name or obj.__name__, obj, force=force)
        return obj

    def get(self, name):
        if name not in self._obj_map:
            self._ensure_loaded()
            self._make(name)
        if name not in self._obj_map:
            raise KeyError(self.unknown_message(name))
        return self._obj_map[name]

    def unknown_message(self, name):
        choices = self.registered_names()
        close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.5)
        lower = [c for c in choices if c.lower() == str(name).lower()]
        hint = lower or close
        msg = f'unknown {self._name.lower()} "{name}"'
        if hint:
            msg += f"; did you mean {' or '.join(repr(h) for h in hint)}?"
        msg += f" (registered: {', '.join(choices)})"
        return msg

    def registered_names(self):
        self._ensure_loaded()
        dyn = list(self._dynamic[0]()) if self._dynamic is not None else []
        return sorted(set(self._obj_map) | set(dyn))

    def __contains__(self, name):
        if name not in self._obj_map:
            self._ensure_loaded()
            self._make(name)
        return name in self._obj_map

    def __iter__(self):
        for n in self.registered_names():
            self._make(n)
        return iter(sorted(self._obj_map.items()))

    def __repr__(self):
        return f"Registry({self._name}: {', '.join(self.registered_names())})"


TRAINER_REGISTRY = Registry("TRAINER", autoload=("mvlpt.trainers",))
DATASET_REGISTRY = Registry("DATASET", autoload=("mvlpt.data",))
EVALUATOR_REGISTRY = Registry("EVALUATOR", autoload=("mvlpt.engine.evaluator",))

"""Model registry: built-in processes plus third-party ones from entry points."""

from __future__ import annotations

import warnings
from importlib import import_module, metadata

from absorbphys._params import UsageError, first_line
from absorbphys._process import AbsorbingProcess

ENTRY_POINT_GROUP = "absorbphys.models"

# Built-in models register themselves (``@register``) when ``absorbphys.models`` is imported;
# that import happens lazily, on the first registry lookup. A plugin (entry point) is imported
# only when its name is asked for, or when every model is listed.
_REGISTRY: dict[str, type] = {}
_loaded_entry_points = False


def register(cls=None, *, name=None):
    """Register an :class:`~absorbphys.AbsorbingProcess` subclass under ``cls.name``.

    Usable as a decorator. Third-party packages normally use the entry-point group
    ``absorbphys.models`` instead (``name = "package.module:Class"``).

    Parameters
    ----------
    cls : type
        The process class.
    name : str, optional
        Registry name (default: ``cls.name``).

    Returns
    -------
    type
        ``cls`` unchanged.
    """

    def deco(c):
        if not (isinstance(c, type) and issubclass(c, AbsorbingProcess)):
            raise TypeError(f"only AbsorbingProcess subclasses can be registered, got {c!r}")
        key = name or c.name
        if not key:
            raise ValueError(f"{c.__name__} has no registry name (class attribute 'name')")
        _REGISTRY[key] = c
        return c

    return deco(cls) if cls is not None else deco


def _load_builtins():
    import_module("absorbphys.models")


def _load_entry_point(ep, strict: bool):
    """Register the plugin class of entry point ``ep``; a broken plugin warns (or raises)."""
    try:
        cls = ep.load()
        register(cls, name=ep.name)
    except Exception as exc:  # a broken plugin must not break the framework
        msg = (f"could not load model plugin {ep.name!r} ({ep.value}): "
               f"{type(exc).__name__}: {first_line(exc)}")
        if strict:
            raise UsageError(msg) from None

        warnings.warn(f"absorbphys: {msg}", RuntimeWarning, stacklevel=3)


def _load_all():
    global _loaded_entry_points
    _load_builtins()
    if not _loaded_entry_points:
        _loaded_entry_points = True
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in _REGISTRY:
                _load_entry_point(ep, strict=False)


def list_models() -> dict[str, type]:
    """Return all registered models, built-in and from entry points, sorted by name.

    Returns
    -------
    dict of str to type
        ``{registry name: AbsorbingProcess subclass}``.
    """
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get_model(name: str) -> type:
    """Return the process class registered as ``name``.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"dp"``, ``"contact"``, ``"mlp"`` (see ``absorbphys models``).

    Returns
    -------
    type
        The :class:`~absorbphys.AbsorbingProcess` subclass.

    Raises
    ------
    UsageError
        If no model has that name (the message lists the registered ones), or its plugin
        fails to import.

    Notes
    -----
    Only the plugin that provides ``name`` is imported (as xarray loads its backends):
    asking for a built-in model runs no third-party code.
    """
    if name not in _REGISTRY:
        _load_builtins()
    if name not in _REGISTRY and not _loaded_entry_points:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
            _load_entry_point(ep, strict=True)
            break
    if name not in _REGISTRY:
        _load_all()
    if name not in _REGISTRY:
        raise UsageError(f"unknown model {name!r}; registered models: "
                         f"{', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]

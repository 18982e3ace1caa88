"""Configuration in one place: options, ``ABSORBPHYS_*`` environment variables, ``set_options``.

Options
-------
progress : bool
    Show progress bars (``ABSORBPHYS_PROGRESS``; default: when stderr is a terminal or the code
    runs in a Jupyter kernel, never when stderr is piped).
threading_layer : str
    Numba threading layer (``ABSORBPHYS_THREADING_LAYER``, default ``"workqueue"``). Numba's
    default OpenMP layer busy-waits between the time steps of a kernel, which makes two
    threads 4-15x *slower* than one on small VMs; workqueue does not. It is applied before
    the first parallel kernel runs, unless ``NUMBA_THREADING_LAYER`` is set.
backend : str
    Default backend for ``simulate`` and ``sweep`` (``ABSORBPHYS_BACKEND``, default ``"cpu"``).
"""

from __future__ import annotations

import os
import sys

import numba

_DEFAULTS = {
    "progress": None,  # None = auto (stderr is a TTY)
    "threading_layer": "workqueue",
    "backend": "cpu",
}
_VALID = {
    "progress": (None, True, False),
    "threading_layer": ("workqueue", "omp", "tbb", "default", "safe", "threadsafe", "forksafe"),
    "backend": ("cpu", "cuda", "auto"),
}


def _from_env():
    opts = dict(_DEFAULTS)
    v = os.environ.get("ABSORBPHYS_PROGRESS")
    if v is not None:
        opts["progress"] = v.strip().lower() in ("1", "true", "yes", "on")
    for key in ("threading_layer", "backend"):
        v = os.environ.get("ABSORBPHYS_" + key.upper())
        if v:
            opts[key] = v.strip().lower()
    return opts


OPTIONS = _from_env()


def get_option(name):
    """Return the current value of an option."""
    if name not in OPTIONS:
        raise ValueError(f"unknown option {name!r}; valid options: {', '.join(OPTIONS)}")
    return OPTIONS[name]


def _in_jupyter() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def show_progress() -> bool:
    """Return whether progress bars should be drawn now."""
    p = OPTIONS["progress"]
    if p is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)()) or _in_jupyter()
    return bool(p)


class set_options:  # noqa: N801  (a function-like name, as xarray.set_options)
    """Set options, for good or for a ``with`` block — like :func:`xarray.set_options`.

    Called plainly, the new values stay; used as a context manager, the old ones come back
    on exit. Names and values are checked on the spot.

    Parameters
    ----------
    **kwargs
        Option names and values: ``progress`` (None, True, False), ``threading_layer``
        (Numba layer name) and ``backend`` ("cpu", "cuda", "auto").

    Raises
    ------
    ValueError
        Unknown option or value (nothing is changed).

    Examples
    --------
    >>> import absorbphys
    >>> with absorbphys.set_options(progress=False):
    ...     pass
    >>> _ = absorbphys.set_options(backend="cpu")  # stays set
    """

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            if k not in OPTIONS:
                raise ValueError(f"unknown option {k!r}; valid options: {', '.join(OPTIONS)}")
            if v not in _VALID[k]:
                raise ValueError(f"option {k} must be one of {_VALID[k]}, got {v!r}")
        self.old = {k: OPTIONS[k] for k in kwargs}
        OPTIONS.update(kwargs)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        OPTIONS.update(self.old)
        return False


def configure_numba():
    """Apply the threading layer before the first parallel kernel (idempotent)."""
    if "NUMBA_THREADING_LAYER" in os.environ:
        return

    layer = OPTIONS["threading_layer"]
    if numba.config.THREADING_LAYER != layer:
        try:
            numba.config.THREADING_LAYER = layer
        except Exception:  # pragma: no cover - read-only in exotic builds
            pass

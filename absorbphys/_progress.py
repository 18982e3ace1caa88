"""Progress bars: tqdm (``tqdm.auto``: a widget in Jupyter, text in a terminal).

Every piece of work that can take more than a few seconds (simulation batches, sweep points,
benchmark stages, training runs, bootstrap refits) reports through :class:`Progress`, with its
unit. Whether bars are drawn is the ``progress`` option (:func:`absorbphys.set_options`,
``ABSORBPHYS_PROGRESS``): by default in a terminal and in Jupyter, never when stderr is piped
or under ``--quiet``.
"""

from __future__ import annotations

import contextlib
import sys

from absorbphys.config import show_progress


class Progress:
    """Context manager around a :class:`tqdm.auto.tqdm` bar (or nothing, when disabled).

    Parameters
    ----------
    total : int
        Number of units of work.
    desc : str
        Label.
    enabled : bool, optional
        Draw at all (default: the ``progress`` option, see :func:`absorbphys.set_options`).
    unit : str
        Name of one unit of work (``"batch"``, ``"point"``, ``"refit"`` ...): tqdm shows the
        rate in units per second.
    stream : file, optional
        Where to draw in a terminal (default ``sys.stderr``).
    """

    def __init__(self, total, desc="", enabled=None, unit="it", stream=None):
        self.total = max(int(total), 1)
        self.desc = desc
        self.unit = unit
        self.enabled = show_progress() if enabled is None else bool(enabled)
        self.stream = stream
        self.done = 0
        self._bar = None

    def __enter__(self):
        if self.enabled:
            from tqdm.auto import tqdm  # deferred: tqdm.auto probes for Jupyter

            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit,
                             file=self.stream or sys.stderr, leave=True, dynamic_ncols=True,
                             mininterval=0.2)
        return self

    def update(self, n=1):
        """Record ``n`` more units done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        return False


def _compile_listener(what, stream):
    from numba.core import event  # its compile events fire on compilation, not cache loads

    class CompileListener(event.Listener):
        """Says once that kernels are being compiled."""

        shown = False

        def on_start(self, ev):
            if not self.shown:
                self.shown = True
                print(f"absorbphys: compiling the {what} kernels (first run only: later runs "
                      "load them from the cache)", file=stream or sys.stderr, flush=True)

        def on_end(self, ev):
            pass

    return event, CompileListener()


@contextlib.contextmanager
def compile_notice(what: str, enabled=None, stream=None):
    """Print one line when Numba starts compiling inside the block (never on a cache hit).

    Parameters
    ----------
    what : str
        What is compiled, e.g. the model name.
    enabled : bool, optional
        Default: the ``progress`` option.
    stream : file, optional
        Default ``sys.stderr``.

    Yields
    ------
    None
    """
    if not (show_progress() if enabled is None else enabled):
        yield
        return
    event, listener = _compile_listener(what, stream)
    with event.install_listener("numba:compile", listener):
        yield

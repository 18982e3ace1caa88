"""A dependency-free progress bar on stderr (points or batches done, rate, ETA)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Context manager drawing ``desc [#####.....] done/total  ETA 0:12`` on stderr.

    Parameters
    ----------
    total : int
        Number of units of work.
    desc : str
        Label.
    enabled : bool, optional
        Draw at all (default: the ``progress`` option; off when stderr is not a terminal).
    stream : file, optional
        Where to draw (default ``sys.stderr``).
    """

    def __init__(self, total, desc="", enabled=None, stream=None):
        from absorbphys.config import show_progress

        self.total = max(int(total), 1)
        self.desc = desc
        self.enabled = show_progress() if enabled is None else bool(enabled)
        self.stream = stream or sys.stderr
        self.done = 0
        self._t0 = time.monotonic()
        self._last = 0.0

    def __enter__(self):
        self._t0 = time.monotonic()
        self._draw(force=True)
        return self

    def update(self, n=1):
        """Record ``n`` more units done."""
        self.done += n
        self._draw()

    def _draw(self, force=False, final=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and not final and now - self._last < 0.2:
            return
        self._last = now
        frac = min(self.done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        el = now - self._t0
        if self.done and not final:
            eta = el * (self.total - self.done) / self.done
            tail = f"ETA {int(eta // 60)}:{int(eta % 60):02d}"
        else:
            tail = f"{int(el // 60)}:{int(el % 60):02d}"
        self.stream.write(f"\r{self.desc} [{bar}] {self.done}/{self.total}  {tail}")
        if final:
            self.stream.write("\n")
        self.stream.flush()

    def __exit__(self, *exc):
        self._draw(final=True)
        return False

"""Small helpers shared by the kernels of the models (per-batch sums).

Every kernel returns per-batch sums ``(rho, rho2, survival, n_active[, r2])`` of shape
``(nb, nt)`` (see :class:`absorbphys.AbsorbingProcess`). :func:`alloc_sums` and
:func:`record_sums` allocate them and add one sample's observables at one output time; they
are inlined (``inline="always"``), so a kernel compiles to the same code as with the lines
written out. :func:`sums_dict` turns the sums into the dict ``_run`` returns.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def alloc_sums(nb, nt):
    """Allocate the zeroed per-batch sums ``(rho, rho2, survival, n_active)``.

    Parameters
    ----------
    nb, nt : int
        Number of batches and of output times.

    Returns
    -------
    tuple of numpy.ndarray
        Four float64 arrays of shape ``(nb, nt)``.
    """
    return np.zeros((nb, nt)), np.zeros((nb, nt)), np.zeros((nb, nt)), np.zeros((nb, nt))


@njit(cache=True, inline="always")
def record_sums(rho, rho2, surv, nact, b, ti, r, count):
    """Add one sample's observables at output time ``ti`` to the sums of batch ``b``.

    Parameters
    ----------
    rho, rho2, surv, nact : numpy.ndarray
        Per-batch sums, shape ``(nb, nt)``.
    b, ti : int
        Batch and output-time index.
    r : float
        The sample's order parameter (density) ``rho``.
    count : int or float
        The sample's number of active sites; the sample survives iff ``count > 0``.
    """
    rho[b, ti] += r
    rho2[b, ti] += r * r
    if count > 0:
        surv[b, ti] += 1.0
    nact[b, ti] += count


def sums_dict(sums, seed):
    """Return the per-batch sums as the dict that ``AbsorbingProcess._run`` returns.

    Parameters
    ----------
    sums : tuple of numpy.ndarray
        ``(rho, rho2, survival, n_active[, r2])`` as returned by a kernel.
    seed : bool
        Whether the run started from a seed; ``n_active`` (and ``r2``, when the kernel gives
        it) are kept only then.

    Returns
    -------
    dict
        Keys ``rho``, ``rho2``, ``survival`` and, for seed runs, ``n_active`` and ``r2``.
    """
    out = {"rho": sums[0], "rho2": sums[1], "survival": sums[2]}
    if seed:
        out["n_active"] = sums[3]
        if len(sums) > 4:
            out["r2"] = sums[4]
    return out

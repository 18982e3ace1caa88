"""Shared helpers of the CUDA backend: lazy import, the device RNG, launch shapes, batch sums.

Nothing here is imported by ``import absorbphys``; the CUDA kernel modules
(``absorbphys.models._*_cuda``) import this module when a process runs with
``backend="cuda"``. Without a GPU (and without ``NUMBA_ENABLE_CUDASIM=1``) :func:`require`
raises the one-line :class:`~absorbphys.UsageError` of :func:`absorbphys._backends.resolve_backend`.

The device random-number generator is :mod:`absorbphys.kernels.rng` compiled with
``cuda.jit(device=True)`` (:func:`absorbphys.kernels.rng.compile_with`), so a kernel draws
exactly the 64-bit words the CPU kernels draw: lattice trajectories are bit-identical across
backends.
Two details of the CUDA target shape this module:

* device functions must be module-level globals of the kernel's module (a kernel cannot call
  ``ns.draw`` through a namespace object), so kernel modules bind them by name:
  ``draw = DEV.draw``;
* numba-cuda lowers ``math.sqrt`` but not the scalar ``np.sqrt`` ufunc, so ``normal_pair`` is
  re-declared here with ``math`` functions (same draws, same Box–Muller formula; the float
  results agree with the CPU to rounding, which is what the network tests ask for).

Simulator: with ``NUMBA_ENABLE_CUDASIM=1`` (set before numba is imported) every kernel runs in
Python threads; this is how CI tests the kernels without a GPU.
"""

from __future__ import annotations

import math
import sys
import threading
import types

import numpy as np
from numba import njit
from numba.core import config as numba_config
from numba.core import types as nb_types
from numba.np import numpy_support

from absorbphys._backends import resolve_backend
from absorbphys.kernels import rng as _rng
from absorbphys.kernels.sums import alloc_sums, record_sums

#: Threads per block used by the 1-D launches.
THREADS = 128
#: Largest grid y/z extent.
MAX_GRID_Y = 65535

_DEV = None


def simulator() -> bool:
    """Return whether Numba's CUDA simulator is active (``NUMBA_ENABLE_CUDASIM=1``)."""
    return bool(getattr(numba_config, "ENABLE_CUDASIM", 0))


def sim_guard(*namespaces):
    """Under the simulator, give each globals dict its warnings registry up front.

    The simulator calls device functions from many Python threads and, at every call, iterates
    over the function's globals; a numpy overflow warning (the generator's uint64 arithmetic
    wraps on purpose) makes Python insert ``__warningregistry__`` into the globals of the
    warning frame, which can change the dict's size during another thread's iteration
    (``RuntimeError: dictionary changed size during iteration``). Creating the registry first
    removes the race. No effect on a GPU.

    Parameters
    ----------
    *namespaces : dict
        Globals dicts of functions that run inside simulated kernels.
    """
    if simulator():
        for ns in namespaces:
            ns.setdefault("__warningregistry__", {})


_SIM_PATCHED = False


def patch_simulator():
    """Make the CUDA simulator's shared-memory allocation thread-safe (simulator only).

    ``numba.cuda.simulator.kernelapi.FakeCUDAShared.array`` (numba 0.68) looks up the
    block's array for the calling source line and creates it if missing, with no lock. The
    threads of a block all run that line at the start of the kernel; when the interpreter
    switches threads between the lookup and the store, two threads create two arrays and the
    one whose array is overwritten in the table writes its part of the reduction into an
    orphan: a count is silently lost (the rare CUDA-simulator failures of a DK or CNN launch
    seen on a loaded machine). Serialising the lookup-and-create with a lock removes the
    race; it costs nothing on a GPU, where this is never called. Idempotent.
    """
    global _SIM_PATCHED
    if _SIM_PATCHED or not simulator():
        return

    from numba.cuda.simulator import kernelapi  # numba-cuda's simulator: exists only there

    shared = getattr(kernelapi, "FakeCUDAShared", None)
    original = getattr(shared, "array", None)
    try:
        known = original is not None and isinstance(shared(0)._allocations, dict)
    except Exception:  # noqa: BLE001 - another simulator layout: leave it alone
        known = False
    if not known:  # pragma: no cover - a simulator this fix does not know: nothing to patch
        _SIM_PATCHED = True
        return

    lock = threading.Lock()

    def array(self, shape, dtype):
        # same keys as the original (the caller's file and line), looked up and created
        # under a lock; the frame is read directly instead of through traceback
        if shape == 0:  # dynamic shared memory: one buffer, no lookup
            return original(self, shape, dtype)
        if isinstance(dtype, nb_types.Type):
            dtype = numpy_support.as_dtype(dtype)
        f = sys._getframe(1)
        key = (f.f_code.co_filename, f.f_lineno)
        with lock:
            res = self._allocations.get(key)
            if res is None:
                res = np.empty(shape, dtype)
                self._allocations[key] = res
        return res

    array.__wrapped__ = original
    shared.array = array
    _SIM_PATCHED = True


def _globals_of(fn):
    f = getattr(fn, "py_func", None) or getattr(fn, "fn", None) or fn
    return f.__globals__


def require():
    """Return the ``numba.cuda`` module, or raise the backend's one-line error.

    Returns
    -------
    module
        ``numba.cuda`` (a GPU or the simulator is present).

    Raises
    ------
    absorbphys.UsageError
        No usable GPU (message: how to install ``absorbphys[cuda]`` or use ``backend='cpu'``).
    """
    resolve_backend("cuda")
    from numba import cuda  # deferred: numba-cuda (optional) loads only for CUDA

    patch_simulator()
    return cuda


def device_rng():
    """Return the counter-based generator compiled for the device (built once).

    Returns
    -------
    types.SimpleNamespace
        ``mix64``, ``sample_key``, ``step_key``, ``draw``, ``to_unit``, ``uniform``,
        ``normal_pair``, ``fixed_point``, ``bernoulli_mask`` as CUDA device functions, the
        same pure functions as the CPU's :mod:`absorbphys.kernels.rng`.
    """
    global _DEV
    if _DEV is None:
        cuda = require()
        ns = _rng.compile_with(cuda.jit(device=True))
        to_unit = ns.to_unit
        draw = ns.draw
        two_pi = 6.283185307179586
        two = np.uint64(2)
        one = np.uint64(1)

        @cuda.jit(device=True)
        def normal_pair(key, index):  # pragma: no cover - compiled for the device
            # Mirrors absorbphys.kernels.rng._py_normal_pair with math.* (see module docstring).
            i2 = np.uint64(index) * two
            u1 = 1.0 - to_unit(draw(key, i2))
            u2 = to_unit(draw(key, i2 + one))
            r = math.sqrt(-2.0 * math.log(u1))
            a = two_pi * u2
            return r * math.cos(a), r * math.sin(a)

        d = dict(vars(ns))
        d["normal_pair"] = normal_pair
        sim_guard(_globals_of(ns.draw), globals())
        _DEV = types.SimpleNamespace(**d)
    return _DEV


def reduction_threads(n: int, cap: int = 256) -> int:
    """Threads of a block that reduces ``n`` items: a power of two <= ``cap``.

    Under the simulator (whose cost is per thread and per barrier) blocks have at most 4
    threads; results then differ from a GPU's only in the order of the float sums.
    """
    return pow2_at_least(n, 4 if simulator() else cap)


def blocks(n: int, threads: int = THREADS) -> int:
    """Return the number of blocks of ``threads`` threads that cover ``n`` items (>= 1)."""
    return max(1, (int(n) + threads - 1) // threads)


def pow2_at_least(n: int, cap: int) -> int:
    """Return the smallest power of two >= ``n``, capped at ``cap``."""
    p = 1
    while p < n and p < cap:
        p *= 2
    return p


def sample_chunks(s0: int, s1: int, per_chunk: int):
    """Yield ``(a, b)`` ranges of global sample indices covering ``s0 .. s1 - 1``."""
    per_chunk = max(1, min(int(per_chunk), MAX_GRID_Y))
    a = s0
    while a < s1:
        b = min(s1, a + per_chunk)
        yield a, b
        a = b


@njit(cache=True)
def count_sums(count, r2s, edges, size, seed_init):
    """Per-batch sums from per-sample active-site counts, in the CPU kernels' order.

    Parameters
    ----------
    count : numpy.ndarray
        int64 ``(samples, nt)``: active sites of each sample (row ``s - edges[0]``).
    r2s : numpy.ndarray
        float64 ``(samples, nt)``: per-sample sum of squared distances (seed runs).
    edges : numpy.ndarray
        Batch edges (global sample indices).
    size : int
        Number of sites (``rho = count / size``).
    seed_init : bool
        Whether ``r2`` is accumulated.

    Returns
    -------
    tuple of numpy.ndarray
        ``(rho, rho2, survival, n_active, r2)``, float64 ``(nb, nt)``; summing samples in
        order makes them identical to the CPU kernels' sums.
    """
    nb = len(edges) - 1
    nt = count.shape[1]
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    s0 = edges[0]
    for b in range(nb):
        for s in range(edges[b], edges[b + 1]):
            for ti in range(nt):
                c = count[s - s0, ti]
                record_sums(rho, rho2, surv, nact, b, ti, c / size, c)
                if seed_init and c > 0:
                    r2[b, ti] += r2s[s - s0, ti]
    return rho, rho2, surv, nact, r2

"""CUDA kernels of the contact process (lattice and complete graph), bit-identical to the CPU.

Imported lazily (only for ``backend="cuda"``); see :mod:`absorbphys.kernels.cuda`.

Continuous time is sequential within a sample, so the kernels are ensemble-parallel: one
thread per sample, each with its own counter-based stream and the CPU kernel's draw indexing
(``models/_contact_cpu.py``: event ``e`` uses ``draw(key, 3 e)``, ``draw(key, 3 e + 1)`` and,
for d = 3 and the complete graph, ``draw(key, 3 e + 2)``, with
``key = step_key(sample_key(seed, sample, STREAM_DYNAMICS), 0)``). The neighbour and distance
functions are the CPU module's own Python sources compiled for the device. Each thread keeps
the list of active sites and the positions in it (two ``int32`` arrays of ``L**dim``
entries) in global memory; samples run in chunks that fit :data:`STATE_BYTES`. The number of
active sites (and, for seed runs, the summed squared distance) at each output time goes to a
``(samples, times)`` table that the host sums into batches in sample order, so the sums equal
the CPU's bit for bit (time increments use IEEE division, no fused multiply-add).
"""

from __future__ import annotations

import numpy as np

from absorbphys.kernels import cuda as _cuda
from absorbphys.kernels.rng import STREAM_DYNAMICS
from absorbphys.kernels.sums import sums_dict
from absorbphys.models import _contact_cpu

cuda = _cuda.require()
DEV = _cuda.device_rng()
_cuda.sim_guard(globals(), _contact_cpu.__dict__)
draw = DEV.draw
step_key = DEV.step_key
sample_key = DEV.sample_key
to_unit = DEV.to_unit

_neighbour = cuda.jit(device=True)(_contact_cpu._neighbour.py_func)
_r2_sites = cuda.jit(device=True)(_contact_cpu._r2_sites.py_func)

_STREAM = STREAM_DYNAMICS
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
#: Bytes of device memory the site lists of one chunk of samples may use.
STATE_BYTES = 1 << 30
_THREADS = 64


@cuda.jit(cache=True)
def _contact(lst_all, pos_all, L, dim, N, lam, times, seed, s0, seed_init, counts, r2s,
             events):  # pragma: no cover
    s = cuda.grid(1)
    if s >= lst_all.shape[0]:
        return
    lst = lst_all[s]
    pos = pos_all[s]
    pdeath = 1.0 / (1.0 + lam)
    rate = 1.0 + lam
    ndir = 2 * dim
    dmask = np.uint64(ndir - 1)
    nt = times.shape[0]
    key = step_key(sample_key(seed, s0 + s, _STREAM), 0)
    if seed_init:
        for i in range(N):
            pos[i] = -1
        lst[0] = 0
        pos[0] = 0
        n = 1
    else:
        for i in range(N):
            lst[i] = i
            pos[i] = i
        n = N
    t = 0.0
    ti = 0
    e = np.uint64(0)
    while ti < nt:
        if n == 0:
            break
        tnext = t + 1.0 / (rate * n)
        while ti < nt and times[ti] < tnext:
            counts[s, ti] = n
            if seed_init:
                r2s[s, ti] = _r2_sites(lst, n, L, dim)
            ti += 1
        if ti >= nt:
            break
        d1 = draw(key, _U3 * e)
        d2 = draw(key, _U3 * e + _U1)
        k = np.int64(to_unit(d1) * n)
        if k >= n:
            k = n - 1
        site = lst[k]
        if to_unit(d2) < pdeath:
            n -= 1
            last = lst[n]
            lst[k] = last
            pos[last] = k
            pos[site] = -1
        else:
            if dim == 3:
                direction = np.int64(to_unit(draw(key, _U3 * e + _U2)) * 6.0)
            else:
                direction = np.int64(d1 & dmask)
            nbr = _neighbour(site, direction, L, dim, N)
            if pos[nbr] < 0:
                lst[n] = nbr
                pos[nbr] = n
                n += 1
        t = tnext
        e += _U1
    events[s] = e


@cuda.jit(cache=True)
def _mean_field(ns, N, lam, times, seed, s0, seed_init, counts, events):  # pragma: no cover
    s = cuda.grid(1)
    if s >= ns:
        return
    pdeath = 1.0 / (1.0 + lam)
    rate = 1.0 + lam
    nt = times.shape[0]
    key = step_key(sample_key(seed, s0 + s, _STREAM), 0)
    n = 1 if seed_init else N
    t = 0.0
    ti = 0
    e = np.uint64(0)
    while ti < nt:
        if n == 0:
            break
        tnext = t + 1.0 / (rate * n)
        while ti < nt and times[ti] < tnext:
            counts[s, ti] = n
            ti += 1
        if ti >= nt:
            break
        if to_unit(draw(key, _U3 * e + _U1)) < pdeath:
            n -= 1
        else:
            j = np.int64(to_unit(draw(key, _U3 * e + _U2)) * (N - 1))
            if j >= n - 1:
                n += 1
        t = tnext
        e += _U1
    events[s] = e


def run_contact(L, dim, lam, times, edges, seed, seed_init):
    """Contact process on ``L**dim`` sites on the device; same as ``_contact_cpu.run_contact``.

    Parameters
    ----------
    L, dim : int
        Linear size and dimension (1, 2, 3).
    lam : float
        Infection rate.
    times : numpy.ndarray
        Sorted float64 output times.
    edges : numpy.ndarray
        Batch edges (global sample indices).
    seed : int
        Master seed.
    seed_init : bool
        One active site at the origin (else all active).

    Returns
    -------
    tuple of numpy.ndarray
        Per-batch sums ``(rho, rho2, survival, n_active, r2)``, float64 ``(nb, nt)``.
    """
    return contact_with_events(L, dim, lam, times, edges, seed, seed_init)[0]


def contact_with_events(L, dim, lam, times, edges, seed, seed_init):
    """:func:`run_contact` plus the total number of events (for throughput benchmarks).

    Returns
    -------
    tuple
        ``(sums, events)``: the 5-tuple of :func:`run_contact` and an int.
    """
    L, dim = int(L), int(dim)
    N = L ** dim
    times = np.ascontiguousarray(times, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64)
    nt = len(times)
    s_first, s_last = int(edges[0]), int(edges[-1])
    counts_all = np.zeros((s_last - s_first, nt), np.int64)
    r2_all = np.zeros((s_last - s_first, nt), np.float64)
    times_d = cuda.to_device(times)
    events = 0
    per_chunk = max(1, STATE_BYTES // (8 * N))
    for a, b in _cuda.sample_chunks(s_first, s_last, per_chunk):
        ns = b - a
        lst = cuda.device_array((ns, N), np.int32)
        pos = cuda.device_array((ns, N), np.int32)
        counts = cuda.to_device(np.zeros((ns, nt), np.int64))
        r2s = cuda.to_device(np.zeros((ns, nt), np.float64))
        ev = cuda.to_device(np.zeros(ns, np.uint64))
        threads = min(_THREADS, _cuda.pow2_at_least(ns, _THREADS))
        _contact[_cuda.blocks(ns, threads), threads](lst, pos, L, dim, N, float(lam), times_d,
                                                     int(seed), a, bool(seed_init), counts,
                                                     r2s, ev)
        counts_all[a - s_first:b - s_first] = counts.copy_to_host()
        r2_all[a - s_first:b - s_first] = r2s.copy_to_host()
        events += int(ev.copy_to_host().sum())
    return _cuda.count_sums(counts_all, r2_all, edges, N, bool(seed_init)), events


def run_mean_field_contact(N, lam, times, edges, seed, seed_init):
    """Contact process on the complete graph on the device; same as the CPU kernel.

    Parameters
    ----------
    N : int
        Number of sites.
    lam, times, edges, seed, seed_init
        As in :func:`run_contact`.

    Returns
    -------
    tuple of numpy.ndarray
        Per-batch sums ``(rho, rho2, survival, n_active)``, float64 ``(nb, nt)``.
    """
    return mean_field_with_events(N, lam, times, edges, seed, seed_init)[0]


def mean_field_with_events(N, lam, times, edges, seed, seed_init):
    """:func:`run_mean_field_contact` plus the total number of events.

    Returns
    -------
    tuple
        ``(sums, events)``: the 4-tuple of :func:`run_mean_field_contact` and an int.
    """
    N = int(N)
    times = np.ascontiguousarray(times, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.int64)
    nt = len(times)
    s_first, s_last = int(edges[0]), int(edges[-1])
    ns = s_last - s_first
    times_d = cuda.to_device(times)
    counts = np.zeros((ns, nt), np.int64)
    events = 0
    for a, b in _cuda.sample_chunks(s_first, s_last, 1 << 24):
        m = b - a
        c_d = cuda.to_device(np.zeros((m, nt), np.int64))
        ev = cuda.to_device(np.zeros(m, np.uint64))
        threads = min(_cuda.THREADS, _cuda.pow2_at_least(m, _cuda.THREADS))
        _mean_field[_cuda.blocks(m, threads), threads](m, N, float(lam), times_d, int(seed), a,
                                                       bool(seed_init), c_d, ev)
        counts[a - s_first:b - s_first] = c_d.copy_to_host()
        events += int(ev.copy_to_host().sum())
    rho, rho2, surv, nact, _ = _cuda.count_sums(counts, np.zeros((ns, nt)), edges, N, False)
    return (rho, rho2, surv, nact), events


def run_process(process, times, edges, init, seed):
    """Run a ``ContactProcess`` or ``MeanFieldContactProcess`` (called by its ``_run``).

    Returns
    -------
    dict of str to numpy.ndarray
        Per-batch sums ``rho``, ``rho2``, ``survival`` and, for seed runs, ``n_active`` (and
        ``r2`` on the lattice).
    """
    seed_init = init == "seed"
    if hasattr(process, "N") and not hasattr(process, "L"):
        sums = run_mean_field_contact(process.N, process.lam, times, edges, seed, seed_init)
    else:
        sums = run_contact(process.L, process.dim, process.lam, times, edges, seed, seed_init)
    return sums_dict(sums, seed_init)

"""CPU kernels of the contact process (hypercubic lattice, d = 1, 2, 3, and complete graph).

Algorithm (the standard one): keep the list of active sites and each site's position in it.
An event picks an active site uniformly; with probability ``1 / (1 + lam)`` it becomes
inactive (swap-remove from the list), otherwise it tries to activate one of its ``2 d``
neighbours chosen uniformly (complete graph: one of the other ``N - 1`` sites). Time
advances by ``1 / ((1 + lam) n)`` per event, ``n`` the number of active sites before the
event: death rate 1 and infection-attempt rate ``lam`` per active site.

Random numbers: event ``e`` (counted from 0 for each sample) of a sample uses
``key = step_key(sample_key(seed, sample, STREAM_DYNAMICS), 0)`` and the draws
``d1 = draw(key, 3 e)`` (site index ``floor(to_unit(d1) n)``; lattice ``d <= 2``: direction
from the low bits ``d1 & (2 d - 1)``, which ``to_unit`` ignores), ``d2 = draw(key, 3 e + 1)``
(death iff ``to_unit(d2) < 1 / (1 + lam)``) and, for ``d = 3`` and the complete graph,
``d3 = draw(key, 3 e + 2)`` (direction ``floor(to_unit(d3) 6)``, or the target among the
other ``N - 1`` sites). Output at time ``tau`` is the state after every event with event time
``<= tau``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from absorbphys.kernels.rng import STREAM_DYNAMICS, draw, sample_key, step_key, to_unit
from absorbphys.kernels.sums import alloc_sums, record_sums

_MASK_LOW2 = np.uint64(1)
_MASK_LOW4 = np.uint64(3)


@njit(cache=True, inline="always")
def _neighbour(site, direction, L, dim, N):
    """Neighbour of ``site`` in ``direction`` (``2 a``: ``+e_a``, ``2 a + 1``: ``-e_a``).

    Plain Python arithmetic only: the CUDA backend compiles its ``py_func`` for the device.
    """
    if dim == 1:
        if direction == 0:
            return site + 1 if site + 1 < L else 0
        return site - 1 if site > 0 else L - 1
    if direction >= 2 * dim - 2:
        # the last axis: stride L**(dim-1), wraps over N
        stride = N // L
        if direction == 2 * dim - 2:
            s = site + stride
            return s - N if s >= N else s
        s = site - stride
        return s + N if s < 0 else s
    stride = 1 if direction < 2 else L
    x = (site // stride) % L
    if direction % 2 == 0:
        return site + stride if x + 1 < L else site - (L - 1) * stride
    return site - stride if x > 0 else site + (L - 1) * stride


@njit(cache=True, inline="always")
def _neighbour_fast(site, direction, L, dim, N, shift):
    """:func:`_neighbour` with masks instead of divisions when ``L = 2**shift`` (``shift >= 0``)."""
    if dim == 1:
        if direction == 0:
            return site + 1 if site + 1 < L else 0
        return site - 1 if site > 0 else L - 1
    if direction >= 2 * dim - 2:
        # the last axis: stride L**(dim-1), wraps over N
        stride = N // L if shift < 0 else np.int64(1) << ((dim - 1) * shift)
        if direction == 2 * dim - 2:
            s = site + stride
            return s - N if s >= N else s
        s = site - stride
        return s + N if s < 0 else s
    if shift >= 0:
        if direction < 2:
            stride = np.int64(1)
            x = site & (L - 1)
        else:
            stride = L
            x = (site >> shift) & (L - 1)
    else:
        stride = 1 if direction < 2 else L
        x = (site // stride) % L
    if direction % 2 == 0:
        return site + stride if x + 1 < L else site - (L - 1) * stride
    return site - stride if x > 0 else site + (L - 1) * stride


@njit(cache=True)
def _r2_sites(lst, n, L, dim):
    tot = 0.0
    for k in range(n):
        s = lst[k]
        for _ in range(dim):
            x = s % L
            s //= L
            d = x if 2 * x <= L else x - L
            tot += d * d
    return tot


@njit(cache=True, parallel=True)
def run_contact(L, dim, lam, times, edges, seed, seed_init, events=None):
    """Contact process on the periodic hypercubic lattice ``L**dim``; per-batch sums.

    Returns ``(rho, rho2, survival, n_active, r2)``. If ``events`` (int64, one entry per
    batch) is given, ``events[b]`` receives the number of events of batch ``b`` (benchmarks).
    """
    nb = len(edges) - 1
    nt = len(times)
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    N = L ** dim
    pdeath = 1.0 / (1.0 + lam)
    rate = 1.0 + lam
    ndir = 2 * dim
    dmask = np.uint64(ndir - 1)
    shift = -1
    if L & (L - 1) == 0:
        shift = 0
        while (1 << shift) < L:
            shift += 1
    for b in prange(nb):
        lst = np.empty(N, np.int32)
        pos = np.empty(N, np.int32)
        for smp in range(edges[b], edges[b + 1]):
            key = step_key(sample_key(seed, smp, STREAM_DYNAMICS), 0)
            if seed_init:
                pos[:] = -1
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
                    record_sums(rho, rho2, surv, nact, b, ti, n / N, n)  # n > 0 here
                    if seed_init:
                        r2[b, ti] += _r2_sites(lst, n, L, dim)
                    ti += 1
                if ti >= nt:
                    break
                d1 = draw(key, np.uint64(3) * e)
                d2 = draw(key, np.uint64(3) * e + np.uint64(1))
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
                        direction = np.int64(to_unit(draw(key, np.uint64(3) * e
                                                          + np.uint64(2))) * 6.0)
                    else:
                        direction = np.int64(d1 & dmask)
                    nbr = _neighbour_fast(site, direction, L, dim, N, shift)
                    if pos[nbr] < 0:
                        lst[n] = nbr
                        pos[nbr] = n
                        n += 1
                t = tnext
                e += np.uint64(1)
            if events is not None:
                events[b] += np.int64(e)
    return rho, rho2, surv, nact, r2


@njit(cache=True, parallel=True)
def run_mean_field_contact(N, lam, times, edges, seed, seed_init, events=None):
    """Contact process on the complete graph of ``N`` sites (state: number of active sites).

    Returns ``(rho, rho2, survival, n_active)``; ``events`` as in :func:`run_contact`.
    """
    nb = len(edges) - 1
    nt = len(times)
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    pdeath = 1.0 / (1.0 + lam)
    rate = 1.0 + lam
    for b in prange(nb):
        for smp in range(edges[b], edges[b + 1]):
            key = step_key(sample_key(seed, smp, STREAM_DYNAMICS), 0)
            n = 1 if seed_init else N
            t = 0.0
            ti = 0
            e = np.uint64(0)
            while ti < nt:
                if n == 0:
                    break
                tnext = t + 1.0 / (rate * n)
                while ti < nt and times[ti] < tnext:
                    record_sums(rho, rho2, surv, nact, b, ti, n / N, n)  # n > 0 here
                    ti += 1
                if ti >= nt:
                    break
                if to_unit(draw(key, np.uint64(3) * e + np.uint64(1))) < pdeath:
                    n -= 1
                else:
                    # target uniform among the N - 1 other sites; the first n - 1 are active
                    j = np.int64(to_unit(draw(key, np.uint64(3) * e + np.uint64(2))) * (N - 1))
                    if j >= n - 1:
                        n += 1
                t = tnext
                e += np.uint64(1)
            if events is not None:
                events[b] += np.int64(e)
    return rho, rho2, surv, nact

"""CPU kernels of the Domany–Kinzel automaton, 1+1 and 2+1: bit-packed and scalar (reference).

Conventions shared by every kernel (and by ``tests/naive.py``):

* 1+1: site ``i`` at time ``t + 1`` has the parents ``i`` and ``i + 1`` (mod ``L``) at time
  ``t``; with ``n`` active parents it becomes active with probability ``p_n`` (``p_0 = 0``).
  The light cone of a seed at the origin drifts by ``-1/2`` site per step, so distances are
  measured from ``-t/2`` (doubled coordinates ``2 i + t`` keep them integer).
* 2+1 (bcc lattice): site ``(x, y)`` at ``t + 1`` has the four parents ``(x, y)``,
  ``(x + 1, y)``, ``(x, y + 1)``, ``(x + 1, y + 1)``; the cone drifts by ``(-1/2, -1/2)``.
* Random numbers (1+1): the step ``t -> t + 1`` of a sample uses
  ``key = step_key(sample_key(seed, sample, STREAM_DYNAMICS), t)``. Site ``i = 64 w + j``
  (word ``w``, bit ``j``) owns the uniform 64-bit number ``u_i`` whose binary digit ``k``
  (``k = 0`` most significant) is bit ``j`` of ``draw(key, 64 w + k)``. The site becomes
  active iff ``u_i < P_n`` with ``P_n = fixed_point(p_n)`` (``p_n = 1``: always). The
  bit-packed kernel compares 64 lanes at once digit by digit, against ``P_1`` for lanes with
  one active parent and ``P_2`` for lanes with two, from the same random words, and stops as
  soon as every lane is decided; the scalar kernel makes the same comparison site by site.
  Both therefore give identical trajectories.
* Random numbers (2+1): site ``(x, y)`` with ``n >= 1`` active parents is activated iff
  ``uniform(key, y L + x) < p_n`` (53-bit uniform; exact for ``p_n = 0`` and ``1``). The
  packed kernel (rows of ``L`` sites in ``ceil(L / 64)`` words) draws that number lane by
  lane for the lanes with an active parent only; the scalar kernel site by site.

Every kernel takes the output ``times`` (int64, sorted), the batch ``edges`` and the seed, and
returns per-batch sums ``(rho, rho2, survival, n_active, r2)`` of shape ``(nb, len(times))``.
Batches run in parallel (``prange``); the samples of a batch are summed in order, so results
do not depend on the number of threads. Memory per batch in flight is one bit per site
(packed kernels, plus a few words) or one byte per site (scalar references).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from absorbphys.kernels.rng import STREAM_DYNAMICS, draw, fixed_point, sample_key, step_key, to_unit
from absorbphys.kernels.sums import alloc_sums, record_sums

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
#: Words processed together by the packed kernel (one SIMD-friendly inner loop per digit).
_B = 128


@njit(cache=True)
def threshold_tables(p):
    """Digit tables of a Bernoulli threshold.

    Returns ``(P, is_one, nd, digits)``: the fixed-point threshold, whether ``p == 1``, the
    number of significant digits ``nd`` (digits ``>= nd`` of ``P`` are all zero; ``0`` for
    ``p == 0``) and ``digits[k]`` = all-ones if digit ``k`` of ``P`` is 1 else 0.
    """
    P = fixed_point(p)
    is_one = p >= 1.0
    digits = np.zeros(64, np.uint64)
    nd = 0
    for k in range(64):
        if (P >> np.uint64(63 - k)) & _U1:
            digits[k] = _ALL
            nd = k + 1
    if p <= 0.0:
        nd = 0
    return P, is_one, nd, digits


@njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _centred(i, t, L):
    # twice the minimum-image distance of site i to the cone centre -t/2
    d = (2 * i + t) % (2 * L)
    if d > L:
        d -= 2 * L
    return d


@njit(cache=True, inline="always")
def _lowest_bit(x):
    # (lowest set bit of x != 0 as a word, its index)
    low = x & (~x + _U1)
    j = 0
    m = low
    while m > _U1:
        m >>= _U1
        j += 1
    return low, j


@njit(cache=True)
def _r2_packed(s, nw, L, t):
    # sum over active sites of the squared minimum-image distance to the cone centre -t/2
    tot = 0.0
    for w in range(nw):
        x = s[w]
        while x != _U0:
            low, j = _lowest_bit(x)
            x ^= low
            d = _centred(64 * w + j, t, L)
            tot += 0.25 * d * d
    return tot


@njit(cache=True)
def _packed_sample(s, L, nw, lt, t1, t2, times, k0, seed_init, b, rho, rho2, surv, nact,
                   r2, chunk):
    one1, nd1, dig1 = t1
    one2, nd2, dig2 = t2
    nt = len(times)
    for w in range(nw):
        s[w] = _U0
    if seed_init:
        s[0] = _U1
        count = 1
    else:
        for w in range(nw - 1):
            s[w] = _ALL
        s[nw - 1] = _ALL if lt == 64 else (_U1 << np.uint64(lt)) - _U1
        count = L
    t = 0
    ti = 0
    shift_last = np.uint64(lt - 1)
    b1 = np.empty(chunk, np.uint64)
    b2 = np.empty(chunk, np.uint64)
    bres = np.empty(chunk, np.uint64)
    bund = np.empty(chunk, np.uint64)
    init1 = _ALL if one1 else _U0
    init2 = _ALL if one2 else _U0
    und1 = _ALL if (nd1 > 0 and not one1) else _U0
    und2 = _ALL if (nd2 > 0 and not one2) else _U0
    while ti < nt:
        if times[ti] == t:
            record_sums(rho, rho2, surv, nact, b, ti, count / L, count)
            if seed_init and count > 0:
                r2[b, ti] += _r2_packed(s, nw, L, t)
            ti += 1
            continue
        if count == 0:
            break
        key = step_key(k0, t)
        s0 = s[0]
        count = 0
        for w0 in range(0, nw, chunk):
            nc = min(chunk, nw - w0)
            anyl = _U0
            # neighbour words; the lattice's last word wraps to bit 0 of word 0
            for i in range(nc):
                x = s[w0 + i]
                nxt = s[w0 + i + 1] if w0 + i + 1 < nw else _U0
                r = (x >> _U1) | (nxt << np.uint64(63))
                b1[i] = x ^ r
                b2[i] = x & r
            if w0 + nc == nw:
                x = s[nw - 1]
                r = (x >> _U1) | ((s0 & _U1) << shift_last)
                b1[nc - 1] = x ^ r
                b2[nc - 1] = x & r
            for i in range(nc):
                bres[i] = (b1[i] & init1) | (b2[i] & init2)
                u = (b1[i] & und1) | (b2[i] & und2)
                bund[i] = u
                anyl |= u
            k = 0
            base = np.uint64(64 * w0)
            while anyl != _U0:
                anyl = _U0
                kill1 = _ALL if k + 1 >= nd1 else _U0
                kill2 = _ALL if k + 1 >= nd2 else _U0
                g1 = dig1[k]
                g2 = dig2[k]
                kk = base + np.uint64(k)
                for i in range(nc):
                    rw = draw(key, kk + np.uint64(64 * i))
                    x1 = b1[i]
                    x2 = b2[i]
                    tb = (x1 & g1) | (x2 & g2)
                    u = bund[i]
                    bres[i] |= u & tb & ~rw
                    u &= ~(rw ^ tb)
                    u &= ~((x1 & kill1) | (x2 & kill2))
                    bund[i] = u
                    anyl |= u
                k += 1
            for i in range(nc):
                y = bres[i]
                s[w0 + i] = y
                count += _popcount(y)
        t += 1


@njit(cache=True, parallel=True)
def run_dk1_packed(L, p1, p2, times, edges, seed, seed_init, chunk=_B):
    """1+1 DK, bit-packed (64 sites per uint64 word, any L >= 2); see the module docstring."""
    nb = len(edges) - 1
    nt = len(times)
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    nw = (L + 63) // 64
    lt = L - 64 * (nw - 1)
    P1, one1, nd1, dig1 = threshold_tables(p1)
    P2, one2, nd2, dig2 = threshold_tables(p2)
    for b in prange(nb):
        s = np.empty(nw, np.uint64)
        for smp in range(edges[b], edges[b + 1]):
            k0 = sample_key(seed, smp, STREAM_DYNAMICS)
            _packed_sample(s, L, nw, lt, (one1, nd1, dig1), (one2, nd2, dig2), times, k0,
                           seed_init, b, rho, rho2, surv, nact, r2, chunk)
    return rho, rho2, surv, nact, r2


@njit(cache=True, inline="always")
def _site_decide(key, w, j, P, one, nd):
    # u_i < P, digit by digit, digit k = bit j of draw(key, 64 w + k)
    if one:
        return True
    jj = np.uint64(j)
    for k in range(nd):
        rb = (draw(key, np.uint64(64 * w + k)) >> jj) & _U1
        pb = (P >> np.uint64(63 - k)) & _U1
        if rb != pb:
            return pb == _U1
    return False


@njit(cache=True, parallel=True)
def run_dk1_scalar(L, p1, p2, times, edges, seed, seed_init):
    """1+1 DK, one byte per site: the test reference of :func:`run_dk1_packed` (same stream)."""
    nb = len(edges) - 1
    nt = len(times)
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    P1, one1, nd1, dig1 = threshold_tables(p1)
    P2, one2, nd2, dig2 = threshold_tables(p2)
    for b in prange(nb):
        s = np.empty(L, np.uint8)
        s_new = np.empty(L, np.uint8)
        for smp in range(edges[b], edges[b + 1]):
            k0 = sample_key(seed, smp, STREAM_DYNAMICS)
            if seed_init:
                s[:] = 0
                s[0] = 1
            else:
                s[:] = 1
            t = 0
            ti = 0
            while ti < nt:
                count = 0
                for i in range(L):
                    count += s[i]
                if times[ti] == t:
                    record_sums(rho, rho2, surv, nact, b, ti, count / L, count)
                    if seed_init:
                        for i in range(L):
                            if s[i]:
                                d = _centred(i, t, L)
                                r2[b, ti] += 0.25 * d * d
                    ti += 1
                    continue
                if count == 0:
                    break
                key = step_key(k0, t)
                for i in range(L):
                    n = s[i] + s[(i + 1) % L]
                    if n == 0:
                        s_new[i] = 0
                    elif n == 1:
                        s_new[i] = _site_decide(key, i // 64, i % 64, P1, one1, nd1)
                    else:
                        s_new[i] = _site_decide(key, i // 64, i % 64, P2, one2, nd2)
                s[:] = s_new
                t += 1
    return rho, rho2, surv, nact, r2


@njit(cache=True, parallel=True)
def run_dk2_scalar(L, pn, times, edges, seed, seed_init):
    """2+1 DK on the bcc lattice, one byte per site (reference of :func:`run_dk2_packed`).

    ``pn[n]`` is the activation probability with ``n = 0..4`` active parents.
    """
    nb = len(edges) - 1
    nt = len(times)
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    N = L * L
    for b in prange(nb):
        s = np.empty((L, L), np.uint8)
        s_new = np.empty((L, L), np.uint8)
        for smp in range(edges[b], edges[b + 1]):
            k0 = sample_key(seed, smp, STREAM_DYNAMICS)
            if seed_init:
                s[:, :] = 0
                s[0, 0] = 1
                count = 1
            else:
                s[:, :] = 1
                count = N
            t = 0
            ti = 0
            while ti < nt:
                if times[ti] == t:
                    record_sums(rho, rho2, surv, nact, b, ti, count / N, count)
                    if seed_init:
                        acc = 0.0
                        for y in range(L):
                            for x in range(L):
                                if s[y, x]:
                                    dx = _centred(x, t, L)
                                    dy = _centred(y, t, L)
                                    acc += 0.25 * (dx * dx + dy * dy)
                        r2[b, ti] += acc
                    ti += 1
                    continue
                if count == 0:
                    break
                key = step_key(k0, t)
                count = 0
                for y in range(L):
                    y1 = y + 1 if y + 1 < L else 0
                    for x in range(L):
                        x1 = x + 1 if x + 1 < L else 0
                        n = s[y, x] + s[y, x1] + s[y1, x] + s[y1, x1]
                        v = 0
                        if n > 0 and to_unit(draw(key, np.uint64(y * L + x))) < pn[n]:
                            v = 1
                        s_new[y, x] = v
                        count += v
                s[:, :] = s_new
                t += 1
    return rho, rho2, surv, nact, r2


@njit(cache=True)
def _r2_packed2(s, nw, L, t):
    tot = 0.0
    for y in range(L):
        dy = _centred(y, t, L)
        for w in range(nw):
            x = s[y * nw + w]
            while x != _U0:
                low, j = _lowest_bit(x)
                x ^= low
                dx = _centred(64 * w + j, t, L)
                tot += 0.25 * (dx * dx + dy * dy)
    return tot


@njit(cache=True)
def _packed2_sample(s, row0, firstw, L, nw, lt, pn, times, k0, seed_init, b, rho, rho2,
                    surv, nact, r2, g1, g2, g3, g4, bres, bund, chunk):
    nt = len(times)
    nwords = L * nw
    N = L * L
    tail = _ALL if lt == 64 else (_U1 << np.uint64(lt)) - _U1
    for f in range(nwords):
        s[f] = _U0
    if seed_init:
        s[0] = _U1
        count = 1
    else:
        for y in range(L):
            for w in range(nw):
                s[y * nw + w] = tail if w == nw - 1 else _ALL
        count = N
    shift_last = np.uint64(lt - 1)
    # lanes with p_n = 1 are set without a draw (uniform < 1 always); p_n = 0 lanes never
    i1 = _ALL if pn[1] >= 1.0 else _U0
    i2 = _ALL if pn[2] >= 1.0 else _U0
    i3 = _ALL if pn[3] >= 1.0 else _U0
    i4 = _ALL if pn[4] >= 1.0 else _U0
    u1 = _ALL if 0.0 < pn[1] < 1.0 else _U0
    u2 = _ALL if 0.0 < pn[2] < 1.0 else _U0
    u3 = _ALL if 0.0 < pn[3] < 1.0 else _U0
    u4 = _ALL if 0.0 < pn[4] < 1.0 else _U0
    p1, p2, p3, p4 = pn[1], pn[2], pn[3], pn[4]
    t = 0
    ti = 0
    while ti < nt:
        if times[ti] == t:
            record_sums(rho, rho2, surv, nact, b, ti, count / N, count)
            if seed_init and count > 0:
                r2[b, ti] += _r2_packed2(s, nw, L, t)
            ti += 1
            continue
        if count == 0:
            break
        key = step_key(k0, t)
        for w in range(nw):
            row0[w] = s[w]
        for y in range(L):
            firstw[y] = s[y * nw]
        count = 0
        for f0 in range(0, nwords, chunk):
            nc = min(chunk, nwords - f0)
            anyl = _U0
            for i in range(nc):
                f = f0 + i
                y = f // nw
                w = f - y * nw
                x0 = s[f]
                if w + 1 < nw:
                    r0 = (x0 >> _U1) | (s[f + 1] << np.uint64(63))
                else:
                    r0 = (x0 >> _U1) | ((firstw[y] & _U1) << shift_last)
                if y + 1 < L:
                    x1 = s[f + nw]
                    nx1 = s[f + nw + 1] if w + 1 < nw else firstw[y + 1]
                else:
                    x1 = row0[w]
                    nx1 = row0[w + 1] if w + 1 < nw else row0[0]
                if w + 1 < nw:
                    r1 = (x1 >> _U1) | (nx1 << np.uint64(63))
                else:
                    r1 = (x1 >> _U1) | ((nx1 & _U1) << shift_last)
                # bit-sliced sum of the four parents: n = lo + 2 h1 + 4 h2
                sa = x0 ^ r0
                ca = x0 & r0
                sb = x1 ^ r1
                cb = x1 & r1
                lo = sa ^ sb
                cc = sa & sb
                h1 = ca ^ cb ^ cc
                h2 = (ca & cb) | (ca & cc) | (cb & cc)
                a1 = lo & ~h1 & ~h2
                a2 = ~lo & h1
                a3 = lo & h1
                a4 = h2
                g1[i] = a1
                g2[i] = a2
                g3[i] = a3
                g4[i] = a4
                bres[i] = (a1 & i1) | (a2 & i2) | (a3 & i3) | (a4 & i4)
                u = (a1 & u1) | (a2 & u2) | (a3 & u3) | (a4 & u4)
                bund[i] = u
                anyl |= u
            if anyl != _U0:
                for i in range(nc):
                    u = bund[i]
                    if u == _U0:
                        continue
                    f = f0 + i
                    y = f // nw
                    xbase = np.uint64(y * L + 64 * (f - y * nw))
                    res = bres[i]
                    a1 = g1[i]
                    a2 = g2[i]
                    a3 = g3[i]
                    while u != _U0:
                        j = trailing_zeros(u)
                        bit = _U1 << np.uint64(j)
                        u ^= bit
                        if a1 & bit:
                            p = p1
                        elif a2 & bit:
                            p = p2
                        elif a3 & bit:
                            p = p3
                        else:
                            p = p4
                        if to_unit(draw(key, xbase + np.uint64(j))) < p:
                            res |= bit
                    bres[i] = res
            for i in range(nc):
                y = bres[i]
                s[f0 + i] = y
                count += _popcount(y)
        t += 1


@njit(cache=True, parallel=True)
def run_dk2_packed(L, pn, times, edges, seed, seed_init, chunk=_B):
    """2+1 DK on the bcc lattice, bit-packed rows; ``pn[n]`` for ``n = 0..4`` parents."""
    nb = len(edges) - 1
    nt = len(times)
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    nw = (L + 63) // 64
    lt = L - 64 * (nw - 1)
    for b in prange(nb):
        s = np.empty(L * nw, np.uint64)
        row0 = np.empty(nw, np.uint64)
        firstw = np.empty(L, np.uint64)
        g1 = np.empty(chunk, np.uint64)
        g2 = np.empty(chunk, np.uint64)
        g3 = np.empty(chunk, np.uint64)
        g4 = np.empty(chunk, np.uint64)
        bres = np.empty(chunk, np.uint64)
        bund = np.empty(chunk, np.uint64)
        for smp in range(edges[b], edges[b + 1]):
            k0 = sample_key(seed, smp, STREAM_DYNAMICS)
            _packed2_sample(s, row0, firstw, L, nw, lt, pn, times, k0, seed_init, b, rho,
                            rho2, surv, nact, r2, g1, g2, g3, g4, bres, bund, chunk)
    return rho, rho2, surv, nact, r2

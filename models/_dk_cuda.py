"""CUDA kernels of the Domany–Kinzel automaton (1+1 and 2+1, bit-packed), bit-identical to the CPU.

Imported lazily (only for ``backend="cuda"``); see :mod:`absorbphys.kernels.cuda`.

Layout: a launch advances many samples by one time step on a 2-D grid, x = words of a
sample, y = samples; a block holds ``tx`` words of ``ty`` samples (``tx * ty <= 256``), one
thread per 64-site ``uint64`` word. The state lives on the device for the whole run. The
number of active sites of each sample is reduced on the device (a shared-memory tree per
block row, then one global atomic per sample and block) into a ring of three count buffers
(step ``t`` reads ``cnt[t % 3]``, writes ``cnt[(t + 1) % 3]`` and clears ``cnt[(t + 2) % 3]``),
so no host round trip is needed per step. At the output times a small kernel stores the
counts (and, for seed runs, the squared distances, reduced with atomics — they are multiples
of 1/4, so the float sum is exact and independent of the order) in a ``(samples, times)``
device table; the host reads one count row there to stop once every sample is absorbed.

Random numbers follow ``models/_dk_cpu.py`` exactly:

* 1+1: word ``w`` of step ``t`` compares lanes with the thresholds ``P_1``/``P_2`` digit by
  digit using ``draw(key, 64 w + k)``, ``key = step_key(sample_key(seed, sample, 0), t)``;
* 2+1: the site ``(x, y)`` with ``n > 0`` active parents is activated iff
  ``uniform(key, y L + x) < p_n``.

The per-sample counts are summed into batches on the host in sample order
(:func:`absorbphys.kernels.cuda.count_sums`), so the returned sums equal the CPU's bit for bit.
"""

from __future__ import annotations

import numpy as np

from absorbphys.kernels import cuda as _cuda
from absorbphys.kernels.rng import STREAM_DYNAMICS, fixed_point

cuda = _cuda.require()
DEV = _cuda.device_rng()
_cuda.sim_guard(globals())
draw = DEV.draw
step_key = DEV.step_key
sample_key = DEV.sample_key
to_unit = DEV.to_unit

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U63 = np.uint64(63)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_STREAM = STREAM_DYNAMICS
_BLOCK = 256
#: Bytes of device memory the two state buffers of one chunk of samples may use.
STATE_BYTES = 1 << 30


def threshold(p):
    """Return ``(P, is_one, nd)``: fixed-point threshold, ``p == 1``, significant digits.

    Same meaning as ``models._dk_cpu.threshold_tables`` (``nd = 0`` for ``p == 0``; digits
    ``>= nd`` of ``P`` are zero).
    """
    P = int(fixed_point(float(p)))
    is_one = bool(p >= 1.0)
    nd = 0
    if p > 0.0:
        for k in range(64):
            if (P >> (63 - k)) & 1:
                nd = k + 1
    return np.uint64(P), is_one, nd


# --------------------------------------------------------------------------- device code
@cuda.jit(device=True)
def _decide2(key, base, a1, a2, P1, one1, nd1, P2, one2, nd2):  # pragma: no cover
    res = _U0
    und = _U0
    if one1:
        res |= a1
    elif nd1 > 0:
        und |= a1
    if one2:
        res |= a2
    elif nd2 > 0:
        und |= a2
    k = 0
    while und != _U0:
        w = draw(key, base + np.uint64(k))
        sh = np.uint64(63 - k)
        d1 = _ALL if (P1 >> sh) & _U1 else _U0
        d2 = _ALL if (P2 >> sh) & _U1 else _U0
        tb = (a1 & d1) | (a2 & d2)
        res |= und & tb & ~w
        und &= ~(w ^ tb)
        k += 1
        if k == nd1:
            und &= ~a1
        if k == nd2:
            und &= ~a2
    return res


@cuda.jit(device=True)
def _right(row, w, nw, sh_last):  # pragma: no cover
    # sites i + 1 of the 64 sites of word w (periodic), as in the CPU kernel
    x = row[w]
    if w + 1 < nw:
        return (x >> _U1) | (row[w + 1] << _U63)
    return (x >> _U1) | ((row[0] & _U1) << sh_last)


@cuda.jit(device=True)
def _row_sum_to_global(red, c, tx, ty, bx, s, ns, out):  # pragma: no cover
    # tree-sum the counts of the bx threads of block row ty (bx a power of two), then one
    # global atomic per row: no contention on a shared counter
    red[ty * bx + tx] = c
    cuda.syncthreads()
    stride = bx // 2
    while stride > 0:
        if tx < stride:
            red[ty * bx + tx] += red[ty * bx + tx + stride]
        cuda.syncthreads()
        stride //= 2
    if tx == 0 and s < ns:
        v = red[ty * bx]
        if v > 0:
            cuda.atomic.add(out, s, v)


@cuda.jit(cache=True)
def _init1(st, cnt, k0, seed, s0, L, nw, lt, seed_init):  # pragma: no cover
    w, s = cuda.grid(2)
    ns = st.shape[0]
    if s < ns and w < nw:
        v = _U0
        if seed_init:
            if w == 0:
                v = _U1
        elif w + 1 < nw or lt == 64:
            v = _ALL
        else:
            v = (_U1 << np.uint64(lt)) - _U1
        st[s, w] = v
        if w == 0:
            k0[s] = sample_key(seed, s0 + s, _STREAM)
            cnt[0, s] = 1 if seed_init else L
            cnt[1, s] = 0
            cnt[2, s] = 0


@cuda.jit(cache=True)
def _step1(s_in, s_out, cnt_in, cnt_out, cnt_clear, nw, lt, P1, one1, nd1, P2, one2, nd2,
           k0, t):  # pragma: no cover
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    w = cuda.blockIdx.x * cuda.blockDim.x + tx
    s = cuda.blockIdx.y * cuda.blockDim.y + ty
    ns = s_in.shape[0]
    red = cuda.shared.array(_BLOCK, np.int64)
    c = 0
    if s < ns and w < nw:
        if w == 0:
            cnt_clear[s] = 0
        y = _U0
        if cnt_in[s] > 0:
            x = s_in[s, w]
            r = _right(s_in[s], w, nw, np.uint64(lt - 1))
            a1 = x ^ r
            a2 = x & r
            if (a1 | a2) != _U0:
                key = step_key(k0[s], t)
                y = _decide2(key, np.uint64(64 * w), a1, a2, P1, one1, nd1, P2, one2, nd2)
        s_out[s, w] = y
        c = cuda.popc(y)
    _row_sum_to_global(red, c, tx, ty, cuda.blockDim.x, s, ns, cnt_out)


@cuda.jit(cache=True)
def _observe1(st, cnt, counts, r2s, ti, nw, L, t, seed_init):  # pragma: no cover
    w, s = cuda.grid(2)
    ns = st.shape[0]
    if s < ns and w < nw:
        if w == 0:
            counts[s, ti] = cnt[s]
        if seed_init:
            x = st[s, w]
            if x != _U0:
                tot = 0.0
                for j in range(64):
                    if (x >> np.uint64(j)) & _U1:
                        d = (2 * (64 * w + j) + t) % (2 * L)
                        if d > L:
                            d -= 2 * L
                        tot += 0.25 * d * d
                cuda.atomic.add(r2s, (s, ti), tot)


@cuda.jit(cache=True)
def _init2(st, cnt, k0, seed, s0, L, nwx, lt, seed_init):  # pragma: no cover
    q, s = cuda.grid(2)
    ns = st.shape[0]
    if s < ns and q < L * nwx:
        yy = q // nwx
        w = q - yy * nwx
        v = _U0
        if seed_init:
            if q == 0:
                v = _U1
        elif w + 1 < nwx or lt == 64:
            v = _ALL
        else:
            v = (_U1 << np.uint64(lt)) - _U1
        st[s, yy, w] = v
        if q == 0:
            k0[s] = sample_key(seed, s0 + s, _STREAM)
            cnt[0, s] = 1 if seed_init else L * L
            cnt[1, s] = 0
            cnt[2, s] = 0


@cuda.jit(cache=True)
def _step2(s_in, s_out, cnt_in, cnt_out, cnt_clear, L, nwx, lt, pn, k0,
           t):  # pragma: no cover
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    q = cuda.blockIdx.x * cuda.blockDim.x + tx
    s = cuda.blockIdx.y * cuda.blockDim.y + ty
    ns = s_in.shape[0]
    red = cuda.shared.array(_BLOCK, np.int64)
    c = 0
    if s < ns and q < L * nwx:
        if q == 0:
            cnt_clear[s] = 0
        yy = q // nwx
        w = q - yy * nwx
        y1 = yy + 1 if yy + 1 < L else 0
        out = _U0
        if cnt_in[s] > 0:
            sh_last = np.uint64(lt - 1)
            a = s_in[s, yy, w]
            ra = _right(s_in[s, yy], w, nwx, sh_last)
            b = s_in[s, y1, w]
            rb = _right(s_in[s, y1], w, nwx, sh_last)
            anyp = a | ra | b | rb
            if anyp != _U0:
                key = step_key(k0[s], t)
                for j in range(64):
                    jj = np.uint64(j)
                    if (anyp >> jj) & _U1:
                        n = (((a >> jj) & _U1) + ((ra >> jj) & _U1) + ((b >> jj) & _U1)
                             + ((rb >> jj) & _U1))
                        pv = pn[n]
                        if pv >= 1.0:  # uniform < 1 always: no draw needed (as the CPU)
                            out |= _U1 << jj
                        elif pv > 0.0:
                            u = to_unit(draw(key, np.uint64(yy * L + 64 * w + j)))
                            if u < pv:
                                out |= _U1 << jj
        s_out[s, yy, w] = out
        c = cuda.popc(out)
    _row_sum_to_global(red, c, tx, ty, cuda.blockDim.x, s, ns, cnt_out)


@cuda.jit(cache=True)
def _observe2(st, cnt, counts, r2s, ti, nwx, L, t, seed_init):  # pragma: no cover
    q, s = cuda.grid(2)
    ns = st.shape[0]
    if s < ns and q < L * nwx:
        if q == 0:
            counts[s, ti] = cnt[s]
        if seed_init:
            yy = q // nwx
            w = q - yy * nwx
            x = st[s, yy, w]
            if x != _U0:
                dy = (2 * yy + t) % (2 * L)
                if dy > L:
                    dy -= 2 * L
                tot = 0.0
                for j in range(64):
                    if (x >> np.uint64(j)) & _U1:
                        dx = (2 * (64 * w + j) + t) % (2 * L)
                        if dx > L:
                            dx -= 2 * L
                        tot += 0.25 * (dx * dx + dy * dy)
                cuda.atomic.add(r2s, (s, ti), tot)


# --------------------------------------------------------------------------- host side
def _block_shape(nwords, ns):
    # tx words of ty samples per block, no wider than the problem. Under the simulator (one
    # Python thread per CUDA thread) blocks have at most 8 threads, which also makes the tests
    # cover several blocks per sample.
    cap = 8 if _cuda.simulator() else _BLOCK
    tx = _cuda.pow2_at_least(nwords, cap)
    return tx, _cuda.pow2_at_least(ns, cap // tx)


def _drive(shape_state, nwords, init, step, observe, times, edges, seed, seed_init, size,
           init_args, step_args, obs_args):
    """Run every sample of ``edges`` in chunks; return per-batch sums (CPU order)."""
    times = np.asarray(times, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64)
    nt = len(times)
    s_first, s_last = int(edges[0]), int(edges[-1])
    counts_all = np.zeros((s_last - s_first, nt), np.int64)
    r2_all = np.zeros((s_last - s_first, nt), np.float64)
    words = int(np.prod(shape_state))
    per_chunk = max(1, min(STATE_BYTES // (16 * words), _cuda.MAX_GRID_Y))
    for a, b in _cuda.sample_chunks(s_first, s_last, per_chunk):
        ns = b - a
        tx, ty = _block_shape(nwords, ns)
        grid = ((nwords + tx - 1) // tx, (ns + ty - 1) // ty)
        st = cuda.device_array((ns,) + tuple(shape_state), np.uint64)
        st2 = cuda.device_array((ns,) + tuple(shape_state), np.uint64)
        cnt = cuda.device_array((3, ns), np.int64)
        k0 = cuda.device_array(ns, np.uint64)  # sample keys
        counts = cuda.to_device(np.zeros((ns, nt), np.int64))
        r2s = cuda.to_device(np.zeros((ns, nt), np.float64))
        init[grid, (tx, ty)](st, cnt, k0, seed, a, *init_args, seed_init)
        t = 0
        ti = 0
        while ti < nt:
            if times[ti] == t:
                observe[grid, (tx, ty)](st, cnt[t % 3], counts, r2s, ti, *obs_args, t,
                                        seed_init)
                ti += 1
                if ti < nt and not cnt[t % 3].copy_to_host().any():
                    break  # every sample absorbed: later counts stay 0
                continue
            step[grid, (tx, ty)](st, st2, cnt[t % 3], cnt[(t + 1) % 3], cnt[(t + 2) % 3],
                                 *step_args, k0, t)
            st, st2 = st2, st
            t += 1
        counts_all[a - s_first:b - s_first] = counts.copy_to_host()
        r2_all[a - s_first:b - s_first] = r2s.copy_to_host()
    return _cuda.count_sums(counts_all, r2_all, edges, size, seed_init)


def run_dk1(L, p1, p2, times, edges, seed, seed_init):
    """1+1 DK on the device; same arguments and result as ``_dk_cpu.run_dk1_packed``.

    Parameters
    ----------
    L : int
        Number of sites (>= 2).
    p1, p2 : float
        Activation probabilities with one and two active parents.
    times : numpy.ndarray
        Sorted int64 output times.
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
    L = int(L)
    nw = (L + 63) // 64
    lt = L - 64 * (nw - 1)
    P1, one1, nd1 = threshold(p1)
    P2, one2, nd2 = threshold(p2)
    return _drive((nw,), nw, _init1, _step1, _observe1, times, edges, int(seed),
                  bool(seed_init), L, (L, nw, lt),
                  (nw, lt, P1, one1, nd1, P2, one2, nd2), (nw, L))


def run_dk2(L, pn, times, edges, seed, seed_init):
    """2+1 DK (bcc lattice) on the device; same as ``_dk_cpu.run_dk2_packed`` (and scalar).

    Parameters
    ----------
    L : int
        Side (>= 2); ``L * L`` sites, rows bit-packed 64 sites per word.
    pn : array_like
        ``pn[n]``, activation probability with ``n = 0..4`` active parents.
    times, edges, seed, seed_init
        As in :func:`run_dk1`.

    Returns
    -------
    tuple of numpy.ndarray
        Per-batch sums ``(rho, rho2, survival, n_active, r2)``, float64 ``(nb, nt)``.
    """
    L = int(L)
    nwx = (L + 63) // 64
    lt = L - 64 * (nwx - 1)
    pn_d = cuda.to_device(np.ascontiguousarray(pn, dtype=np.float64))
    return _drive((L, nwx), L * nwx, _init2, _step2, _observe2, times, edges, int(seed),
                  bool(seed_init), L * L, (L, nwx, lt), (L, nwx, lt, pn_d), (nwx, L))


def run_process(process, times, edges, init, seed):
    """Run a ``DomanyKinzel``/``DirectedPercolation`` instance (called by its ``_run``).

    Returns
    -------
    tuple of numpy.ndarray
        Per-batch sums ``(rho, rho2, survival, n_active, r2)``, as the CPU kernels.
    """
    seed_init = init == "seed"
    if process.dim == 1:
        p1, p2 = process._dk_probabilities()
        return run_dk1(process.L, p1, p2, times, edges, seed, seed_init)
    return run_dk2(process.L, process._pn(), times, edges, seed, seed_init)

"""CUDA kernels of the random CNN (weight-shared and locally connected); agree with the CPU.

Imported lazily (only for ``backend="cuda"``); see :mod:`absorbphys.kernels.cuda` and
:mod:`absorbphys.models.cnn`. Layout and random numbers are those of ``models/_cnn_cpu.py``:
sites flat, channels last (``h[s, x, c]``); inputs ``normal_pair(sample_key(seed, s,
STREAM_INPUT), x C + c)``; weight-shared layer ``t``: the flattened ``W[k, ci, co]`` and then
the biases are consecutive normal pairs of ``step_key(sample_key(seed, s, STREAM_WEIGHTS),
t)``; locally connected layer ``t``: site ``x`` draws ``normal_pair(key, x C + c)`` from
``step_key(sample_key(seed, s, STREAM_DYNAMICS), t)``.

Per layer: an activation kernel (``a = phi(h)``, ``e = phi(h + d) - phi(h)``, one thread per
unit), then either the weight draw plus a direct convolution (one thread per output unit
``(x, co)``, the window gathered through the neighbour table) or the locally connected exact
Gaussian transition (one thread per site, sums in the CPU's order). At the output layers one
block per sample computes each site's ``1 - c`` over the channels (sequentially, as the CPU)
and reduces ``rho``, the number of active sites and ``r2`` in shared memory. Many samples run
per launch (grid y). Results agree with the CPU to rounding (the per-sample sums over sites
use a tree instead of a loop).
"""

from __future__ import annotations

import math
import types

import numpy as np
from numba import njit

from absorbphys.kernels import cuda as _cuda
from absorbphys.kernels.rng import STREAM_DYNAMICS, STREAM_INPUT, STREAM_WEIGHTS
from absorbphys.kernels.sums import alloc_sums, record_sums, sums_dict
from absorbphys.models import _cnn_cpu, _mlp_cuda
from absorbphys.models.activations import get_activation
from absorbphys.models.meanfield import init_rho

cuda = _cuda.require()
DEV = _cuda.device_rng()
_cuda.sim_guard(globals())
normal_pair = DEV.normal_pair
sample_key = DEV.sample_key
step_key = DEV.step_key
act_phi = _mlp_cuda.act_phi
act_diff = _mlp_cuda.act_diff
block_reduce = _mlp_cuda.block_reduce

TPB = _mlp_cuda.TPB
THREADS = 128
#: Bytes of device memory the per-sample state of one chunk may use.
STATE_BYTES = 1 << 30
_S_DYN = STREAM_DYNAMICS
_S_IN = STREAM_INPUT
_S_W = STREAM_WEIGHTS
f64 = np.float64


def _py_init(h, d, q0, rho0, seed_only, seed, s0):  # pragma: no cover
    x, s = cuda.grid(2)
    ns, S, C = h.shape
    if s < ns and x < S:
        key = sample_key(seed, s0 + s, _S_IN)
        sq = math.sqrt(q0)
        sg = math.sqrt(rho0 * (2.0 - rho0)) if rho0 < 2.0 else 0.0
        for c in range(C):
            z1, z2 = normal_pair(key, x * C + c)
            hi = sq * z1
            h[s, x, c] = hi
            if seed_only and x != 0:
                d[s, x, c] = 0.0
            else:
                d[s, x, c] = -rho0 * hi + sg * sq * z2


def _py_activate(code, h, d, a, e):  # pragma: no cover
    u, s = cuda.grid(2)
    ns, S, C = h.shape
    if s < ns and u < S * C:
        x = u // C
        c = u - x * C
        hv = f64(h[s, x, c])
        a[s, x, c] = act_phi(code, hv)
        e[s, x, c] = act_diff(code, hv, f64(d[s, x, c]))


def _py_fill(W, bias, sb, seed, s0, t):  # pragma: no cover
    # W: (ns, nk * C * C) float64, bias: (ns, C) (already times sigma_b)
    m, s = cuda.grid(2)
    ns, nw = W.shape
    C = bias.shape[1]
    hw = (nw + 1) // 2
    if s < ns and m < hw + (C + 1) // 2:
        key = step_key(sample_key(seed, s0 + s, _S_W), t)
        z1, z2 = normal_pair(key, m)
        if m < hw:
            W[s, 2 * m] = z1
            if 2 * m + 1 < nw:
                W[s, 2 * m + 1] = z2
        else:
            mb = m - hw
            bias[s, 2 * mb] = sb * z1
            if 2 * mb + 1 < C:
                bias[s, 2 * mb + 1] = sb * z2


def _py_conv(h, d, a, e, W, bias, nbr, scale):  # pragma: no cover
    # direct convolution, one thread per output unit (x, co): as _cnn_cpu.conv_layer
    u, s = cuda.grid(2)
    ns, S, C = h.shape
    nk = nbr.shape[1]
    if s < ns and u < S * C:
        x = u // C
        co = u - x * C
        acc_h = 0.0
        acc_d = 0.0
        for k in range(nk):
            y = nbr[x, k]
            base = (k * C) * C + co
            for ci in range(C):
                w = W[s, base + ci * C]
                acc_h += w * a[s, y, ci]
                acc_d += w * e[s, y, ci]
        h[s, x, co] = scale * acc_h + bias[s, co]
        d[s, x, co] = scale * acc_d


def _py_local(h, d, a, e, nbr, sw2f, sb2, seed, s0, t):  # pragma: no cover
    # locally connected exact transition, one thread per site: as _cnn_cpu.local_layer
    x, s = cuda.grid(2)
    ns, S, C = h.shape
    nk = nbr.shape[1]
    if s < ns and x < S:
        A = 0.0
        B = 0.0
        D = 0.0
        for k in range(nk):
            y = nbr[x, k]
            for c in range(C):
                av = a[s, y, c]
                ev = e[s, y, c]
                A += av * av
                B += av * ev
                D += ev * ev
        G = A * D - B * B
        if A > 0.0 and G < 1e-6 * A * D:
            beta = B / A
            P = 0.0
            for k in range(nk):
                y = nbr[x, k]
                for c in range(C):
                    r = e[s, y, c] - beta * a[s, y, c]
                    P += r * r
            G = A * P
        q11 = sw2f * A + sb2
        if q11 > 0.0:
            alpha = sw2f * B / q11
            vcond = sw2f * (sw2f * G + sb2 * D) / q11
            sh = math.sqrt(q11)
        else:
            alpha = 0.0
            vcond = sw2f * D
            sh = 0.0
        sd = math.sqrt(vcond) if vcond > 0.0 else 0.0
        key = step_key(sample_key(seed, s0 + s, _S_DYN), t)
        for c in range(C):
            z1, z2 = normal_pair(key, x * C + c)
            hn = sh * z1
            h[s, x, c] = hn
            d[s, x, c] = alpha * hn + sd * z2


def _py_measure(h, d, eps, r2site, out, ti):  # pragma: no cover
    # one block per sample: out[s, ti] = (rho, active sites, r2)
    s = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthr = cuda.blockDim.x
    S = h.shape[1]
    C = h.shape[2]
    red = cuda.shared.array((4, TPB), f64)
    tot = 0.0
    nact = 0.0
    r2 = 0.0
    for x in range(tid, S, nthr):
        # 1 - c over the channels of site x, as _mlp_cpu.replica_rho
        hh = 0.0
        hd = 0.0
        dd = 0.0
        pp = 0.0
        for c in range(C):
            hi = f64(h[s, x, c])
            di = f64(d[s, x, c])
            hh += hi * hi
            hd += hi * di
            dd += di * di
            p = hi + di
            pp += p * p
        if dd == 0.0:
            r = 0.0
        elif hh == 0.0 or pp == 0.0:
            r = 1.0
        else:
            nh = math.sqrt(hh)
            f = ((2.0 * hd + dd) / (nh + math.sqrt(pp))) / nh
            acc = 0.0
            for c in range(C):
                w = f * f64(h[s, x, c]) - f64(d[s, x, c])
                acc += w * w
            r = acc / (2.0 * pp)
            if r > 2.0:
                r = 2.0
        tot += r
        if r > eps:
            nact += 1.0
            r2 += r2site[x]
    red[0, tid] = tot
    red[1, tid] = nact
    red[2, tid] = r2
    block_reduce(red, 3, tid, nthr)
    if tid == 0:
        out[s, ti, 0] = red[0, 0] / S
        out[s, ti, 1] = red[1, 0]
        out[s, ti, 2] = red[2, 0]


def _compile(ns, cache):
    _cuda.sim_guard(ns)
    def k(fn):
        f = types.FunctionType(fn.__code__, ns, fn.__name__, fn.__defaults__, fn.__closure__)
        return cuda.jit(cache=cache)(f)

    return types.SimpleNamespace(init=k(_py_init), activate=k(_py_activate), fill=k(_py_fill),
                                 conv=k(_py_conv), local=k(_py_local), measure=k(_py_measure))


_BUILTIN = None
_USER: dict = {}


def kernels_for(act):
    """Return the CNN kernels for an activation (built-ins cached on disk, user ones not)."""
    global _BUILTIN
    if act.code >= 0:
        if _BUILTIN is None:
            _BUILTIN = _compile(globals(), True)
        return _BUILTIN
    if act not in _USER:
        _USER[act] = _compile(_mlp_cuda.user_namespace(act, globals()), False)
    return _USER[act]


@njit(cache=True)
def _sums(per, edges):
    # per[s, ti] = (rho, active sites, r2): per-batch sums in sample order (as the CPU)
    nb = len(edges) - 1
    nt = per.shape[1]
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    r2 = np.zeros((nb, nt))
    s0 = edges[0]
    for b in range(nb):
        for s in range(edges[b], edges[b + 1]):
            for ti in range(nt):
                record_sums(rho, rho2, surv, nact, b, ti, per[s - s0, ti, 0], per[s - s0, ti, 1])
                r2[b, ti] += per[s - s0, ti, 2]
    return rho, rho2, surv, nact, r2


def cnn(act, L, dim, C, K, shared, sw, sb, q0, rho0, seed_only, times, edges, seed, eps,
        dtype):
    """Random CNN on the device; same arguments and sums as ``_cnn_cpu.cnn_kernel``.

    Parameters
    ----------
    act : Activation
        From :func:`absorbphys.models.activations.get_activation`.
    L, dim, C, K : int
        Side, dimension (1 or 2), channels, kernel size.
    shared : bool
        Weight sharing (convolution) or locally connected (exact per-site transition).
    sw, sb, q0, rho0 : float
        ``sigma_w``, ``sigma_b``, input variance, ``1 - c0``.
    seed_only : bool
        The replicas differ at site 0 only (``"seed"``).
    times, edges : numpy.ndarray
        Output layers (int64) and batch edges.
    seed : int
        Master seed.
    eps : float
        Per-site absorption threshold.
    dtype : numpy.dtype
        Storage precision of ``h`` and ``d``.

    Returns
    -------
    tuple of numpy.ndarray
        Per-batch sums ``(rho, rho2, survival, n_active, r2)``, float64 ``(nb, nt)``.
    """
    kern = kernels_for(act)
    L, dim, C, K = int(L), int(dim), int(C), int(K)
    S = L ** dim
    nk = K ** dim
    nw = nk * C * C
    dtype = np.dtype(dtype)
    times = np.asarray(times, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64)
    nt = len(times)
    s_first, s_last = int(edges[0]), int(edges[-1])
    per_all = np.zeros((s_last - s_first, nt, 3))
    nbr = cuda.to_device(_cnn_cpu.neighbours(L, dim, K))
    r2site = cuda.to_device(_cnn_cpu.site_r2(L, dim))
    fan_in = C * nk
    scale = sw / math.sqrt(fan_in)
    sw2f = sw * sw / fan_in
    code = np.int64(act.code)
    per_sample = S * C * (2 * dtype.itemsize + 16) + 8 * (nw + C)
    per_chunk = max(1, STATE_BYTES // per_sample)
    nthr = _cuda.reduction_threads(S, TPB)
    for a0, b0 in _cuda.sample_chunks(s_first, s_last, per_chunk):
        ns = b0 - a0
        h = cuda.device_array((ns, S, C), dtype)
        d = cuda.device_array((ns, S, C), dtype)
        a = cuda.device_array((ns, S, C), np.float64)
        e = cuda.device_array((ns, S, C), np.float64)
        W = cuda.device_array((ns, nw), np.float64)
        bias = cuda.device_array((ns, C), np.float64)
        per = cuda.to_device(np.zeros((ns, nt, 3)))

        def grid(n):
            # the simulator runs one Python thread per CUDA thread: small blocks there
            tx = _cuda.pow2_at_least(n, 8 if _cuda.simulator() else THREADS)
            return (_cuda.blocks(n, tx), ns), (tx, 1)

        g_site, b_site = grid(S)
        g_unit, b_unit = grid(S * C)
        g_fill, b_fill = grid((nw + 1) // 2 + (C + 1) // 2)
        kern.init[g_site, b_site](h, d, float(q0), float(rho0), bool(seed_only), int(seed), a0)
        t = 0
        ti = 0
        while ti < nt:
            if t == times[ti]:
                kern.measure[ns, nthr](h, d, float(eps), r2site, per, ti)
                ti += 1
                continue
            kern.activate[g_unit, b_unit](code, h, d, a, e)
            if shared:
                kern.fill[g_fill, b_fill](W, bias, float(sb), int(seed), a0, t)
                kern.conv[g_unit, b_unit](h, d, a, e, W, bias, nbr, scale)
            else:
                kern.local[g_site, b_site](h, d, a, e, nbr, sw2f, float(sb) * float(sb),
                                           int(seed), a0, t)
            t += 1
        per_all[a0 - s_first:b0 - s_first] = per.copy_to_host()
    return _sums(per_all, edges)


def run_process(process, times, edges, init, seed):
    """Run a ``CNN`` instance (called by its ``_run``).

    Returns
    -------
    dict of str to numpy.ndarray
        Per-batch sums ``rho``, ``rho2``, ``survival`` and, for seed runs, ``n_active`` and
        ``r2``.
    """
    sums = cnn(get_activation(process.activation), process.L, process.dim,
                           process.channels, process.kernel_size, bool(process.weight_sharing),
                           float(process.sigma_w), float(process.sigma_b),
                           process.input_variance(), init_rho(init, process.seed_rho),
                           init == "seed", times, edges, int(seed), float(process.eps),
                           np.dtype(process.dtype))
    return sums_dict(sums, init == "seed")

"""CPU kernels of the random CNN (Numba). See :mod:`absorbphys.models.cnn` for the maths.

Sites are stored flat (``x = i`` in 1-D, ``x = i * L + j`` in 2-D), channels last: the state
of a sample is ``h[x, c]`` and the replica difference ``d[x, c]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from absorbphys.kernels import rng as _rng
from absorbphys.kernels.rng import sample_key, step_key
from absorbphys.kernels.sums import alloc_sums, record_sums
from absorbphys.models._mlp_cpu import normal_pair_fast, replica_rho
from absorbphys.models.activations import act_phi_diff, rebind_njit, user_namespace_cpu

STREAM_DYNAMICS = _rng.STREAM_DYNAMICS
STREAM_INPUT = _rng.STREAM_INPUT
STREAM_WEIGHTS = _rng.STREAM_WEIGHTS


def _py_neighbours(L, dim, K):
    """nbr[x, k]: the site at offset k of the kernel window of site x (periodic)."""
    S = L ** dim
    o0 = K // 2
    nk = K ** dim
    nbr = np.empty((S, nk), dtype=np.int64)
    for x in range(S):
        if dim == 1:
            for k in range(K):
                nbr[x, k] = (x + k - o0) % L
        else:
            i = x // L
            j = x % L
            for ki in range(K):
                for kj in range(K):
                    nbr[x, ki * K + kj] = ((i + ki - o0) % L) * L + (j + kj - o0) % L
    return nbr


neighbours = njit(cache=True)(_py_neighbours)


def _py_site_r2(L, dim):
    """Squared minimum-image distance of every site from the seed site 0."""
    S = L ** dim
    r2 = np.empty(S)
    for x in range(S):
        if dim == 1:
            a = min(x, L - x)
            r2[x] = a * a
        else:
            i = x // L
            j = x % L
            a = min(i, L - i)
            b = min(j, L - j)
            r2[x] = a * a + b * b
    return r2


site_r2 = njit(cache=True)(_py_site_r2)


def _py_cnn_init(h, d, key, q0, rho0, seed_only):
    S = h.shape[0]
    C = h.shape[1]
    sq = math.sqrt(q0)
    s = math.sqrt(rho0 * (2.0 - rho0)) if rho0 < 2.0 else 0.0
    for x in range(S):
        for c in range(C):
            z1, z2 = normal_pair_fast(key, x * C + c)
            hi = sq * z1
            h[x, c] = hi
            if seed_only and x != 0:
                d[x, c] = 0.0
            else:
                d[x, c] = -rho0 * hi + s * sq * z2


cnn_init = njit(cache=True)(_py_cnn_init)


def _py_cnn_measure(h, d, eps, r2site, out_rho, out_rho2, out_surv, out_nact, out_r2, b, ti):
    S = h.shape[0]
    tot = 0.0
    nact = 0.0
    r2 = 0.0
    for x in range(S):
        r = replica_rho(h[x], d[x])
        tot += r
        if r > eps:
            nact += 1.0
            r2 += r2site[x]
    record_sums(out_rho, out_rho2, out_surv, out_nact, b, ti, tot / S, nact)
    out_r2[b, ti] += r2


cnn_measure = njit(cache=True)(_py_cnn_measure)


def _py_activate(code, h, d, a, e):
    S = h.shape[0]
    C = h.shape[1]
    for x in range(S):
        for c in range(C):
            av, ev = act_phi_diff(code, np.float64(h[x, c]), np.float64(d[x, c]))
            a[x, c] = av
            e[x, c] = ev


activate = njit(cache=True)(_py_activate)


def _py_conv_layer(h, d, a, e, W, bias, nbr, scale, acc_h, acc_d):
    """Weight-shared convolution of (phi(h), phi(h') - phi(h)); W has shape (nk, C, C)."""
    S = h.shape[0]
    C = h.shape[1]
    nk = nbr.shape[1]
    for x in range(S):
        for co in range(C):
            acc_h[co] = 0.0
            acc_d[co] = 0.0
        for k in range(nk):
            y = nbr[x, k]
            for ci in range(C):
                av = a[y, ci]
                ev = e[y, ci]
                for co in range(C):
                    w = W[k, ci, co]
                    acc_h[co] += w * av
                    acc_d[co] += w * ev
        for co in range(C):
            h[x, co] = scale * acc_h[co] + bias[co]
            d[x, co] = scale * acc_d[co]


conv_layer = njit(cache=True)(_py_conv_layer)


def _py_local_layer(h, d, a, e, nbr, sw2f, sb2, key):
    """Locally connected layer, exact per-site Gaussian transition (O(S * C * nk))."""
    S = h.shape[0]
    C = h.shape[1]
    nk = nbr.shape[1]
    for x in range(S):
        A = 0.0
        B = 0.0
        D = 0.0
        for k in range(nk):
            y = nbr[x, k]
            for c in range(C):
                av = a[y, c]
                ev = e[y, c]
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
                    r = e[y, c] - beta * a[y, c]
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
        for c in range(C):
            z1, z2 = normal_pair_fast(key, x * C + c)
            hn = sh * z1
            h[x, c] = hn
            d[x, c] = alpha * hn + sd * z2


local_layer = njit(cache=True)(_py_local_layer)


def _py_cnn_sample(code, L, dim, C, K, shared, sw, sb, q0, rho0, seed_only, times, s, seed,
                   eps, h, d, nbr, r2site, rho_s, rho2_s, surv_s, nact_s, r2_s, b):
    """Run sample ``s`` and add its observables to row ``b`` of the output sums."""
    nt = times.shape[0]
    S = h.shape[0]
    nk = K ** dim
    fan_in = C * nk
    scale = sw / math.sqrt(fan_in)
    sw2f = sw * sw / fan_in
    nw = nk * C * C
    a = np.empty((S, C))
    e = np.empty((S, C))
    W = np.empty((nk, C, C))
    bias = np.empty(C)
    acc_h = np.empty(C)
    acc_d = np.empty(C)
    cnn_init(h, d, sample_key(seed, s, STREAM_INPUT), q0, rho0, seed_only)
    kw = sample_key(seed, s, STREAM_WEIGHTS)
    kdyn = sample_key(seed, s, STREAM_DYNAMICS)
    t = 0
    ti = 0
    while ti < nt:
        if t == times[ti]:
            cnn_measure(h, d, eps, r2site, rho_s, rho2_s, surv_s, nact_s, r2_s, b, ti)
            ti += 1
            continue
        activate(code, h, d, a, e)
        if shared:
            key = step_key(kw, t)
            Wf = W.reshape(nw)
            for m in range((nw + 1) // 2):
                z1, z2 = normal_pair_fast(key, m)
                Wf[2 * m] = z1
                if 2 * m + 1 < nw:
                    Wf[2 * m + 1] = z2
            base = (nw + 1) // 2
            for m in range((C + 1) // 2):
                z1, z2 = normal_pair_fast(key, base + m)
                bias[2 * m] = sb * z1
                if 2 * m + 1 < C:
                    bias[2 * m + 1] = sb * z2
            conv_layer(h, d, a, e, W, bias, nbr, scale, acc_h, acc_d)
        else:
            local_layer(h, d, a, e, nbr, sw2f, sb * sb, step_key(kdyn, t))
        t += 1


cnn_sample = njit(cache=True)(_py_cnn_sample)


def _py_cnn_kernel(code, L, dim, C, K, shared, sw, sb, q0, rho0, seed_only, times, edges,
                   seed, eps, dtype_one):
    nb = edges.shape[0] - 1
    nt = times.shape[0]
    S = L ** dim
    rho_s, rho2_s, surv_s, nact_s = alloc_sums(nb, nt)
    r2_s = np.zeros((nb, nt))
    nbr = neighbours(L, dim, K)
    r2site = site_r2(L, dim)
    for b in prange(nb):
        h = np.empty((S, C), dtype=dtype_one.dtype)
        d = np.empty((S, C), dtype=dtype_one.dtype)
        for s in range(edges[b], edges[b + 1]):
            cnn_sample(code, L, dim, C, K, shared, sw, sb, q0, rho0, seed_only, times, s, seed,
                       eps, h, d, nbr, r2site, rho_s, rho2_s, surv_s, nact_s, r2_s, b)
    return rho_s, rho2_s, surv_s, nact_s, r2_s


cnn_kernel = njit(cache=True, parallel=True)(_py_cnn_kernel)

_USER_KERNELS: dict = {}


def compile_for(act):
    """Return the CNN kernel compiled for a user activation (no disk cache)."""
    if act in _USER_KERNELS:
        return _USER_KERNELS[act]
    ns = user_namespace_cpu(act, globals())
    ns["activate"] = rebind_njit(_py_activate, ns)
    ns["cnn_sample"] = rebind_njit(_py_cnn_sample, ns)
    kern = rebind_njit(_py_cnn_kernel, ns, parallel=True)
    _USER_KERNELS[act] = kern
    return kern

"""CPU kernels of the random MLP (Numba). See :mod:`absorbphys.models.mlp` for the maths.

The kernels are plain Python functions compiled with ``numba.njit``: for built-in
activations with ``cache=True`` (dispatching on an integer code), for user activations
through :func:`compile_for` (the activation functions are rebound, no on-disk cache).
"""

from __future__ import annotations

import math
import types

import numpy as np
from absorbphys.models.activations import act_phi_diff
from numba import njit, prange

from absorbphys import _rng
from absorbphys._rng import draw, sample_key, step_key

STREAM_DYNAMICS = _rng.STREAM_DYNAMICS
STREAM_INPUT = _rng.STREAM_INPUT
STREAM_WEIGHTS = _rng.STREAM_WEIGHTS


# ------------------------------------------------------------------ shared helpers
# fdlibm __kernel_sin / __kernel_cos coefficients (|x| <= pi/4, error < 1 ulp)
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
_TWO53 = 1.0 / 9007199254740992.0
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO = np.uint64(2)


def _py_normal_pair_fast(key, index):
    """Box-Muller on the same two uniforms as :func:`absorbphys._rng.normal_pair`.

    ``u1 = 1 - to_unit(draw(key, 2 index))``, ``u2 = to_unit(draw(key, 2 index + 1))``,
    ``r = sqrt(-2 log u1)``, angle ``2 pi u2``; the cosine and sine come from the fdlibm
    polynomial kernels after an exact quadrant reduction of ``4 u2`` (instead of libm's
    general ``sin``/``cos``, which cost ~23 ns of the ~26 ns of ``normal_pair`` here). Agrees
    with ``normal_pair`` to a few ulp (not bit for bit).
    """
    i2 = np.uint64(index) * _TWO
    u1 = 1.0 - np.float64(np.int64(draw(key, i2) >> _S11)) * _TWO53
    v = np.float64(np.int64(draw(key, i2 + _ONE) >> _S11)) * (4.0 * _TWO53)
    q = np.int64(v + 0.5)
    x = 1.5707963267948966 * (v - np.float64(q))
    z = x * x
    sn = x + z * x * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    cs = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    r = math.sqrt(-2.0 * math.log(u1))
    # quadrant q: (cos, sin) of q pi/2 + x, written with selects (no unpredictable branches)
    swap = (q & 1) == 1
    c1 = sn if swap else cs
    c2 = cs if swap else sn
    r1 = -r if ((q + 1) & 2) != 0 else r
    r2 = -r if (q & 2) != 0 else r
    return r1 * c1, r2 * c2


normal_pair_fast = njit(cache=True, inline="always")(_py_normal_pair_fast)


def _py_init_pair(h, d, key, offset, q0, rho0):
    """Layer 0: h ~ N(0, q0), h' = c0 h + sqrt(1 - c0^2) sqrt(q0) z, stored as d = h' - h."""
    n = h.shape[0]
    sq = math.sqrt(q0)
    s = math.sqrt(rho0 * (2.0 - rho0)) if rho0 < 2.0 else 0.0
    for i in range(n):
        z1, z2 = normal_pair_fast(key, offset + i)
        hi = sq * z1
        h[i] = hi
        d[i] = -rho0 * hi + s * sq * z2


def _py_replica_rho(h, d):
    """1 - c between h and h' = h + d, from d and the norms (accurate to ~1e-300).

    With m = |h'| - |h| = (2 h.d + |d|^2) / (|h| + |h'|):
    1 - c = |h m / |h| - d|^2 / (2 |h'|^2).
    """
    n = h.shape[0]
    hh = 0.0
    hd = 0.0
    dd = 0.0
    pp = 0.0
    for i in range(n):
        hi = np.float64(h[i])
        di = np.float64(d[i])
        hh += hi * hi
        hd += hi * di
        dd += di * di
        p = hi + di
        pp += p * p
    if dd == 0.0:
        return 0.0
    if hh == 0.0 or pp == 0.0:
        return 1.0
    nh = math.sqrt(hh)
    nhp = math.sqrt(pp)
    m = (2.0 * hd + dd) / (nh + nhp)
    f = m / nh
    acc = 0.0
    for i in range(n):
        w = f * np.float64(h[i]) - np.float64(d[i])
        acc += w * w
    r = acc / (2.0 * pp)
    return r if r < 2.0 else 2.0


init_pair = njit(cache=True)(_py_init_pair)
replica_rho = njit(cache=True)(_py_replica_rho)


# ------------------------------------------------------------------ gaussian (exact O(N)) method
def _py_gaussian_layer(code, h, d, a_buf, e_buf, key, sw2n, sb2):
    """One exact transition: (h, d) of the next layer given the current one, in place."""
    n = h.shape[0]
    A = 0.0
    B = 0.0
    D = 0.0
    for i in range(n):
        a, e = act_phi_diff(code, np.float64(h[i]), np.float64(d[i]))
        a_buf[i] = a
        e_buf[i] = e
        A += a * a
        B += a * e
        D += e * e
    # Gram determinant A D - B^2 without cancellation when e is nearly parallel to a
    G = A * D - B * B
    if A > 0.0 and G < 1e-6 * A * D:
        beta = B / A
        P = 0.0
        for i in range(n):
            r = e_buf[i] - beta * a_buf[i]
            P += r * r
        G = A * P
    q11 = sw2n * A + sb2
    cov = sw2n * B
    if q11 > 0.0:
        alpha = cov / q11
        vcond = sw2n * (sw2n * G + sb2 * D) / q11
        sh = math.sqrt(q11)
    else:
        alpha = 0.0
        vcond = sw2n * D
        sh = 0.0
    sd = math.sqrt(vcond) if vcond > 0.0 else 0.0
    for i in range(n):
        z1, z2 = normal_pair_fast(key, i)
        hn = sh * z1
        h[i] = hn
        d[i] = alpha * hn + sd * z2


gaussian_layer = njit(cache=True)(_py_gaussian_layer)


def _py_gaussian_sample(code, n, sw2n, sb2, q0, rho0, times, s, seed, eps, h, d, a_buf, e_buf,
                        rho_s, rho2_s, surv_s, nact_s, b):
    """Run sample ``s`` and add its observables to row ``b`` of the output sums."""
    nt = times.shape[0]
    init_pair(h, d, sample_key(seed, s, STREAM_INPUT), 0, q0, rho0)
    kdyn = sample_key(seed, s, STREAM_DYNAMICS)
    t = 0
    ti = 0
    while ti < nt:
        if t == times[ti]:
            r = replica_rho(h, d)
            rho_s[b, ti] += r
            rho2_s[b, ti] += r * r
            if r > eps:
                surv_s[b, ti] += 1.0
                nact_s[b, ti] += n * r
            ti += 1
            continue
        gaussian_layer(code, h, d, a_buf, e_buf, step_key(kdyn, t), sw2n, sb2)
        t += 1


gaussian_sample = njit(cache=True)(_py_gaussian_sample)


def _py_mlp_gaussian(code, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype_one):
    nb = edges.shape[0] - 1
    nt = times.shape[0]
    rho_s = np.zeros((nb, nt))
    rho2_s = np.zeros((nb, nt))
    surv_s = np.zeros((nb, nt))
    nact_s = np.zeros((nb, nt))
    sw2n = sw * sw / n
    sb2 = sb * sb
    for b in prange(nb):
        h = np.empty(n, dtype=dtype_one.dtype)
        d = np.empty(n, dtype=dtype_one.dtype)
        a_buf = np.empty(n)
        e_buf = np.empty(n)
        for s in range(edges[b], edges[b + 1]):
            gaussian_sample(code, n, sw2n, sb2, q0, rho0, times, s, seed, eps, h, d, a_buf,
                            e_buf, rho_s, rho2_s, surv_s, nact_s, b)
    return rho_s, rho2_s, surv_s, nact_s


mlp_gaussian = njit(cache=True, parallel=True)(_py_mlp_gaussian)


# ------------------------------------------------------------------ explicit-weights method
def _py_fill_normals(out, key):
    """out.ravel()[k] = standard normal number k of the counter-based stream ``key``."""
    m = out.shape[0]
    n = out.shape[1]
    half = n // 2
    for i in prange(m):
        base = i * ((n + 1) // 2)
        for j in range(half):
            z1, z2 = normal_pair_fast(key, base + j)
            out[i, 2 * j] = z1
            out[i, 2 * j + 1] = z2
        if n % 2 == 1:
            z1, z2 = normal_pair_fast(key, base + half)
            out[i, n - 1] = z1


fill_normals = njit(cache=True, parallel=True)(_py_fill_normals)


def _py_act_pairs(code, h, d, x):
    """x[:, :K] = phi(h), x[:, K:] = phi(h + d) - phi(h) (accurate), for h, d of shape (N, K)."""
    n = h.shape[0]
    k = h.shape[1]
    for i in prange(n):
        for j in range(k):
            a, e = act_phi_diff(code, np.float64(h[i, j]), np.float64(d[i, j]))
            x[i, j] = a
            x[i, k + j] = e


act_pairs = njit(cache=True, parallel=True)(_py_act_pairs)


def _py_init_inputs(h, d, key, q0, rho0):
    n = h.shape[0]
    k = h.shape[1]
    hc = np.empty(n)
    dc = np.empty(n)
    for j in range(k):
        init_pair(hc, dc, key, j * n, q0, rho0)
        for i in range(n):
            h[i, j] = hc[i]
            d[i, j] = dc[i]


init_inputs = njit(cache=True)(_py_init_inputs)


def _py_rho_columns(h, d, out):
    k = h.shape[1]
    for j in range(k):
        out[j] = replica_rho(np.ascontiguousarray(h[:, j]), np.ascontiguousarray(d[:, j]))


rho_columns = njit(cache=True)(_py_rho_columns)


def mlp_weights(code, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype, inputs,
                act_pairs_fn=None):
    """Explicit weights: W ~ N(0, sw^2/n) per layer, shared by both replicas and all inputs.

    Weights and biases of layer t of sample s are normals of the counter-based stream
    ``step_key(sample_key(seed, s, STREAM_WEIGHTS), t)``: W[i, j] is number ``i * n + j``
    (``n`` even) and b[i] number ``n * n + i`` (rounded up to whole pairs). Products use BLAS
    (NumPy ``matmul``).
    """
    act_pairs_fn = act_pairs if act_pairs_fn is None else act_pairs_fn
    nb = edges.shape[0] - 1
    nt = times.shape[0]
    out = {k: np.zeros((nb, nt)) for k in ("rho", "rho2", "survival", "n_active")}
    k = inputs
    W = np.empty((n, n), dtype=dtype)
    bias = np.empty((1, n), dtype=np.float64)
    h = np.empty((n, k), dtype=dtype)
    d = np.empty((n, k), dtype=dtype)
    x = np.empty((n, 2 * k), dtype=dtype)
    rr = np.empty(k)
    scale = sw / math.sqrt(n)
    bias_key_offset = n * ((n + 1) // 2)
    for b in range(nb):
        for s in range(int(edges[b]), int(edges[b + 1])):
            hh = np.empty((n, k))
            dd = np.empty((n, k))
            init_inputs(hh, dd, np.uint64(sample_key(seed, s, STREAM_INPUT)), q0, rho0)
            h[...] = hh
            d[...] = dd
            kw = np.uint64(sample_key(seed, s, STREAM_WEIGHTS))
            t = 0
            ti = 0
            while ti < nt:
                if t == times[ti]:
                    rho_columns(h.astype(np.float64), d.astype(np.float64), rr)
                    out["rho"][b, ti] += rr.mean()
                    out["rho2"][b, ti] += (rr * rr).mean()
                    alive = rr > eps
                    out["survival"][b, ti] += alive.mean()
                    out["n_active"][b, ti] += (n * rr * alive).mean()
                    ti += 1
                    continue
                key = np.uint64(step_key(kw, np.int64(t)))
                fill_normals(W, key)
                _bias(bias, key, bias_key_offset)
                act_pairs_fn(code, h, d, x)
                y = np.matmul(W, x)
                np.multiply(y[:, :k], scale, out=h)
                h += (sb * bias[0])[:, None].astype(dtype)
                np.multiply(y[:, k:], scale, out=d)
                t += 1
    return out


@njit(cache=True)
def _bias_nb(bias, key, offset):
    n = bias.shape[1]
    for i in range((n + 1) // 2):
        z1, z2 = normal_pair_fast(key, offset + i)
        bias[0, 2 * i] = z1
        if 2 * i + 1 < n:
            bias[0, 2 * i + 1] = z2


def _bias(bias, key, offset):
    _bias_nb(bias, np.uint64(key), np.int64(offset))


# ------------------------------------------------------------------ user activations
_USER_KERNELS: dict = {}


def compile_for(act):
    """Return ``(mlp_gaussian, act_pairs)`` compiled for a user activation (no disk cache)."""
    if act in _USER_KERNELS:
        return _USER_KERNELS[act]
    phi, diff = act.user["phi"], act.user["diff"]

    @njit(inline="always")
    def u_phi_diff(code, a, d):
        return phi(a), diff(a, d)

    ns = dict(globals())
    ns["act_phi_diff"] = u_phi_diff

    def rebind(fn, **kw):
        f = types.FunctionType(fn.__code__, ns, fn.__name__, fn.__defaults__, fn.__closure__)
        return njit(cache=False, **kw)(f)

    ns["gaussian_layer"] = rebind(_py_gaussian_layer)
    ns["gaussian_sample"] = rebind(_py_gaussian_sample)
    kern = rebind(_py_mlp_gaussian, parallel=True)
    pairs = rebind(_py_act_pairs, parallel=True)
    _USER_KERNELS[act] = (kern, pairs)
    return kern, pairs

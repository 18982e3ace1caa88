"""CUDA kernels of the random MLP (both methods); results agree with the CPU to float rounding.

Imported lazily (only for ``backend="cuda"``); see :mod:`absorbphys.kernels.cuda` and, for the
maths, :mod:`absorbphys.models.mlp`. Random numbers are the CPU kernels' (``models/_mlp_cpu.py``):
inputs ``normal_pair(sample_key(seed, s, STREAM_INPUT), j n + i)``; Gaussian method layer
``t``: ``normal_pair(step_key(sample_key(seed, s, STREAM_DYNAMICS), t), i)``; weights method
layer ``t``: ``W[i, 2 m : 2 m + 2] = normal_pair(key, i ceil(n/2) + m)`` and the biases after
them, ``key = step_key(sample_key(seed, s, STREAM_WEIGHTS), t)``. Only the summation order of
the inner products (tree reductions in shared memory instead of a sequential loop) and the
device's ``log``/``cos``/``tanh`` differ, so trajectories agree to rounding.

Gaussian method
    One block per sample runs every layer in one launch: the inner products
    ``A = |phi(h)|^2``, ``B = phi(h).e``, ``D = |e|^2`` are reduced in shared memory (a fixed
    tree, so results are reproducible), then every thread draws the bivariate normals of its
    units — the fused per-layer transition of the issue, with no host round trip at all.
    ``1 - c`` is reduced the same way at the output layers.
Weights method
    Per layer: one kernel draws ``W`` and the biases of every sample of the chunk, one
    applies the activation pairs ``X = [phi(h), phi(h + d) - phi(h)]``, and a tiled
    shared-memory matrix product ``Y = W X`` (128 x 128 tiles, 8 x 8 outputs per thread) with
    a fused epilogue writes ``h = sigma_w/sqrt(N) Y[:, :K] + sigma_b b`` and
    ``d = sigma_w/sqrt(N) Y[:, K:]``. ``1 - c`` of every input pair is reduced on the device
    (one block per pair).

User activations are compiled per process (no on-disk cache), as on the CPU.
"""

from __future__ import annotations

import math
import types

import numpy as np
from numba import njit

from absorbphys.kernels import cuda as _cuda
from absorbphys.kernels.rng import STREAM_DYNAMICS, STREAM_INPUT, STREAM_WEIGHTS
from absorbphys.kernels.sums import alloc_sums
from absorbphys.models import activations as _act
from absorbphys.models.activations import get_activation
from absorbphys.models.meanfield import init_rho

cuda = _cuda.require()
DEV = _cuda.device_rng()
_cuda.sim_guard(globals(), _act.__dict__)
normal_pair = DEV.normal_pair
sample_key = DEV.sample_key
step_key = DEV.step_key

act_phi = cuda.jit(device=True)(_act._py_act_phi)
act_diff = cuda.jit(device=True)(_act._py_act_diff)

#: Largest block (threads) of the reduction kernels; blocks are powers of two.
TPB = 256
#: Bytes of device memory the per-sample state of one chunk may use.
STATE_BYTES = 1 << 30
_S_DYN = STREAM_DYNAMICS
_S_IN = STREAM_INPUT
_S_W = STREAM_WEIGHTS
f64 = np.float64


# --------------------------------------------------------------------------- device helpers
@cuda.jit(device=True)
def block_reduce(red, m, tid, nthr):  # pragma: no cover
    """Tree-sum the rows ``red[0:m, :nthr]`` into ``red[0:m, 0]`` (``nthr`` a power of two).

    All ``m`` rows share the barriers; the order of the sums is fixed, so results are
    reproducible run to run.
    """
    cuda.syncthreads()
    stride = nthr // 2
    while stride > 0:
        if tid < stride:
            for k in range(m):
                red[k, tid] += red[k, tid + stride]
        cuda.syncthreads()
        stride //= 2


@cuda.jit(device=True)
def block_rho(h, d, n, red, tid, nthr):  # pragma: no cover
    """``1 - c`` of ``h`` and ``h + d`` (length ``n``), as ``_mlp_cpu.replica_rho``."""
    hh = 0.0
    hd = 0.0
    dd = 0.0
    pp = 0.0
    for i in range(tid, n, nthr):
        hi = f64(h[i])
        di = f64(d[i])
        hh += hi * hi
        hd += hi * di
        dd += di * di
        p = hi + di
        pp += p * p
    red[0, tid] = hh
    red[1, tid] = hd
    red[2, tid] = dd
    red[3, tid] = pp
    block_reduce(red, 4, tid, nthr)
    hh = red[0, 0]
    hd = red[1, 0]
    dd = red[2, 0]
    pp = red[3, 0]
    cuda.syncthreads()
    if dd == 0.0:
        return 0.0
    if hh == 0.0 or pp == 0.0:
        return 1.0
    nh = math.sqrt(hh)
    nhp = math.sqrt(pp)
    f = ((2.0 * hd + dd) / (nh + nhp)) / nh
    acc = 0.0
    for i in range(tid, n, nthr):
        w = f * f64(h[i]) - f64(d[i])
        acc += w * w
    red[0, tid] = acc
    block_reduce(red, 1, tid, nthr)
    acc = red[0, 0]
    cuda.syncthreads()
    r = acc / (2.0 * pp)
    return r if r < 2.0 else 2.0


# --------------------------------------------------------------------------- gaussian method
def _py_gauss_run(code, h_all, d_all, sw2n, sb2, q0, rho0, times, seed, s0,
                  rho_out):  # pragma: no cover
    s = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthr = cuda.blockDim.x
    h = h_all[s]
    d = d_all[s]
    n = h.shape[0]
    nt = times.shape[0]
    red = cuda.shared.array((4, TPB), f64)
    # layer 0: the inputs (as _mlp_cpu.init_pair)
    key = sample_key(seed, s0 + s, _S_IN)
    sq = math.sqrt(q0)
    sg = math.sqrt(rho0 * (2.0 - rho0)) if rho0 < 2.0 else 0.0
    for i in range(tid, n, nthr):
        z1, z2 = normal_pair(key, i)
        hi = sq * z1
        h[i] = hi
        d[i] = -rho0 * hi + sg * sq * z2
    cuda.syncthreads()
    kdyn = sample_key(seed, s0 + s, _S_DYN)
    t = 0
    ti = 0
    while ti < nt:
        if t == times[ti]:
            r = block_rho(h, d, n, red, tid, nthr)
            if tid == 0:
                rho_out[s, ti] = r
            ti += 1
            continue
        key = step_key(kdyn, t)
        A = 0.0
        B = 0.0
        D = 0.0
        for i in range(tid, n, nthr):
            hi = f64(h[i])
            a = act_phi(code, hi)
            e = act_diff(code, hi, f64(d[i]))
            A += a * a
            B += a * e
            D += e * e
        red[0, tid] = A
        red[1, tid] = B
        red[2, tid] = D
        block_reduce(red, 3, tid, nthr)
        A = red[0, 0]
        B = red[1, 0]
        D = red[2, 0]
        cuda.syncthreads()
        G = A * D - B * B
        if A > 0.0 and G < 1e-6 * A * D:
            beta = B / A
            P = 0.0
            for i in range(tid, n, nthr):
                hi = f64(h[i])
                r = act_diff(code, hi, f64(d[i])) - beta * act_phi(code, hi)
                P += r * r
            red[0, tid] = P
            block_reduce(red, 1, tid, nthr)
            G = A * red[0, 0]
            cuda.syncthreads()
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
        for i in range(tid, n, nthr):
            z1, z2 = normal_pair(key, i)
            hn = sh * z1
            h[i] = hn
            d[i] = alpha * hn + sd * z2
        cuda.syncthreads()
        t += 1


# --------------------------------------------------------------------------- weights method
def _py_init_inputs(h, d, q0, rho0, seed, s0):  # pragma: no cover
    # h, d: (ns, n, K); input pair j uses the normals j n + i (as _mlp_cpu.init_inputs)
    i, j, s = cuda.grid(3)
    ns, n, K = h.shape
    if s < ns and i < n and j < K:
        key = sample_key(seed, s0 + s, _S_IN)
        sq = math.sqrt(q0)
        sg = math.sqrt(rho0 * (2.0 - rho0)) if rho0 < 2.0 else 0.0
        z1, z2 = normal_pair(key, j * n + i)
        hi = sq * z1
        h[s, i, j] = hi
        d[s, i, j] = -rho0 * hi + sg * sq * z2


def _py_fill_weights(W, bias, seed, s0, t):  # pragma: no cover
    # W: (ns, n, n); bias: (ns, n) float64 — as _mlp_cpu.fill_normals and _bias_nb
    m, i, s = cuda.grid(3)
    ns, n, _ = W.shape
    half = (n + 1) // 2
    if s < ns and m < half:
        key = step_key(sample_key(seed, s0 + s, _S_W), t)
        if i < n:
            z1, z2 = normal_pair(key, i * half + m)
            W[s, i, 2 * m] = z1
            if 2 * m + 1 < n:
                W[s, i, 2 * m + 1] = z2
        elif i == n:
            z1, z2 = normal_pair(key, n * half + m)
            bias[s, 2 * m] = z1
            if 2 * m + 1 < n:
                bias[s, 2 * m + 1] = z2


def _py_act_pairs(code, h, d, X):  # pragma: no cover
    i, j, s = cuda.grid(3)
    ns, n, K = h.shape
    if s < ns and i < n and j < K:
        hi = f64(h[s, i, j])
        X[s, i, j] = act_phi(code, hi)
        X[s, i, K + j] = act_diff(code, hi, f64(d[s, i, j]))


TM = 128  # rows of W per block
TN = 128  # columns of X per block
TK = 8    # depth of one shared-memory stage
TMP = 132  # TM + 4: padded row of the W tile in shared memory (no bank conflicts)
RM = 8    # outputs per thread (rows)
RN = 8    # outputs per thread (columns)


DT = np.float64  # rebound to float32 for the float32 kernel (see _compile)


def _py_matmul_update(W, X, bias, h, d, scale, sb):  # pragma: no cover
    """Tiled ``Y = W X`` per sample (grid z) with the layer update fused into the epilogue."""
    s = cuda.blockIdx.z
    tx = cuda.threadIdx.x  # 0..15: columns tx + 16 q
    ty = cuda.threadIdx.y  # 0..15: rows ty + 16 p
    tid = ty * 16 + tx
    row0 = cuda.blockIdx.y * TM
    col0 = cuda.blockIdx.x * TN
    n = W.shape[1]
    nc = X.shape[2]
    K = h.shape[2]
    sA = cuda.shared.array((TK, TMP), DT)  # padded: conflict-free transposed stores
    sB = cuda.shared.array((TK, TN), DT)
    acc = cuda.local.array((RM, RN), DT)
    a = cuda.local.array(RM, DT)
    b = cuda.local.array(RN, DT)
    for p in range(RM):
        for q in range(RN):
            acc[p, q] = 0
    for k0 in range(0, n, TK):
        for l in range(4):  # 1024 elements of each tile, 256 threads
            e = tid + 256 * l
            r = e // TK
            kk = e - r * TK
            gi = row0 + r
            gk = k0 + kk
            sA[kk, r] = W[s, gi, gk] if (gi < n and gk < n) else 0
            kk2 = e // TN
            c = e - kk2 * TN
            gk2 = k0 + kk2
            gc = col0 + c
            sB[kk2, c] = X[s, gk2, gc] if (gk2 < n and gc < nc) else 0
        cuda.syncthreads()
        for kk in range(TK):
            for p in range(RM):
                a[p] = sA[kk, ty + 16 * p]
            for q in range(RN):
                b[q] = sB[kk, tx + 16 * q]
            for p in range(RM):
                for q in range(RN):
                    acc[p, q] += a[p] * b[q]
        cuda.syncthreads()
    for p in range(RM):
        gi = row0 + ty + 16 * p
        if gi < n:
            bb = DT(sb * bias[s, gi])
            for q in range(RN):
                gc = col0 + tx + 16 * q
                if gc < K:
                    h[s, gi, gc] = DT(scale * acc[p, q]) + bb
                elif gc < nc:
                    d[s, gi, gc - K] = DT(scale * acc[p, q])


def _py_rho_pairs(h, d, rr, ti):  # pragma: no cover
    # one block per (input pair j, sample s): rr[s, ti, j] = 1 - c of column j
    j = cuda.blockIdx.x
    s = cuda.blockIdx.y
    tid = cuda.threadIdx.x
    nthr = cuda.blockDim.x
    red = cuda.shared.array((4, TPB), f64)
    r = block_rho(h[s, :, j], d[s, :, j], h.shape[1], red, tid, nthr)
    if tid == 0:
        rr[s, ti, j] = r


# --------------------------------------------------------------------------- compilation
#: fp32 product: 128 registers fit its 8 x 8 accumulators without spills (ptxas, sm_90) and
#: allow two 256-thread blocks per SM instead of one at its natural 142 (not in the simulator).
_MM_OPTS = {} if _cuda.simulator() else {"max_registers": 128}


def _compile(ns, cache):
    _cuda.sim_guard(ns)
    def k(fn):
        f = types.FunctionType(fn.__code__, ns, fn.__name__, fn.__defaults__, fn.__closure__)
        return cuda.jit(cache=cache)(f)

    ns32 = dict(ns, DT=np.float32)
    _cuda.sim_guard(ns32)
    f = _py_matmul_update
    mm32 = types.FunctionType(f.__code__, ns32, f.__name__)
    return types.SimpleNamespace(
        gauss_run=k(_py_gauss_run), init_inputs=k(_py_init_inputs),
        fill_weights=k(_py_fill_weights), act_pairs=k(_py_act_pairs),
        rho_pairs=k(_py_rho_pairs),
        matmul={np.dtype(np.float32): cuda.jit(cache=cache, **_MM_OPTS)(mm32),
                np.dtype(np.float64): k(_py_matmul_update)})


_BUILTIN = None
_USER: dict = {}


def kernels_for(act):
    """Return the kernels for an :class:`~absorbphys.models.activations.Activation`.

    Built-in activations share one set compiled with ``cache=True`` (dispatching on
    ``act.code``); a user activation gets its own set, its ``phi``/``diff`` compiled for the
    device (no on-disk cache).
    """
    global _BUILTIN
    if act.code >= 0:
        if _BUILTIN is None:
            _BUILTIN = _compile(globals(), True)
        return _BUILTIN
    if act not in _USER:
        _USER[act] = _compile(user_namespace(act, globals()), False)
    return _USER[act]


def user_namespace(act, base):
    """Copy of a module namespace with ``act_phi``/``act_diff`` bound to a user activation."""
    phi = act.user["phi"]
    diff = act.user["diff"]

    @cuda.jit(device=True)
    def u_phi(code, x):  # pragma: no cover
        return phi(x)

    @cuda.jit(device=True)
    def u_diff(code, a, dd):  # pragma: no cover
        return diff(a, dd)

    ns = dict(base)
    ns["act_phi"] = u_phi
    ns["act_diff"] = u_diff
    return ns


# --------------------------------------------------------------------------- host side
@njit(cache=True)
def _gauss_sums(rho_ps, edges, n, eps):
    # per-batch sums in sample order, as _mlp_cpu.mlp_gaussian accumulates them
    nb = len(edges) - 1
    nt = rho_ps.shape[1]
    rho, rho2, surv, nact = alloc_sums(nb, nt)
    s0 = edges[0]
    for b in range(nb):
        for s in range(edges[b], edges[b + 1]):
            for ti in range(nt):
                r = rho_ps[s - s0, ti]
                rho[b, ti] += r
                rho2[b, ti] += r * r
                if r > eps:
                    surv[b, ti] += 1.0
                    nact[b, ti] += n * r
    return rho, rho2, surv, nact


def mlp_gaussian(act, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype):
    """Gaussian (exact O(N)) method on the device; same sums as ``_mlp_cpu.mlp_gaussian``.

    Parameters
    ----------
    act : Activation
        From :func:`absorbphys.models.activations.get_activation`.
    n : int
        Width.
    sw, sb : float
        ``sigma_w``, ``sigma_b``.
    q0, rho0 : float
        Input variance and ``1 - c0``.
    times, edges : numpy.ndarray
        Output layers (int64, sorted) and batch edges.
    seed : int
        Master seed.
    eps : float
        Absorption threshold.
    dtype : numpy.dtype
        Storage precision of ``h`` and ``d``.

    Returns
    -------
    tuple of numpy.ndarray
        Per-batch sums ``(rho, rho2, survival, n_active)``, float64 ``(nb, nt)``.
    """
    kern = kernels_for(act)
    n = int(n)
    dtype = np.dtype(dtype)
    times = np.ascontiguousarray(times, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64)
    nt = len(times)
    s_first, s_last = int(edges[0]), int(edges[-1])
    rho_ps = np.zeros((s_last - s_first, nt))
    times_d = cuda.to_device(times)
    nthr = _cuda.reduction_threads(n, TPB)
    per_chunk = max(1, STATE_BYTES // (2 * n * dtype.itemsize))
    for a, b in _cuda.sample_chunks(s_first, s_last, per_chunk):
        ns = b - a
        h = cuda.device_array((ns, n), dtype)
        d = cuda.device_array((ns, n), dtype)
        out = cuda.to_device(np.zeros((ns, nt)))
        kern.gauss_run[ns, nthr](np.int64(act.code), h, d, sw * sw / n, sb * sb, float(q0),
                                 float(rho0), times_d, int(seed), a, out)
        rho_ps[a - s_first:b - s_first] = out.copy_to_host()
    return _gauss_sums(rho_ps, edges, float(n), float(eps))


def mlp_weights(act, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype, inputs):
    """Explicit-weights method on the device; same result as ``_mlp_cpu.mlp_weights``.

    Parameters
    ----------
    act, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype
        As in :func:`mlp_gaussian`.
    inputs : int
        Input pairs sharing each network draw.

    Returns
    -------
    dict of str to numpy.ndarray
        Per-batch sums ``rho``, ``rho2``, ``survival``, ``n_active``, float64 ``(nb, nt)``.
    """
    kern = kernels_for(act)
    n, K = int(n), int(inputs)
    dtype = np.dtype(dtype)
    times = np.asarray(times, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64)
    nb, nt = len(edges) - 1, len(times)
    s_first, s_last = int(edges[0]), int(edges[-1])
    rr_all = np.zeros((s_last - s_first, nt, K))
    per_sample = dtype.itemsize * (n * n + 4 * n * K) + 8 * n
    per_chunk = max(1, STATE_BYTES // per_sample)
    scale = sw / math.sqrt(n)
    code = np.int64(act.code)
    mm = kern.matmul[dtype]
    t3 = (4, 2, 1) if _cuda.simulator() else (32, 4, 1)  # small blocks for the simulator
    nthr = _cuda.reduction_threads(n, TPB)
    for a, b in _cuda.sample_chunks(s_first, s_last, per_chunk):
        ns = b - a
        W = cuda.device_array((ns, n, n), dtype)
        bias = cuda.device_array((ns, n), np.float64)
        h = cuda.device_array((ns, n, K), dtype)
        d = cuda.device_array((ns, n, K), dtype)
        X = cuda.device_array((ns, n, 2 * K), dtype)
        rr = cuda.to_device(np.zeros((ns, nt, K)))
        g_units = (_cuda.blocks(n, t3[0]), _cuda.blocks(K, t3[1]), ns)
        g_fill = (_cuda.blocks((n + 1) // 2, t3[0]), _cuda.blocks(n + 1, t3[1]), ns)
        g_mm = (_cuda.blocks(2 * K, TN), _cuda.blocks(n, TM), ns)
        kern.init_inputs[g_units, t3](h, d, float(q0), float(rho0), int(seed), a)
        t = 0
        ti = 0
        while ti < nt:
            if t == times[ti]:
                kern.rho_pairs[(K, ns), nthr](h, d, rr, ti)
                ti += 1
                continue
            kern.fill_weights[g_fill, t3](W, bias, int(seed), a, t)
            kern.act_pairs[g_units, t3](code, h, d, X)
            mm[g_mm, (16, 16)](W, X, bias, h, d, scale, float(sb))
            t += 1
        rr_all[a - s_first:b - s_first] = rr.copy_to_host()
    out = {k: np.zeros((nb, nt)) for k in ("rho", "rho2", "survival", "n_active")}
    for bi in range(nb):
        for s in range(int(edges[bi]), int(edges[bi + 1])):
            for ti in range(nt):
                r = rr_all[s - s_first, ti]
                alive = r > eps
                out["rho"][bi, ti] += r.mean()
                out["rho2"][bi, ti] += (r * r).mean()
                out["survival"][bi, ti] += alive.mean()
                out["n_active"][bi, ti] += (n * r * alive).mean()
    return out


def run_process(process, times, edges, init, seed):
    """Run an ``MLP`` instance (called by its ``_run``); both methods.

    Returns
    -------
    dict of str to numpy.ndarray
        Per-batch sums ``rho``, ``rho2``, ``survival`` and, for seed runs, ``n_active``.
    """
    act = get_activation(process.activation)
    args = (act, process.width, float(process.sigma_w), float(process.sigma_b),
            process.input_variance(), init_rho(init, process.seed_rho), times, edges,
            int(seed), float(process.eps), np.dtype(process.dtype))
    if process.method == "gaussian":
        r, r2, s, na = mlp_gaussian(*args)
        out = {"rho": r, "rho2": r2, "survival": s, "n_active": na}
    else:
        out = mlp_weights(*args, int(process.inputs))
    if init != "seed":
        out.pop("n_active")
    return out

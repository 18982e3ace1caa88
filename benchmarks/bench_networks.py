"""Throughput of the network kernels (MLP Gaussian / explicit weights, CNN).

Usage: python benchmarks/bench_networks.py [--repeat 5] [--quick]

Prints a Markdown table for docs/performance.md. Single-thread figures are the reference
(numba threads = 1, BLAS threads = 1 unless --blas-threads is given); medians of --repeat runs
of wall time and of process CPU time (CPU time is the robust figure on a loaded VM), with the
load average at the start. Baselines are measured in the same run:
- raw counter-based normal_pair rate (the ceiling of the Gaussian method, one pair per unit);
- the previous Gaussian-method kernel (scalar per-unit loop with libm ``log``, kept below as
  ``_prev_*``) next to the current blocked, vectorised one, same activations and sizes;
- numpy's Generator.standard_normal + matmul for the weight-matrix path (the >= 0.8 target).
"""

import argparse
import os
import sys

_ap = argparse.ArgumentParser()
_ap.add_argument("--repeat", type=int, default=5)
_ap.add_argument("--quick", action="store_true")
_ap.add_argument("--blas-threads", type=int, default=1)
ARGS = _ap.parse_args()
for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(v, str(ARGS.blas_threads))

import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from absorbphys.kernels.rng import (  # noqa: E402
    STREAM_DYNAMICS,
    STREAM_INPUT,
    normal_pair,
    sample_key,
    step_key,
)
from absorbphys.models import _cnn_cpu, _mlp_cpu  # noqa: E402
from absorbphys.models._mlp_cpu import (  # noqa: E402
    init_pair,
    normal_pair_fast,
    normal_pair_vec,
    replica_rho,
)
from absorbphys.models.activations import act_phi_diff, get_activation  # noqa: E402

R = ARGS.repeat


def timeit(fn, repeat=R):
    fn()  # warm-up (compilation)
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


@njit(cache=True)
def _pairs(key, n):
    s = 0.0
    for i in range(n):
        a, b = normal_pair(key, i)
        s += a + b
    return s


@njit(cache=True)
def _pairs_fast(key, n):
    s = 0.0
    for i in range(n):
        a, b = normal_pair_fast(key, i)
        s += a + b
    return s


@njit(cache=True, error_model="numpy")
def _pairs_vec(key, n):
    # blocks of 256 stored to a buffer, as in the MLP kernel (a float sum in the loop would
    # serialise it)
    z1 = np.empty(256)
    z2 = np.empty(256)
    s = 0.0
    for i0 in range(0, n, 256):
        for j in range(256):
            a, b = normal_pair_vec(key, i0 + j)
            z1[j] = a
            z2[j] = b
        s += z1[0] + z2[255]
    return s


# ---- the previous Gaussian-method kernel (2026-11-28 morning): one scalar loop per layer,
# libm log in the normal pair, Python error model (no vectorisation). Baseline only.
@njit(cache=True)
def _prev_layer(code, h, d, a_buf, e_buf, key, sw2n, sb2):
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
    G = A * D - B * B
    if A > 0.0 and G < 1e-6 * A * D:
        beta = B / A
        P = 0.0
        for i in range(n):
            r = e_buf[i] - beta * a_buf[i]
            P += r * r
        G = A * P
    q11 = sw2n * A + sb2
    if q11 > 0.0:
        alpha = sw2n * B / q11
        vcond = sw2n * (sw2n * G + sb2 * D) / q11
        sh = np.sqrt(q11)
    else:
        alpha = 0.0
        vcond = sw2n * D
        sh = 0.0
    sd = np.sqrt(vcond) if vcond > 0.0 else 0.0
    for i in range(n):
        z1, z2 = normal_pair_fast(key, i)
        hn = sh * z1
        h[i] = hn
        d[i] = alpha * hn + sd * z2


@njit(cache=True)
def _prev_mlp_gaussian(code, n, sw, sb, q0, rho0, t_max, seed):
    h = np.empty(n)
    d = np.empty(n)
    a_buf = np.empty(n)
    e_buf = np.empty(n)
    init_pair(h, d, sample_key(seed, 0, STREAM_INPUT), 0, q0, rho0)
    kdyn = sample_key(seed, 0, STREAM_DYNAMICS)
    for t in range(t_max):
        _prev_layer(code, h, d, a_buf, e_buf, step_key(kdyn, t), sw * sw / n, sb * sb)
    return replica_rho(h, d)


def row(name, size, work, unit, wall, cpu, note=""):
    print(f"| {name} | {size} | {work / wall / 1e6:,.1f} | {work / cpu / 1e6:,.1f} | {unit} "
          f"| {note} |", flush=True)


def main():
    numba.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.1f}; numba threads 1, BLAS threads "
          f"{ARGS.blas_threads}; repeat {R}\n")
    print("| kernel | size | M/s (wall) | M/s (CPU) | unit | note |")
    print("|---|---|---|---|---|---|")
    edges1 = np.array([0, 1], np.int64)

    # --- baseline: counter-based normal pairs
    n = 1 << 22
    w, c = timeit(lambda: _pairs(np.uint64(7), n))
    row("_rng.normal_pair (baseline)", "-", n, "pairs", w, c, "libm Box-Muller")
    w, c = timeit(lambda: _pairs_fast(np.uint64(7), n))
    row("normal_pair_fast", "-", n, "pairs", w, c, "libm log, fdlibm sin/cos (CNN kernels)")
    w, c = timeit(lambda: _pairs_vec(np.uint64(7), n))
    row("normal_pair_vec", "-", n, "pairs", w, c, "no libm, vectorised (MLP Gaussian)")

    # --- MLP Gaussian method, one sample, N = 4096
    N, T = 4096, (100 if ARGS.quick else 400)
    times = np.array([0, T], np.int64)
    for name in ("tanh", "hard_tanh", "erf"):
        code = np.int64(get_activation(name).code)

        def run(code=code):
            _mlp_cpu.mlp_gaussian(code, np.int64(N), 1.4, 0.3, 0.76, 1.0, times, edges1,
                                  np.int64(1), 1e-12, np.ones(1))
        w, c = timeit(run)

        def run_prev(code=code):
            _prev_mlp_gaussian(code, np.int64(N), 1.4, 0.3, 0.76, 1.0, np.int64(T),
                               np.int64(1))
        wp, cp = timeit(run_prev)
        row(f"MLP gaussian {name}", f"N={N}", N * T, "unit updates", w, c,
            f"x{cp / c:.2f} (CPU) vs previous kernel")
        row(f"previous MLP gaussian {name}", f"N={N}", N * T, "unit updates", wp, cp,
            "baseline, same run")

    # --- wide layer (state arrays far beyond the caches)
    N1, T1 = 1_000_000, 20
    times1 = np.array([0, T1], np.int64)
    w, c = timeit(lambda: _mlp_cpu.mlp_gaussian(np.int64(0), np.int64(N1), 1.4, 0.3, 0.76, 1.0,
                                                times1, edges1, np.int64(1), 1e-12, np.ones(1)))
    row("MLP gaussian tanh", f"N={N1}", N1 * T1, "unit updates", w, c)

    # --- threads: 2 samples on 1 and 2 threads
    edges2 = np.array([0, 1, 2], np.int64)
    code = np.int64(0)
    for th in (1, 2):
        numba.set_num_threads(th)

        def run2():
            _mlp_cpu.mlp_gaussian(code, np.int64(N), 1.4, 0.3, 0.76, 1.0, times, edges2,
                                  np.int64(1), 1e-12, np.ones(1))
        w, c = timeit(run2)
        row(f"MLP gaussian tanh, {th} thread(s)", f"N={N}, 2 samples", 2 * N * T,
            "unit updates", w, c, "wall is the figure here")
    numba.set_num_threads(1)

    # --- weights method: generation + product vs numpy, same shapes
    g = np.random.default_rng(0)
    for N, K in ((1024, 1), (4096, 1), (4096, 8)):
        W = np.empty((N, N))
        X = g.standard_normal((N, 2 * K))
        key = np.uint64(12345)
        def layer(W=W, X=X, key=key):
            _mlp_cpu.fill_normals(W, key)
            return W @ X
        ours = timeit(layer)
        ref = timeit(lambda: g.standard_normal((N, N)) @ X)
        row(f"weights layer (ours), K={K}", f"N={N}", N * N, "weights", *ours,
            f"ratio vs numpy: wall {ref[0] / ours[0]:.2f}, CPU {ref[1] / ours[1]:.2f}")
        row(f"numpy standard_normal + matmul, K={K}", f"N={N}", N * N, "weights", *ref,
            "baseline, same run")

    # --- full weights-method simulation (includes activations and rho)
    N, T = 1024, (10 if ARGS.quick else 30)
    times = np.array([0, T], np.int64)
    w, c = timeit(lambda: _mlp_cpu.mlp_weights(np.int64(0), N, 1.4, 0.3, 0.76, 1.0, times,
                                               edges1, np.int64(1), 1e-12, np.float64, 1))
    row("MLP weights simulate (all steps)", f"N={N}", N * N * T, "weights", w, c,
        f"= {N * T / c / 1e6:.2f} M unit updates/s (CPU)")

    # --- CNN
    T = 20 if ARGS.quick else 50
    times = np.array([0, T], np.int64)
    for (L, dim, C, shared) in ((256, 1, 32, True), (256, 1, 32, False), (32, 2, 16, True),
                                (32, 2, 16, False)):
        S = L ** dim
        nk = 3 ** dim

        def runc(L=L, dim=dim, C=C, shared=shared):
            _cnn_cpu.cnn_kernel(np.int64(0), np.int64(L), np.int64(dim), np.int64(C),
                                np.int64(3), shared, 1.5, 0.3, 0.76, 1.0, False, times, edges1,
                                np.int64(1), 1e-12, np.ones(1))
        w, c = timeit(runc)
        kind = "conv (shared)" if shared else "locally connected"
        macs = 2 * S * nk * C * C if shared else 3 * S * nk * C
        row(f"CNN {kind}, dim={dim}", f"L={L}, C={C}, K=3", S * C * T, "site-channel updates",
            w, c, f"{macs * T / w / 1e9:.2f} G mult-add/s (wall)")


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: automatic finite-size collapse, 6 sizes x 500 times x 100 bootstrap resamples.

Target (issue 4): < 10 s on one core. Run ``python benchmarks/bench_collapse.py [--repeat 3]``;
prints the median wall time of ``absorbphys.analysis.collapse`` and, measured in the same run,
a baseline (sorting 2e6 float64, to normalise noisy VMs) and the time of one compiled
Houdayer-Hartmann quality evaluation against the naive Python reference.
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "analysis"))


def make_data(n_sizes=6, n_t=500, batches=20, seed=0):
    """rho(t, L) = L^-a F(t / L^b), F(x) = x^(-a/b) exp(-x), DP 1+1 exponents, 500 times."""
    a, b = 0.252069, 1.580745
    rng = np.random.default_rng(seed)
    sizes = 32 * 2 ** np.arange(n_sizes)
    runs = []
    for L in sizes:  # ragged: every size has its own log grid up to 5 L^z
        t = np.geomspace(1, 5 * L ** b, n_t)
        mean = L ** -a * (t / L ** b) ** (-a / b) * np.exp(-t / L ** b)
        eps = rng.standard_normal((batches, n_t)) + rng.standard_normal((batches, 1))
        vals = mean * (1 + 0.3 * eps / np.sqrt(2 * 50))
        runs.append(xr.Dataset({"rho": (("batch", "t"), vals)},
                               coords={"t": t, "batch": np.arange(batches), "L": L,
                                       "n_samples": ("batch", np.full(batches, 50))},
                               attrs={"size_param": "L", "control": "p", "dim": 1}))
    return runs, (a, b)


def main():
    from naive_hh import hh_quality_naive

    from absorbphys.analysis import _collapse, _core, collapse

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs, (a, b) = make_data()
    collapse(runs[:2], n_boot=2)  # warm-up (imports)

    def baseline():
        x = np.random.default_rng(1).random(2_000_000)
        t0 = time.perf_counter()
        np.sort(x)
        return time.perf_counter() - t0

    times, cpu, base, res = [], [], [], None
    for _ in range(args.repeat):
        base.append(baseline())
        t0, c0 = time.perf_counter(), time.process_time()
        res = collapse(runs, n_boot=args.n_boot, seed=0)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    curves = _collapse._gather(runs, "rho", "L", "t", "batch")
    lnT, lnY, dlnY, _ = _collapse._prepare(curves, None, None)
    fm = _collapse._Form("size", [c.label for c in curves], lnT)
    X, Y = fm.apply((a, b), lnY)
    t0 = time.perf_counter()
    for _ in range(50):
        _core.hh_quality(X, Y, dlnY)
    t_vec = (time.perf_counter() - t0) / 50
    t0 = time.perf_counter()
    hh_quality_naive(X, Y, dlnY)
    t_naive = time.perf_counter() - t0
    out = {
        "machine": platform.machine(), "python": platform.python_version(),
        "collapse_median_s": float(np.median(times)), "collapse_times_s": times,
        "collapse_cpu_median_s": float(np.median(cpu)),
        "baseline_sort2e6_median_s": float(np.median(base)),
        "ratio_collapse_over_baseline": float(np.median(times) / np.median(base)),
        "hh_quality_ms": 1e3 * t_vec, "hh_quality_naive_ms": 1e3 * t_naive,
        "a": [float(res.a), float(res.a_error)], "b": [float(res.b), float(res.b_error)],
        "quality": float(res.quality), "true_a_b": [a, b],
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"collapse 6 sizes x 500 t x {args.n_boot} bootstrap: median "
              f"{out['collapse_median_s']:.2f} s wall, {out['collapse_cpu_median_s']:.2f} s CPU "
              f"(runs {', '.join(f'{x:.2f}' for x in times)})")
        print(f"baseline sort(2e6): {out['baseline_sort2e6_median_s'] * 1e3:.1f} ms; ratio "
              f"{out['ratio_collapse_over_baseline']:.0f}")
        print(f"one HH quality: {out['hh_quality_ms']:.2f} ms compiled (Numba) vs "
              f"{out['hh_quality_naive_ms']:.0f} ms naive")
        print(f"a = {res.a.item():.4f} ± {res.a_error.item():.4f} (true {a}), "
              f"b = {res.b.item():.4f} ± {res.b_error.item():.4f} (true {b}), "
              f"quality {out['quality']:.2f}")


if __name__ == "__main__":
    main()

"""Throughput of the lattice-model kernels (not a test): medians of repeated runs.

Usage::

    python benchmarks/bench_lattice.py            # full set (about a minute)
    python benchmarks/bench_lattice.py --quick    # smaller sizes

Measures, on one thread unless stated:

* 1+1 Domany–Kinzel, bit-packed kernel, ``L = 2^20``, ``T = 1000``, full start: site updates
  per second (``L * T / seconds``, every site of every step counted) at the bond-DP and
  site-DP critical points and in the active phase; the scalar (byte per site) reference
  kernel in the same run gives the speed-up;
* 2+1 DK (bcc, bond DP near p_c): packed rows and the byte-per-site reference;
* contact process (d = 1, 2, 3) and mean-field contact process: events per second;
* thread scaling (1 vs all Numba threads, batches spread over threads).

Compilation is excluded (one warm-up call per kernel). Single-thread rows use the process
CPU time, so that they stay meaningful on a shared, loaded VM (on an idle machine it equals
the wall time); thread-scaling rows ("(wall)") use wall time and need an idle machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numba
import numpy as np

import absorbphys  # noqa: F401  (configures the threading layer)
from absorbphys.models import _contact_cpu, _dk_cpu

P_BOND = 0.644700185
P_SITE = 0.70548522


def _median_time(fn, repeats, wall=False):
    # one thread: process CPU time, robust on a shared, loaded VM (equal to the wall time on an
    # idle machine); thread scaling: wall time (meaningful only on an idle machine).
    clock = time.perf_counter if wall else time.process_time
    ts = []
    for r in range(repeats):
        t0 = clock()
        fn(r)
        ts.append(clock() - t0)
    return statistics.median(ts)


def _edges(samples):
    return np.array([0, samples], np.int64) if samples == 1 else np.arange(samples + 1,
                                                                          dtype=np.int64)


def bench_dk(L, T, repeats, threads_list):
    """Site updates per second of the packed (and scalar) 1+1 DK kernels."""
    times = np.array([0, T], np.int64)
    _dk_cpu.run_dk1_packed(np.int64(64), 0.5, 0.5, times[:1], _edges(1), np.int64(0), False)
    _dk_cpu.run_dk1_scalar(np.int64(64), 0.5, 0.5, times[:1], _edges(1), np.int64(0), False)
    rows = []
    points = [("bond DP p_c", P_BOND, P_BOND * (2 - P_BOND)), ("site DP p_c", P_SITE, P_SITE),
              ("active (0.8, 0.9)", 0.8, 0.9)]
    numba.set_num_threads(1)
    for label, p1, p2 in points:
        dt = _median_time(lambda r: _dk_cpu.run_dk1_packed(
            np.int64(L), p1, p2, times, _edges(1), np.int64(r), False), repeats)
        rows.append(("dk1 packed", label, L, T, 1, L * T / dt))
    # scalar reference on a smaller lattice (it is ~100x slower)
    Ls, Ts = L // 16, T // 4
    for label, p1, p2 in points[:1]:
        dts = _median_time(lambda r: _dk_cpu.run_dk1_scalar(
            np.int64(Ls), p1, p2, np.array([0, Ts], np.int64), _edges(1), np.int64(r),
            False), max(1, repeats // 2))
        dtp = _median_time(lambda r: _dk_cpu.run_dk1_packed(
            np.int64(Ls), p1, p2, np.array([0, Ts], np.int64), _edges(1), np.int64(r),
            False), repeats)
        rows.append(("dk1 scalar ref", label, Ls, Ts, 1, Ls * Ts / dts))
        rows.append(("dk1 packed", label, Ls, Ts, 1, Ls * Ts / dtp))
    # 2+1 bcc bond DP near p_c: packed rows vs byte-per-site reference
    pn = 1.0 - (1.0 - 0.287338) ** np.arange(5)
    L2, T2 = (256, 100) if L < 2**20 else (512, 200)
    t2 = np.array([0, T2], np.int64)
    for name, fn in (("dk2 packed", _dk_cpu.run_dk2_packed), ("dk2 scalar ref",
                                                              _dk_cpu.run_dk2_scalar)):
        fn(np.int64(8), pn, t2[:1], _edges(1), np.int64(0), False)
        dt = _median_time(lambda r, fn=fn: fn(np.int64(L2), pn, t2, _edges(1), np.int64(r),
                                              False), repeats)
        rows.append((name, "2+1 bond DP p = 0.287338", f"{L2}^2", T2, 1, L2 * L2 * T2 / dt))
    for nt in threads_list:
        numba.set_num_threads(nt)
        samples = 2 * max(threads_list)
        Lt = L // 4
        dt = _median_time(lambda r: _dk_cpu.run_dk1_packed(
            np.int64(Lt), P_BOND, P_BOND * (2 - P_BOND), times, _edges(samples),
            np.int64(r), False), repeats, wall=True)
        rows.append(("dk1 packed (wall)", f"bond DP p_c, {samples} samples", Lt, T, nt,
                     samples * Lt * T / dt))
    numba.set_num_threads(max(threads_list))
    return rows


def bench_contact(repeats, threads_list, scale):
    """Events per second of the contact-process kernels."""
    rows = []
    cases = [(1, 2**20 // scale, 3.29785, 100.0), (1, 2**14, 3.29785, 2000.0 / scale),
             (2, 1024 // int(np.sqrt(scale)), 1.64877, 50.0), (3, 64, 1.3168, 20.0 / scale)]
    _contact_cpu.run_contact(np.int64(8), np.int64(1), 1.0, np.array([0.0, 1.0]), _edges(1),
                             np.int64(0), False, np.zeros(1, np.int64))
    _contact_cpu.run_mean_field_contact(np.int64(8), 1.0, np.array([0.0, 1.0]), _edges(1),
                                        np.int64(0), False, np.zeros(1, np.int64))
    numba.set_num_threads(1)
    for dim, L, lam, tmax in cases:
        ev = []

        def run(r, dim=dim, L=L, lam=lam, tmax=tmax, ev=ev):
            cnt = np.zeros(1, np.int64)
            _contact_cpu.run_contact(np.int64(L), np.int64(dim), lam, np.array([0.0, tmax]),
                                     _edges(1), np.int64(r), False, cnt)
            ev.append(int(cnt.sum()))

        dt = _median_time(run, repeats)
        rows.append(("contact", f"d={dim} lam={lam} full, t={tmax:g}", L, tmax, 1,
                     statistics.median(ev) / dt))
    ev = []

    def run_mf(r):
        cnt = np.zeros(1, np.int64)
        _contact_cpu.run_mean_field_contact(np.int64(10**6), 1.0, np.array([0.0, 30.0]),
                                            _edges(1), np.int64(r), False, cnt)
        ev.append(int(cnt.sum()))

    dt = _median_time(run_mf, repeats)
    rows.append(("mfcp", "N=1e6 lam=1 full, t=30", 10**6, 30.0, 1, statistics.median(ev) / dt))
    for nt in threads_list:
        numba.set_num_threads(nt)
        samples = 2 * max(threads_list)
        ev = []

        def run_t(r, samples=samples, ev=ev):
            cnt = np.zeros(samples, np.int64)
            _contact_cpu.run_contact(np.int64(2**16), np.int64(1), 3.29785,
                                     np.array([0.0, 100.0 / scale]), _edges(samples),
                                     np.int64(r), False, cnt)
            ev.append(int(cnt.sum()))

        dt = _median_time(run_t, repeats, wall=True)
        rows.append(("contact (wall)", f"d=1 lam_c, {samples} samples", 2**16, 100.0 / scale, nt,
                     statistics.median(ev) / dt))
    numba.set_num_threads(max(threads_list))
    return rows


def main(argv=None):
    """Run the benchmarks and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    L, T = (2**18, 300) if args.quick else (2**20, 1000)
    scale = 4 if args.quick else 1
    threads = sorted({1, numba.config.NUMBA_NUM_THREADS})
    print(f"# bench_lattice  {datetime.date.today()}  {platform.processor() or platform.machine()}"
          f"  numba {numba.__version__}  threading layer: see below  repeats={repeats}")
    rows = bench_dk(L, T, repeats, threads) + bench_contact(repeats, threads, scale)
    print(f"# threading layer: {numba.threading_layer()}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| kernel | case | size | T | threads | median rate |")
    print("|---|---|---|---|---|---|")
    for kern, case, size, T_, nt, rate in rows:
        unit = "site updates/s" if kern.startswith("dk") else "events/s"
        print(f"| {kern} | {case} | {size} | {T_:g} | {nt} | {rate:.3g} {unit} |")


if __name__ == "__main__":
    main()

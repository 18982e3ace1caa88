"""Overhead and process parallelism of ``absorbphys.sweep`` (not a test): medians of runs.

Usage::

    python benchmarks/bench_sweep.py            # 8 DP points, L = 2048, 4096
    python benchmarks/bench_sweep.py --quick

Measures, on the same grid and seeds:

* baseline: a plain loop of ``simulate`` over the grid points, in this process;
* ``sweep(workers=1, out=...)``: the same work plus the per-point checkpoint files (atomic
  write + fsync), the manifest and the streamed merge. The difference per point is the
  checkpoint overhead (process CPU time, robust on a loaded VM);
* ``sweep(workers=2, out=...)``: local worker processes (spawn, one Numba thread each), wall
  time, including the start of the workers; compared with the baseline run with one Numba
  thread in the same run.

The load average is printed with the figures: wall-clock rows are only meaningful on an idle
machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

import numba

import absorbphys as ap
from absorbphys._sweep import point_seed


def _median(fn, repeats, clock):
    ts = []
    for r in range(repeats):
        t0 = clock()
        fn(r)
        ts.append(clock() - t0)
    return statistics.median(ts)


def main():
    """Run the measurements and print one line per row."""
    ap_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap_.add_argument("--quick", action="store_true")
    ap_.add_argument("--repeats", type=int, default=3)
    args = ap_.parse_args()
    grid = {"p": [0.62, 0.64, 0.66, 0.68], "L": [2048, 4096]}
    t_max, samples = (500, 32) if args.quick else (2000, 512)
    cls = ap.get_model("dp")
    procs = [cls(p=p, L=L) for p in grid["p"] for L in grid["L"]]
    n = len(procs)
    kw = dict(t_max=t_max, samples=samples, times="log")
    numba.set_num_threads(1)

    def baseline(_):
        for proc in procs:
            ap.simulate(proc, seed=point_seed(0, proc), progress=False, **kw)

    tmp = tempfile.mkdtemp()

    def sweep(workers):
        def run(r):
            ap.sweep("dp", grid=grid, out=os.path.join(tmp, f"s{workers}_{r}.nc"),
                     workers=workers, progress=False, **kw)
        return run

    baseline(0)  # warm-up (compilation / cache)
    cpu_base = _median(baseline, args.repeats, time.process_time)
    cpu_one = _median(sweep(1), args.repeats, time.process_time)
    wall_base = _median(baseline, args.repeats, time.perf_counter)
    wall_two = _median(sweep(2), args.repeats, time.perf_counter)
    print(f"# {platform.machine()} {os.cpu_count()} CPUs, {datetime.date.today()}, "
          f"load average {os.getloadavg()[0]:.2f}; dp grid {n} points, L = 2048, 4096, "
          f"t_max = {t_max}, samples = {samples}, times='log', medians of {args.repeats}")
    print(f"baseline simulate loop (1 thread): {cpu_base:.3f} s CPU, {wall_base:.3f} s wall")
    print(f"sweep workers=1 + checkpoints:    {cpu_one:.3f} s CPU  -> overhead "
          f"{1e3 * (cpu_one - cpu_base) / n:.1f} ms CPU per point")
    print(f"sweep workers=2 (processes):      {wall_two:.3f} s wall -> "
          f"{wall_base / wall_two:.2f}x the 1-thread baseline")


if __name__ == "__main__":
    main()

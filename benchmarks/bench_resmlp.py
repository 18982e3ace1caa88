"""Throughput of the residual-MLP kernel against the built-in MLP's, measured in the same run.

Usage: python benchmarks/bench_resmlp.py [--repeat 7] [--width 4096] [--layers 400]

Prints a Markdown table for docs/performance.md: unit updates per second (one unit of one
replica pair advanced by one layer) of ``_resmlp_cpu.resmlp_gaussian`` and, as the baseline,
``_mlp_cpu.mlp_gaussian`` with the same activation, width, depth and seed, one Numba thread
(the per-core figure), alternating the two kernels in every repeat so that both see the same
machine load. Medians over ``--repeat`` runs of wall time and of process CPU time (CPU time is
the robust figure on a shared VM), with the load average at the start. The target of the
residual kernel is 1e8 unit updates per second per core at N = 4096.
"""

import argparse
import os
import sys
import time

import numba
import numpy as np

from absorbphys.models import _mlp_cpu, _resmlp_cpu
from absorbphys.models.activations import get_activation

_ap = argparse.ArgumentParser()
_ap.add_argument("--repeat", type=int, default=7)
_ap.add_argument("--width", type=int, default=4096)
_ap.add_argument("--layers", type=int, default=400)
_ap.add_argument("--activations", default="tanh,erf,hard_tanh,relu")
ARGS = _ap.parse_args()


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main():
    numba.set_num_threads(1)
    n, layers = ARGS.width, ARGS.layers
    times = np.array([0, layers], np.int64)
    edges = np.array([0, 1], np.int64)
    print(f"load average at start: {os.getloadavg()[0]:.1f}; numba threads 1; N = {n}, "
          f"{layers} layers per run, median of {ARGS.repeat}\n")
    print("| kernel | activation | M unit updates/s (wall) | M/s (CPU) | ratio to MLP (CPU) |")
    print("|---|---|---|---|---|")
    for name in ARGS.activations.split(","):
        code = np.int64(get_activation(name).code)
        # relu's variance doubles every ~2 layers at sigma_w = 1.4: keep it finite
        sw = 1.0 if name == "relu" else 1.4
        depth = min(layers, 300) if name == "relu" else layers
        tt = np.array([0, depth], np.int64) if name == "relu" else times

        def res(code=code, sw=sw, tt=tt):
            _resmlp_cpu.resmlp_gaussian(code, np.int64(n), sw, 0.3, 1.0, 1.0, 1.0, tt, edges,
                                        np.int64(1), 1e-12, np.ones(1))

        def mlp(code=code, sw=sw, tt=tt):
            _mlp_cpu.mlp_gaussian(code, np.int64(n), sw, 0.3, 1.0, 1.0, tt, edges,
                                  np.int64(1), 1e-12, np.ones(1))

        res()  # compile / load from the cache
        mlp()
        wr, cr, wm, cm = [], [], [], []
        for _ in range(ARGS.repeat):
            w, c = _timed(res)
            wr.append(w)
            cr.append(c)
            w, c = _timed(mlp)
            wm.append(w)
            cm.append(c)
        work = n * depth
        r_w, r_c = work / np.median(wr) / 1e6, work / np.median(cr) / 1e6
        m_w, m_c = work / np.median(wm) / 1e6, work / np.median(cm) / 1e6
        print(f"| ResMLP | {name} | {r_w:,.0f} | {r_c:,.0f} | {r_c / m_c:.2f} |", flush=True)
        print(f"| MLP (baseline, same run) | {name} | {m_w:,.0f} | {m_c:,.0f} | 1 |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())

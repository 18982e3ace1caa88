"""Rate of the MLP Gaussian kernel of the installed absorbphys, for comparing two commits.

Usage: python benchmarks/bench_mlp_ab.py [--width 4096] [--layers 2000] [--repeat 15]

Prints one line: the median rate (million unit updates per second of process CPU time, one
Numba thread, one sample) of ``_mlp_cpu.mlp_gaussian`` with tanh, hard_tanh and erf at
``sigma_w = 1.4``, ``sigma_b = 0.3`` (the call of ``bench_networks.py``), after one warm-up
call each. On the noisy development VMs the rate swings by about 20 % from one process to the
next, more than most kernel changes; to compare two commits, install each in its own virtual
environment and run this script in the two alternately, several times, then compare the
medians (docs/performance.md, networks).
"""

import argparse
import time

import numba
import numpy as np

from absorbphys.models import _mlp_cpu
from absorbphys.models.activations import get_activation


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--layers", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    numba.set_num_threads(1)
    n, t = args.width, args.layers
    times = np.array([0, t], np.int64)
    edges = np.array([0, 1], np.int64)
    out = []
    for name in ("tanh", "hard_tanh", "erf"):
        code = np.int64(get_activation(name).code)

        def run(code=code):
            _mlp_cpu.mlp_gaussian(code, np.int64(n), 1.4, 0.3, 0.76, 1.0, times, edges,
                                  np.int64(1), 1e-12, np.ones(1))
        run()
        cpu = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            run()
            cpu.append(time.process_time() - t0)
        out.append(f"{name} {n * t / np.median(cpu) / 1e6:.1f}")
    print(f"M unit updates/s (CPU), N = {n}, {t} layers, median of {args.repeat}: "
          + ", ".join(out))


if __name__ == "__main__":
    main()

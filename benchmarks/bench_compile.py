"""First-call (compilation) time of the network kernels, from a fresh Numba cache.

Usage: python benchmarks/bench_compile.py [--repeat 1]

Prints a Markdown table for docs/performance.md. Each repeat runs one child process with an
empty ``NUMBA_CACHE_DIR`` that calls, one after the other (so later rows reuse what earlier
ones compiled, as a user's session does), ``absorbphys.simulate`` on a tiny network:
the MLP with tanh in float64, the same in float32, the MLP with a user activation (not
cached on disk), and the residual MLP; then a second child process with the now filled cache
repeats the first call (the cost of loading the kernels from disk). Medians over
``--repeat`` repeats. The first-call time of the MLP is what a new user waits for before the
first result, and it sets the wall time of the test suite (docs/performance.md, test suite).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_ap = argparse.ArgumentParser()
_ap.add_argument("--repeat", type=int, default=1)
ARGS = _ap.parse_args()

CHILD = r"""
import json, math, sys, time
t0 = time.perf_counter()
import absorbphys as ap
from absorbphys.models import MLP, ResMLP
from absorbphys.models.activations import get_activation
out = {"import": time.perf_counter() - t0}

def first(name, model):
    t = time.perf_counter()
    ap.simulate(model, t_max=5, samples=2, seed=1, progress=False)
    out[name] = time.perf_counter() - t

def mytanh(x):
    return math.tanh(x)

first("MLP tanh float64", MLP(64, 1.4, 0.3))
if sys.argv[1] == "cold":
    first("MLP tanh float32", MLP(64, 1.4, 0.3, dtype="float32"))
    first("MLP user activation", MLP(64, 1.4, 0.3, activation=get_activation(mytanh)))
    first("ResMLP tanh float64", ResMLP(64, 1.4, 0.3))
print(json.dumps(out))
"""


def child(mode, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, ABSORBPHYS_PROGRESS="0")
    r = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    runs = []
    for _ in range(ARGS.repeat):
        with tempfile.TemporaryDirectory(prefix="absorbphys-compile-") as cache:
            cold = child("cold", cache)
            warm = child("warm", cache)
        cold["MLP tanh float64, cache filled (new process)"] = warm["MLP tanh float64"]
        runs.append(cold)
    print(f"load average at start: {os.getloadavg()[0]:.1f}; median of {ARGS.repeat}\n")
    print("| first call (in this order, one process) | seconds |")
    print("|---|---:|")
    for k in runs[0]:
        print(f"| {k} | {statistics.median(r[k] for r in runs):.1f} |")


if __name__ == "__main__":
    main()

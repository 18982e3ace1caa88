"""Throughput of user layer stacks (absorbphys.models.LayerStack), NumPy and JAX paths.

Usage: python benchmarks/bench_layerstack.py [--width 1024] [--repeat 5] [--blas-threads 1]
                                             [--no-jax]

The unit is one *layer application on a batch*: draw one layer's parameters (an N x N weight
matrix and a bias) and apply it to the batch of states (the two replicas, or 2 x inputs).
The stack runs through ``absorbphys.simulate`` (every layer recorded: the framework's whole
cost); the baseline, measured in the same run, is NumPy's own
``Generator.standard_normal((N, N)) @ X`` with ``X`` of shape (N, batch) — the target is at
least 50 % of its rate. With JAX installed the JAX path is compared with
``jit(jax.random.normal(key, (N, N)) @ X)`` (after compilation). Single-thread figures are
the reference (BLAS / XLA threads = 1 unless --blas-threads is given); medians of --repeat
runs. Prints a Markdown table.
"""

import argparse
import os

_ap = argparse.ArgumentParser()
_ap.add_argument("--width", type=int, default=1024)
_ap.add_argument("--repeat", type=int, default=5)
_ap.add_argument("--layers", type=int, default=6, help="layers per sample in one run")
_ap.add_argument("--samples", type=int, default=4, help="samples in one run")
_ap.add_argument("--blas-threads", type=int, default=1)
_ap.add_argument("--no-jax", action="store_true")
ARGS = _ap.parse_args()
for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(v, str(ARGS.blas_threads))
if ARGS.blas_threads == 1:
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")
os.environ.setdefault("ABSORBPHYS_PROGRESS", "0")

import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import absorbphys as ap  # noqa: E402
from absorbphys import Param  # noqa: E402
from absorbphys.models import LayerStack  # noqa: E402

N = ARGS.width
R = ARGS.repeat
SIGMAS = {"sigma_w": Param("float", 0.0, 100.0), "sigma_b": Param("float", 0.0, 100.0)}


def median_time(fn, repeat=R):
    """Median wall and process-CPU seconds of ``fn()`` (CPU time: robust on a loaded VM)."""
    fn()  # warm-up (compilation, caches)
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return np.array([np.median(wall), np.median(cpu)])


# ------------------------------------------------------------------ NumPy stacks
def init_natural(rng, width, sigma_w, sigma_b):
    """The obvious code: the weights scaled in init (one more pass over N^2 numbers)."""
    return (rng.standard_normal((width, width)) * (sigma_w / math.sqrt(width)),
            rng.standard_normal(width) * sigma_b)


def apply_natural(p, h):
    W, b = p
    return np.tanh(h) @ W.T + b


def init_tuned(rng, width, sigma_w, sigma_b):
    """Raw normals; the scale goes on the (batch x N) product in apply."""
    return rng.standard_normal((width, width)), rng.standard_normal(width) * sigma_b, \
        sigma_w / math.sqrt(width)


def apply_tuned(p, h):
    W, b, scale = p
    y = np.tanh(h) @ W.T
    y *= scale
    y += b
    return y


Natural = LayerStack.define("_bench_natural", init_natural, apply_natural, params=SIGMAS)
Tuned = LayerStack.define("_bench_tuned", init_tuned, apply_tuned, params=SIGMAS)


def stack_rate(proc, samples=ARGS.samples, layers=ARGS.layers):
    """Layer applications per second (wall, CPU) of a stack run through simulate."""
    t = median_time(lambda: ap.simulate(proc, layers, samples=samples, batches=samples, seed=1))
    return samples * layers / t


def numpy_rate(batch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, batch))
    reps = 8

    def run():
        for _ in range(reps):
            rng.standard_normal((N, N)) @ X

    return reps / median_time(run)


rows = []


def add(case, batch, rate, base):
    rows.append((case, batch, rate, base))


for inputs in (1, 8):
    batch = 2 * inputs
    base = numpy_rate(batch)
    add("numpy `standard_normal((N, N)) @ X` (baseline)", batch, base, base)
    add("LayerStack numpy, scale in init", batch,
        stack_rate(Natural(N, 1.4, 0.3, inputs=inputs)), base)
    add("LayerStack numpy, scale in apply", batch,
        stack_rate(Tuned(N, 1.4, 0.3, inputs=inputs)), base)
    add("LayerStack numpy float32 storage, scale in apply", batch,
        stack_rate(Tuned(N, 1.4, 0.3, inputs=inputs, dtype="float32")), base)

# ------------------------------------------------------------------ JAX
jax_version = None
if not ARGS.no_jax:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        jax = None
    if jax is not None:
        jax_version = jax.__version__

        def jinit(key, width, sigma_w, sigma_b):
            kw, kb = jax.random.split(key)
            return jax.random.normal(kw, (width, width)), jax.random.normal(kb, (width,)) \
                * sigma_b, sigma_w / jnp.sqrt(width)

        def japply(p, h):
            W, b, scale = p
            return (jnp.tanh(h) @ W.T) * scale + b

        Jax = LayerStack.define("_bench_jax", jinit, japply, params=SIGMAS, framework="jax")

        for dtype in ("float64", "float32"):
            x64 = dtype == "float64"
            with jax.enable_x64(x64):
                key = jax.random.key(0)
                X = jnp.asarray(np.random.default_rng(0).standard_normal((N, 2)), dtype=dtype)
                f = jax.jit(lambda k, X: jax.random.normal(k, (N, N), dtype=X.dtype) @ X)
                keys = jax.random.split(key, 8)

                def run_base():
                    out = [f(k, X) for k in keys]
                    jax.block_until_ready(out)

                base = len(keys) / median_time(run_base)
            add(f"jax `random.normal(key, (N, N)) @ X` {dtype} (baseline)", 2, base, base)
            add(f"LayerStack jax {dtype}", 2, stack_rate(Jax(N, 1.4, 0.3, dtype=dtype)), base)

print(f"N = {N}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
      f"BLAS/XLA threads {ARGS.blas_threads}; numpy {np.__version__}"
      + (f", jax {jax_version}" if jax_version else "") + f"; median of {R}")
print()
print("| case | batch | layers/s (wall) | ms/layer wall | ms/layer CPU | vs baseline "
      "(wall) | vs baseline (CPU) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for case, batch, rate, base in rows:
    print(f"| {case} | {batch} | {rate[0]:.1f} | {1e3 / rate[0]:.2f} | {1e3 / rate[1]:.2f} | "
          f"{rate[0] / base[0]:.0%} | {rate[1] / base[1]:.0%} |")

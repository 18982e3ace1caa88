"""Throughput of the NumPy trainer (absorbphys.models.training).

Medians of repeated runs, single BLAS thread (as the trainer runs). The baseline is the
matmul floor measured in the same run: the 3 matrix products per hidden layer and
minibatch (forward W x, backward W^T delta and delta x^T) with the same shapes, in a bare
loop without activations, biases or bookkeeping.

    python benchmarks/bench_training.py [--repeats 5]
"""

import argparse
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

from absorbphys.models import training as T


def median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def matmul_floor(n_train, batch, depth, width, repeats):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((width, width))
    x = rng.standard_normal((batch, width))
    steps = -(-n_train // batch)

    def run():
        for _ in range(steps):
            for _ in range(depth):
                h = x @ W.T
                g = h @ W
                _ = g.T @ x
    return median_time(run, repeats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    r = args.repeats
    print(f"# {platform.machine()} {platform.processor() or ''} numpy {np.__version__}")
    task = T.make_task("teacher", n_train=1024, n_test=256, d_in=64, n_classes=10, seed=0)
    with threadpool_limits(limits=1, user_api="blas"):
        for depth, width in ((16, 64), (16, 256)):
            net = T.init_network(d_in=64, n_classes=10, depth=depth, width=width,
                                 sigma_w=1.2, sigma_b=0.05)
            t = median_time(lambda: T._train(net, task, 0.01, 1, 32, 0, 0), r)
            base = matmul_floor(1024, 32, depth, width, r)
            print(f"mlp depth={depth} width={width}: {t * 1e3:.1f} ms/epoch "
                  f"(1024 examples, batch 32, incl. evaluation); matmul floor "
                  f"{base * 1e3:.1f} ms; ratio {t / base:.2f}")
        net = T.init_network("cnn", d_in=64, n_classes=10, depth=8, channels=8, kernel_size=3,
                             sigma_w=1.2, sigma_b=0.05)
        t = median_time(lambda: T._train(net, task, 0.01, 1, 32, 0, 0), r)
        print(f"cnn depth=8 channels=8 k=3 n=64: {t * 1e3:.1f} ms/epoch")
        for arch, kw in (("mlp", dict(width=64)), ("cnn", dict(channels=8))):
            net = T.init_network(arch, d_in=64, n_classes=10, depth=16, sigma_w=1.2,
                                 sigma_b=0.05, **kw)
            X = task.X_train[:32]
            t = median_time(lambda: T.ntk_spectrum(net, X), r)
            print(f"ntk {arch} depth=16 ({net.n_params} params), 32 examples x 10 classes: "
                  f"{t * 1e3:.1f} ms (Gram + eigvalsh)")


if __name__ == "__main__":
    main()

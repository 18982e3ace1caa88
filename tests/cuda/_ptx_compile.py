"""Compile every CUDA kernel to PTX for sm_90 without a GPU (NVVM needed, no driver).

The CUDA simulator runs kernels as Python, so it cannot see typing errors of the real CUDA
target (e.g. ``np.sqrt`` on scalars, namespace attributes as globals, int64/uint64 mixes);
this compiles each kernel with the argument types the host code passes. Run by
``test_cuda_ptx.py`` in a subprocess (it patches the CUDA dispatcher's device lookup, which
must not happen in the test process). Exit status 0 and ``PTX OK <n>`` on success.
"""

import sys
import types

import numba
import numba.cuda.dispatcher as _dispatcher
import numpy as np
from numba import cuda

CC = (9, 0)
# device functions compile for "the current device": pretend one of compute capability CC
_dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=CC)

import absorbphys._backends as _backends  # noqa: E402

_backends.cuda_available = lambda: True

from absorbphys.models import _cnn_cuda, _contact_cuda, _dk_cuda, _mlp_cuda  # noqa: E402
from absorbphys.models.activations import get_activation  # noqa: E402

count = 0


def check(kernel, *args):
    """Compile ``kernel`` for the types of ``args`` (host arrays stand in for device ones)."""
    global count
    sig = tuple(numba.typeof(a) for a in args)
    cuda.compile_ptx(kernel.py_func, sig, cc=CC)
    count += 1


U = np.uint64
i64 = np.zeros(3, np.int64)
k0 = np.zeros(3, U)
counts = np.zeros((3, 5), np.int64)
r2 = np.zeros((3, 5))
st = np.zeros((3, 4), U)
cnt = np.zeros((3, 3), np.int64)
check(_dk_cuda._init1, st, cnt, k0, 7, 0, 100, 4, 5, True)
check(_dk_cuda._step1, st, st, i64, i64, i64, 4, 5, U(3), False, 3, U(5), True, 64, k0, 3)
check(_dk_cuda._observe1, st, i64, counts, r2, 2, 4, 100, 3, True)
st2 = np.zeros((3, 4, 2), U)
check(_dk_cuda._init2, st2, cnt, k0, 7, 0, 100, 2, 5, True)
check(_dk_cuda._step2, st2, st2, i64, i64, i64, 100, 2, 5, np.zeros(5), k0, 3)
check(_dk_cuda._observe2, st2, i64, counts, r2, 2, 2, 100, 3, True)

lst = np.zeros((3, 16), np.int32)
times = np.zeros(5)
check(_contact_cuda._contact, lst, lst, 16, 1, 16, 3.3, times, 7, 0, True, counts, r2,
      np.zeros(3, U))
check(_contact_cuda._mean_field, 3, 50, 1.5, times, 7, 0, True, counts, np.zeros(3, U))


def softsign(x):
    return x / (1.0 + abs(x))


ti = np.zeros(3, np.int64)
out = np.zeros((2, 3))
for act in (get_activation("erf"), get_activation(softsign)):
    K = _mlp_cuda.kernels_for(act)
    code = np.int64(act.code)
    for dt in (np.float64, np.float32):
        h = np.zeros((2, 8), dt)
        check(K.gauss_run, code, h, h, 0.1, 0.1, 1.0, 1.0, ti, 5, 0, out)
        h3 = np.zeros((2, 8, 3), dt)
        X = np.zeros((2, 8, 6), dt)
        W = np.zeros((2, 8, 8), dt)
        bias = np.zeros((2, 8))
        check(K.init_inputs, h3, h3, 1.0, 1.0, 5, 0)
        check(K.fill_weights, W, bias, 5, 0, 3)
        check(K.act_pairs, code, h3, h3, X)
        check(K.matmul[np.dtype(dt)], W, X, bias, h3, h3, 0.5, 0.3)
        check(K.rho_pairs, h3, h3, np.zeros((2, 3, 3)), 1)
    C = _cnn_cuda.kernels_for(act)
    for dt in (np.float64, np.float32):
        h = np.zeros((2, 8, 3), dt)
        a = np.zeros((2, 8, 3))
        nbr = np.zeros((8, 3), np.int64)
        Wc = np.zeros((2, 27))
        bc = np.zeros((2, 3))
        check(C.init, h, h, 1.0, 1.0, True, 5, 0)
        check(C.activate, code, h, h, a, a)
        check(C.fill, Wc, bc, 0.3, 5, 0, 2)
        check(C.conv, h, h, a, a, Wc, bc, nbr, 0.5)
        check(C.local, h, h, a, a, nbr, 0.2, 0.09, 5, 0, 2)
        check(C.measure, h, h, 1e-12, np.zeros(8), np.zeros((2, 3, 3)), 1)

print(f"PTX OK {count}")
sys.exit(0)

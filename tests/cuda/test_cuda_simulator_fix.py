"""The CUDA simulator's shared-array allocation race, and absorbphys' fix for it.

Simulator only: on a GPU ``FakeCUDAShared`` is never used.
"""

import os
import threading

import numpy as np
import pytest
from numba import cuda

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "1",
                                reason="simulator-only fix")


def _allocate_concurrently(array_fn, slow_empty):
    """Two threads allocate the same shared array while np.empty is slow; return both."""
    from numba.cuda.simulator import kernelapi

    sh = kernelapi.FakeCUDAShared(0)
    out = [None, None]
    barrier = threading.Barrier(2)

    def worker(i):
        barrier.wait()
        out[i] = array_fn(sh, 8, np.int64)  # one source line: one shared array

    real = np.empty
    np.empty = slow_empty(real)
    try:
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        np.empty = real
    return out


def _slow(real):
    import time

    def empty(*a, **k):
        time.sleep(0.05)  # widen the window between the lookup and the store
        return real(*a, **k)

    return empty


def test_unpatched_simulator_can_hand_two_threads_different_arrays():
    from numba.cuda.simulator import kernelapi

    original = getattr(kernelapi.FakeCUDAShared.array, "__wrapped__",
                       kernelapi.FakeCUDAShared.array)
    a, b = _allocate_concurrently(original, _slow)
    assert a is not b  # the race: one thread's writes would go to an orphan array


def test_patched_simulator_hands_every_thread_the_same_array():
    from numba.cuda.simulator import kernelapi

    from absorbphys.kernels import cuda as _cuda

    _cuda.patch_simulator()
    a, b = _allocate_concurrently(kernelapi.FakeCUDAShared.array, _slow)
    assert a is b


def test_patched_simulator_keeps_distinct_arrays_per_source_line():
    from absorbphys.kernels import cuda as _cuda

    _cuda.patch_simulator()

    @cuda.jit
    def two_arrays(out):
        a = cuda.shared.array(4, np.int64)
        b = cuda.shared.array(4, np.int64)
        i = cuda.threadIdx.x
        a[i] = 1
        b[i] = 2
        cuda.syncthreads()
        out[i] = a[(i + 1) % 4] + 10 * b[(i + 2) % 4]

    out = np.zeros(4, np.int64)
    two_arrays[1, 4](out)
    assert np.all(out == 21)

"""CUDA network kernels (MLP Gaussian and explicit weights, CNN) agree with the CPU.

Both backends draw the same normals (counter-based generator, same indices); they differ only
in the order of float sums (tree reductions on the device) and in the device's libm, so the
results agree to rounding: rtol 1e-9 in float64 (a wrong draw or index gives O(1)
differences), 1e-5 where ``h`` is stored in float32 (a one-ulp float32 rounding flip).
Sizes are tiny for the CUDA simulator.
"""

import numpy as np
import pytest

from absorbphys.models import _cnn_cpu, _mlp_cpu
from absorbphys.models.activations import get_activation

EDGES = np.array([0, 2, 3], np.int64)
TIMES = np.array([0, 1, 2, 4, 6], np.int64)


def softsign(x):
    return x / (1.0 + abs(x))


def _rtol(dtype):
    return 1e-9 if dtype == np.float64 else 1e-5


def _close(gpu, cpu, rtol):
    for g, c in zip(gpu, cpu):
        np.testing.assert_allclose(g, c, rtol=rtol, atol=1e-300)


@pytest.fixture(scope="module")
def mlp():
    from absorbphys.models import _mlp_cuda

    return _mlp_cuda


@pytest.fixture(scope="module")
def cnn():
    from absorbphys.models import _cnn_cuda

    return _cnn_cuda


def _cpu_gauss(act, n, rho0, dtype):
    if act.code >= 0:
        kern = _mlp_cpu.mlp_gaussian
    else:
        kern = _mlp_cpu.compile_for(act)[0]
    return kern(np.int64(act.code), n, 1.4, 0.3, 0.7, rho0, TIMES, EDGES, 9, 1e-12,
                np.ones(1, dtype))


@pytest.mark.parametrize("name,rho0,dtype", [
    ("tanh", 1.0, np.float64), ("tanh", 1e-6, np.float32), ("erf", 1.0, np.float64),
    ("relu", 1e-6, np.float64), ("hard_tanh", 1.0, np.float32), ("sin", 0.5, np.float64),
    (softsign, 1.0, np.float64)])
def test_mlp_gaussian_matches_cpu(mlp, name, rho0, dtype):
    act = get_activation(name)
    n = 24
    gpu = mlp.mlp_gaussian(act, n, 1.4, 0.3, 0.7, rho0, TIMES, EDGES, 9, 1e-12, dtype)
    cpu = _cpu_gauss(act, n, rho0, dtype)
    _close(gpu, cpu, _rtol(dtype))
    assert np.all(cpu[0][:, -1] > 0)


def test_mlp_identical_inputs_stay_absorbed(mlp):
    act = get_activation("tanh")
    gpu = mlp.mlp_gaussian(act, 16, 1.4, 0.3, 0.7, 0.0, TIMES, EDGES, 9, 1e-12, np.float64)
    assert np.all(gpu[0] == 0) and np.all(gpu[2] == 0)


@pytest.mark.parametrize("n,inputs,dtype,times", [
    (19, 3, np.float64, np.array([0, 1, 2])), (18, 2, np.float32, np.array([0, 1]))])
def test_mlp_weights_matches_cpu(mlp, n, inputs, dtype, times):
    # the tiled matrix product (128 x 128 tiles) on partial tiles, odd width (last column)
    act = get_activation("tanh")
    edges = np.array([0, 1, 2], np.int64)
    gpu = mlp.mlp_weights(act, n, 1.4, 0.3, 0.7, 1.0, times, edges, 9, 1e-12, dtype, inputs)
    cpu = _mlp_cpu.mlp_weights(np.int64(act.code), n, 1.4, 0.3, 0.7, 1.0, times, edges, 9,
                               1e-12, dtype, inputs)
    rtol = 1e-9 if dtype == np.float64 else 1e-4  # float32 products summed in another order
    for k in cpu:
        np.testing.assert_allclose(gpu[k], cpu[k], rtol=rtol, atol=1e-300)
    assert np.all(cpu["rho"][:, -1] > 0)


@pytest.mark.parametrize("dim,L,C,shared,seed_only,dtype", [
    (1, 8, 3, True, False, np.float64), (1, 8, 3, False, True, np.float32),
    (2, 4, 2, True, True, np.float64), (2, 4, 2, False, False, np.float64)])
def test_cnn_matches_cpu(cnn, dim, L, C, shared, seed_only, dtype):
    act = get_activation("tanh")
    times = np.array([0, 1, 2, 4], np.int64)
    rho0 = 0.5 if seed_only else 1.0
    args = (L, dim, C, 3, shared, 1.5, 0.3, 0.8, rho0, seed_only, times, EDGES, 4, 1e-12)
    gpu = cnn.cnn(act, *args, dtype)
    cpu = _cnn_cpu.cnn_kernel(np.int64(act.code), *args, np.ones(1, dtype))
    _close(gpu, cpu, _rtol(dtype))
    assert np.all(cpu[0][:, -1] > 0)


def test_chunked_samples_agree(mlp, cnn, monkeypatch):
    # one sample per chunk: the global sample index (stream) must survive chunking
    act = get_activation("tanh")
    monkeypatch.setattr(mlp, "STATE_BYTES", 2 * 16 * 8)
    gpu = mlp.mlp_gaussian(act, 16, 1.4, 0.3, 0.7, 1.0, TIMES[:3], EDGES, 9, 1e-12,
                           np.float64)
    _close(gpu, _mlp_cpu.mlp_gaussian(np.int64(0), 16, 1.4, 0.3, 0.7, 1.0, TIMES[:3], EDGES,
                                      9, 1e-12, np.ones(1)), 1e-9)
    monkeypatch.setattr(cnn, "STATE_BYTES", 1)
    args = (6, 1, 2, 3, False, 1.5, 0.3, 0.8, 1.0, False, TIMES[:3], EDGES, 4, 1e-12)
    _close(cnn.cnn(act, *args, np.float64),
           _cnn_cpu.cnn_kernel(np.int64(0), *args, np.ones(1)), 1e-9)

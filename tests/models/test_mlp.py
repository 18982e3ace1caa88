"""Random MLP: exactness against naive references, mean-field limit, methods agree, errors."""

import math
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from scipy import stats

import absorbphys as ap
from absorbphys.models import meanfield as mf
from absorbphys.models.mlp import MLP

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import naive  # noqa: E402


def per_sample(proc, t_max, samples, init="full", seed=0, **kw):
    ds = ap.simulate(proc, t_max, samples=samples, batches=samples, init=init, seed=seed, **kw)
    return ds


@pytest.mark.parametrize("method", ["gaussian", "weights"])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_kernels_match_naive_two_replica_reference(method, act):
    phi = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}[act]
    p = MLP(16, 1.4, 0.3, activation=act, method=method)
    ds = per_sample(p, 6, 2, init=0.2, seed=5)
    q0 = p.input_variance()
    ref = naive.naive_mlp_weights if method == "weights" else naive.naive_mlp_gaussian
    for s in range(2):
        want = ref(16, 1.4, 0.3, phi, 6, q0, 0.8, seed=5, sample=s)
        np.testing.assert_allclose(ds.rho.values[s], want, rtol=1e-9)


def test_finite_width_follows_mean_field_over_first_layers():
    sw, sb, n = 1.5, 0.3, 64
    want = ap.simulate(mf.MeanFieldNetwork(sw, sb), 10).rho.values[0]
    r = per_sample(MLP(4096, sw, sb), 10, n, seed=1).rho.values
    m, se = r.mean(0), r.std(0, ddof=1) / math.sqrt(n)
    # per-sample spread ~5% at layer 10 (se ~0.7%); 4 se plus an allowance for the O(1/N)
    # bias (measured 0.1-0.3% at N = 4096 with 256 samples)
    assert np.all(np.abs(m - want) < 4 * se + 0.005 * want), (m / want - 1, se / want)
    assert np.all(np.abs(m / want - 1) < 0.04)


def test_gaussian_and_weights_methods_agree_in_distribution():
    n = 120
    g = per_sample(MLP(128, 1.5, 0.3), 12, n, init=0.9, seed=11).rho.values
    w = per_sample(MLP(128, 1.5, 0.3, method="weights"), 12, n, init=0.9, seed=12).rho.values
    for t in (1, 4, 12):
        assert stats.ks_2samp(g[:, t], w[:, t]).pvalue > 1e-3, t


def test_sigma_w_zero_collapses_after_one_layer_and_identical_inputs_stay_equal():
    for method in ("gaussian", "weights"):
        ds = per_sample(MLP(64, 0.0, 0.3, method=method), 4, 3)
        assert np.all(ds.rho.values[:, 0] > 0.5)
        assert np.all(ds.rho.values[:, 1:] == 0.0)
        assert np.all(ds.survival.values[:, 1:] == 0.0)
        same = per_sample(MLP(64, 1.8, 0.3, method=method), 5, 2, init=1.0)
        assert np.all(same.rho.values == 0.0)


@pytest.mark.parametrize("act", ["tanh", "relu", "hard_tanh"])
def test_difference_form_stays_accurate_at_1e_minus_200(act):
    # the same random numbers with seed_rho 1e-200 and 1e-100: trajectories are proportional
    sw = {"tanh": 1.5, "relu": 1.5, "hard_tanh": 1.3}[act]
    tiny = per_sample(MLP(256, sw, 0.3, activation=act, q0=1.0, seed_rho=1e-200), 8, 2,
                      init="seed").rho.values
    small = per_sample(MLP(256, sw, 0.3, activation=act, q0=1.0, seed_rho=1e-100), 8, 2,
                       init="seed").rho.values
    assert np.all(tiny > 0) and np.all(tiny < 1e-190)
    np.testing.assert_allclose(tiny / small, 1e-100, rtol=1e-8)


def test_threshold_survival_n_active_and_threads():
    p = MLP(64, 1.0, 0.3, eps=1e-8)
    ds = per_sample(p, 300, 4, init="seed", times="log", seed=2)
    rho, surv = ds.rho.values, ds.survival.values
    np.testing.assert_array_equal(surv, (rho > 1e-8).astype(float))
    np.testing.assert_allclose(ds.n_active.values, 64 * rho * (rho > 1e-8))
    assert surv[:, 0].all() and not surv[:, -1].any()
    assert p.is_absorbed(1e-9) and not p.is_absorbed(1e-7)
    # results do not depend on the batching or the number of threads
    one = ap.simulate(p, 300, samples=4, batches=1, init="seed", times="log", seed=2)
    np.testing.assert_allclose(one.rho.values[0], rho.mean(0), rtol=1e-12)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = per_sample(p, 300, 4, init="seed", times="log", seed=2)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(single.rho.values, rho)


def test_float32_and_several_inputs():
    r64 = per_sample(MLP(512, 1.5, 0.3), 6, 24, seed=3).rho.values
    r32 = per_sample(MLP(512, 1.5, 0.3, dtype="float32"), 6, 24, seed=3).rho.values
    np.testing.assert_allclose(r32, r64, rtol=1e-4)
    ds = per_sample(MLP(128, 1.5, 0.3, method="weights", inputs=3), 5, 2, seed=4)
    assert ds.rho.shape == (2, 6) and np.all(ds.rho.values > 0.1)
    # the first input pair of a 3-input network is the 1-input network's pair
    one = per_sample(MLP(128, 1.5, 0.3, method="weights"), 5, 2, seed=4).rho.values
    assert not np.allclose(one, ds.rho.values)


def test_user_activation_matches_builtin():
    def mytanh(x):
        return math.tanh(x)

    def mydiff(a, d):
        return math.tanh(d) * (1.0 - math.tanh(a) * math.tanh(a + d))

    from absorbphys.models.activations import get_activation

    act = get_activation(mytanh, diff=mydiff)
    a = per_sample(MLP(64, 1.4, 0.3, activation=act), 5, 2, seed=9).rho.values
    b = per_sample(MLP(64, 1.4, 0.3), 5, 2, seed=9).rho.values
    np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("kw,match", [
    (dict(width=1), r"width must be an integer in \[2, inf\), got 1"),
    (dict(sigma_w=-0.5), r"sigma_w must be in \[0, 1e\+12\], got -0.5"),
    (dict(sigma_b=-1.0), r"sigma_b must be in \[0, 1e\+12\], got -1"),
    (dict(activation="softplus"), "activation must be one of 'tanh'"),
    (dict(method="svd"), "method must be one of 'gaussian', 'weights'"),
    (dict(inputs=2), "inputs > 1 needs method='weights'"),
    (dict(dtype="float16"), "dtype must be one of 'float64', 'float32'"),
])
def test_bad_parameters_give_one_line_errors(kw, match):
    args = dict(width=8, sigma_w=1.0, sigma_b=0.1) | kw
    with pytest.raises(ValueError, match=match) as e:
        MLP(**args)
    assert "\n" not in str(e.value)


def test_bad_init():
    p = MLP(8, 1.0, 0.1)
    with pytest.raises(ValueError, match=r"init c0 must be in \[-1, 1\], got 1.5"):
        ap.simulate(p, 2, init=1.5)
    with pytest.raises(ValueError, match="init must be 'full', 'seed' or a correlation"):
        ap.simulate(p, 2, init="half")
    ds = ap.simulate(p, 2, init="c0=0.25")
    assert ds.attrs["init"] == "c0=0.25" and ds.attrs["size"] == 8

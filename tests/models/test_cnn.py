"""Random CNN: exactness against a naive convolution, mean-field limit, seed spreading."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import absorbphys as ap
from absorbphys.models import meanfield as mf
from absorbphys.models.cnn import CNN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import naive  # noqa: E402


def per_sample(proc, t_max, samples, **kw):
    return ap.simulate(proc, t_max, samples=samples, batches=samples, **kw)


@pytest.mark.parametrize("init,seed_only", [(0.3, False), ("seed", True)])
def test_shared_kernel_matches_naive_convolution(init, seed_only):
    p = CNN(6, 4, 1.6, 0.3, kernel_size=3)
    ds = per_sample(p, 5, 2, init=init, seed=3)
    rho0 = 0.7 if init == 0.3 else p.seed_rho
    for s in range(2):
        rx = naive.naive_cnn_shared(6, 4, 1.6, 0.3, 3, np.tanh, 5, p.input_variance(), rho0,
                                    seed=3, sample=s, seed_only=seed_only)
        np.testing.assert_allclose(ds.rho.values[s], rx.mean(1), rtol=1e-8, atol=1e-300)
        if seed_only:
            active = rx > p.eps
            np.testing.assert_array_equal(ds.n_active.values[s], active.sum(1))
            r2 = np.minimum(np.arange(6), 6 - np.arange(6)) ** 2
            want = (active * r2).sum(1) / active.sum(1)
            np.testing.assert_allclose(ds.r2.values[s], want)


@pytest.mark.parametrize("shared", [True, False])
def test_many_channels_follow_the_mlp_mean_field_map(shared):
    sw, sb = 1.5, 0.3
    want = ap.simulate(mf.MeanFieldNetwork(sw, sb), 8).rho.values[0]
    r = per_sample(CNN(16, 512, sw, sb, weight_sharing=shared), 8, 6, seed=4).rho.values
    m, se = r.mean(0), r.std(0, ddof=1) / math.sqrt(r.shape[0])
    assert np.all(np.abs(m - want) < 4 * se + 0.01 * want), (m / want - 1, se / want)
    assert np.all(np.abs(m / want - 1) < 0.04)


def test_seed_light_cone_and_threshold_observables_2d():
    p = CNN(9, 8, 1.8, 0.3, kernel_size=3, dim=2)
    ds = per_sample(p, 5, 2, init="seed", seed=1)
    # radius-l square light cone: (2l + 1)^2 sites at most, and the seed site at l = 0
    cone = np.minimum((2 * np.arange(6) + 1) ** 2, 81)
    assert np.all(ds.n_active.values <= cone) and np.all(ds.n_active.values[:, 0] == 1)
    assert np.all(ds.n_active.values[:, 3] > 9)
    assert np.all(ds.r2.values[:, 0] == 0) and np.all(ds.survival.values == 1)
    # sites outside the cone have d = 0 exactly: rho counts only the cone
    assert np.all(ds.rho.values[:, 1] > 0)


@pytest.mark.parametrize("shared", [True, False])
def test_sigma_w_zero_identical_inputs_and_tiny_differences(shared):
    ds = per_sample(CNN(8, 4, 0.0, 0.3, weight_sharing=shared), 3, 2)
    assert np.all(ds.rho.values[:, 1:] == 0.0) and np.all(ds.survival.values[:, 1:] == 0)
    same = per_sample(CNN(8, 4, 1.7, 0.3, weight_sharing=shared), 4, 2, init=1.0)
    assert np.all(same.rho.values == 0.0)
    tiny = per_sample(CNN(8, 6, 1.7, 0.3, weight_sharing=shared, seed_rho=1e-200), 6, 2,
                      init="seed").rho.values
    small = per_sample(CNN(8, 6, 1.7, 0.3, weight_sharing=shared, seed_rho=1e-100), 6, 2,
                       init="seed").rho.values
    assert np.all(tiny > 0)
    np.testing.assert_allclose(tiny / small, 1e-100, rtol=1e-8)


def test_locally_connected_is_statistically_local():
    # independent weights at every site: the spread of rho over samples shrinks with L
    # (64 samples: the ratio of standard deviations is known to ~13%)
    small = per_sample(CNN(8, 8, 1.5, 0.3, weight_sharing=False), 6, 64, seed=2).rho.values
    large = per_sample(CNN(64, 8, 1.5, 0.3, weight_sharing=False), 6, 64, seed=2).rho.values
    ratio = large[:, 6].std() / small[:, 6].std()
    assert 0.22 < ratio < 0.5  # sqrt(8 / 64) = 0.35 for local noise


@pytest.mark.parametrize("kw,match", [
    (dict(kernel_size=9), r"kernel_size must be in \[1, L=8\], got 9"),
    (dict(channels=1), r"channels must be an integer in \[2, inf\), got 1"),
    (dict(sigma_w=-1.0), r"sigma_w must be in \[0, 1e\+12\]"),
    (dict(sigma_b=-0.1), r"sigma_b must be in \[0, 1e\+12\]"),
    (dict(dim=3), r"dim must be an integer in \[1, 2\], got 3"),
    (dict(activation="gelu"), "activation must be one of 'tanh'"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match) as e:
        CNN(**(dict(L=8, channels=4, sigma_w=1.0, sigma_b=0.1) | kw))
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"init c0 must be in \[-1, 1\], got -2"):
        ap.simulate(CNN(8, 4, 1.0, 0.1), 2, init=-2.0)

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_hh import hh_quality_naive

from absorbphys.analysis import _core


def test_replicate_means_match_naive_weighted_means():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5))
    w = rng.integers(1, 9, size=7).astype(float)
    reps = _core.replicate_means(x, w[:, None])
    np.testing.assert_allclose(reps[0], (w[:, None] * x).sum(0) / w.sum())
    for i in range(7):
        keep = np.arange(7) != i
        np.testing.assert_allclose(reps[i + 1], (w[keep, None] * x[keep]).sum(0) / w[keep].sum())


def test_jackknife_of_mean_is_standard_error():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    err = _core.jackknife_error(_core.replicate_means(x, np.ones((40, 1))))
    np.testing.assert_allclose(err, x.std(0, ddof=1) / np.sqrt(40))


def test_replicate_means_skip_nan():
    x = np.array([[1.0, np.nan], [3.0, 2.0], [5.0, 4.0]])
    reps = _core.replicate_means(x, np.ones((3, 1)))
    np.testing.assert_allclose(reps[0], [3.0, 3.0])
    np.testing.assert_allclose(reps[1], [4.0, 3.0])


def test_polyfit_rows_matches_numpy():
    rng = np.random.default_rng(2)
    x = np.linspace(-1, 1, 11)
    y = rng.normal(size=(4, 11))
    c = _core.polyfit_rows(x, y, np.ones(11), 2)
    for i in range(4):
        np.testing.assert_allclose(c[i], np.polyfit(x, y[i], 2)[::-1], atol=1e-12)


def test_local_slope_exact_on_power_law_any_grid():
    t = np.unique(np.r_[np.arange(1, 30), np.geomspace(30, 1e4, 50).round()])
    keep, s = _core.local_slope(np.log(t), -0.3 * np.log(t) + 2.0, 4.0)
    assert keep.sum() > 10 and not keep[0]
    np.testing.assert_allclose(s, -0.3, atol=1e-12)


@settings(max_examples=12, deadline=None)
@given(K=st.integers(2, 5), n=st.integers(3, 25), seed=st.integers(0, 10_000))
def test_hh_quality_matches_naive(K, n, seed):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(0, 10, (K, n)), axis=1) + rng.uniform(-3, 3, (K, 1))
    X = X[:, rng.permutation(n)]
    Y = np.sin(X) + 0.05 * rng.standard_normal((K, n))
    dY = rng.uniform(0.02, 0.1, (K, n))
    X[0, : n // 3] = np.nan
    a, b = _core.hh_quality(X, Y, dY, 0.0), hh_quality_naive(X, Y, dY, 0.0)
    assert (np.isinf(a) and np.isinf(b)) or np.isclose(a, b, rtol=1e-9)


def test_hh_quality_near_one_for_true_master_curve():
    rng = np.random.default_rng(3)
    X = np.sort(rng.uniform(0, 5, (6, 200)), axis=1)
    dY = np.full(X.shape, 0.01)
    Y = 0.3 * X + dY * rng.standard_normal(X.shape)
    q = _core.hh_quality(X, Y, dY)
    assert 0.7 < q < 1.4
    assert _core.hh_quality(X, Y + np.arange(6)[:, None] * 0.1, dY) > 20

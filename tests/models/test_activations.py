"""Activations: values, derivatives, accurate differences, user functions, errors."""

import math

import numpy as np
import pytest

from absorbphys.models.activations import ACTIVATIONS, get_activation

REF = {
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "erf": (lambda x: np.vectorize(math.erf)(x), lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x)),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "hard_tanh": (lambda x: np.clip(x, -1, 1), lambda x: (np.abs(x) < 1) * 1.0),
    "sin": (np.sin, np.cos),
    "linear": (lambda x: x, np.ones_like),
}
X = np.array([-3.1, -1.2, -0.7, -0.05, 0.03, 0.4, 0.95, 1.7, 4.0])


def test_names_and_unknown_name_lists_valid_ones():
    assert ACTIVATIONS == ("tanh", "erf", "relu", "hard_tanh", "sin", "linear")
    with pytest.raises(ValueError, match="activation must be one of 'tanh', 'erf', 'relu'"):
        get_activation("softplus")
    with pytest.raises(TypeError, match="activation must be"):
        get_activation(3)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_values_and_derivatives(name):
    act = get_activation(name)
    f, df = REF[name]
    np.testing.assert_allclose([act.phi(x) for x in X], f(X), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(act.np_phi(X), f(X), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose([act.dphi(x) for x in X], df(X), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(act.np_dphi(X), df(X), rtol=1e-13, atol=1e-15)
    # second derivative against a central difference of the first (smooth ones)
    if act.smooth:
        h = 1e-5
        fd = (df(X + h) - df(X - h)) / (2 * h)
        np.testing.assert_allclose([act.d2phi(x) for x in X], fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(act.np_d2phi(X), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("d", [1e-300, 1e-200, 1e-40, 1e-12, 1e-6])
def test_difference_is_accurate_for_tiny_d(name, d):
    act = get_activation(name)
    f, df = REF[name]
    for a in X:
        for s in (d, -d):
            got = act.diff(a, s)
            # first-order Taylor: relative error <= |d| * |phi''/phi'| (+ rounding)
            want = df(np.array(a)) * s
            if want == 0:
                assert got == 0.0
            else:
                assert abs(got / want - 1) < 1e-13 + 10 * abs(s), (a, s, got, want)
            assert act.np_diff(np.array([a]), np.array([s]))[0] == pytest.approx(got, rel=1e-13)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_difference_for_large_d_matches_subtraction(name):
    act = get_activation(name)
    f, _ = REF[name]
    for a in X:
        for d in (-2.5, -0.3, 0.2, 1.1, 3.0):
            want = f(np.array(a + d)) - f(np.array(a))
            assert act.diff(a, d) == pytest.approx(want, rel=1e-12, abs=1e-15)
            assert act.np_diff(np.array(a), np.array(d)) == pytest.approx(want, rel=1e-12,
                                                                           abs=1e-15)


def test_piecewise_linear_difference_is_exact_or_exactly_zero_by_saturation():
    relu, ht = get_activation("relu"), get_activation("hard_tanh")
    assert relu.diff(1.0, 1e-300) == 1e-300          # would round to 0 by subtraction
    assert ht.diff(0.5, -3e-290) == -3e-290
    assert relu.diff(-1.0, 1e-300) == 0.0            # saturated: an exact zero
    assert ht.diff(2.0, 0.5) == 0.0
    assert ht.diff(0.9, 0.3) == pytest.approx(0.1, abs=1e-16)
    np.testing.assert_array_equal(relu.np_diff(np.array([1.0, -1.0]), np.array([1e-300] * 2)),
                                  [1e-300, 0.0])


def test_user_function_with_fallback_derivatives():
    def softsign(x):
        return x / (1.0 + abs(x))

    act = get_activation(softsign)
    assert act.code == -1 and act.name == "softsign"
    assert act.phi(1.0) == 0.5
    # finite-difference fallbacks
    assert act.dphi(1.0) == pytest.approx(0.25, rel=1e-8)
    assert act.d2phi(1.0) == pytest.approx(-0.25, rel=1e-5)
    assert act.diff(1.0, 1.0) == pytest.approx(2 / 3 - 0.5, rel=1e-14)
    np.testing.assert_allclose(act.np_phi(X), X / (1 + np.abs(X)))
    assert get_activation(softsign) is act
    # user-supplied derivative is used as given
    act2 = get_activation(softsign, dphi=lambda x: 1.0 / (1.0 + abs(x)) ** 2)
    assert act2.dphi(1.0) == 0.25


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_combined_phi_diff_used_by_kernels_agrees(name):
    from absorbphys.models.activations import act_phi_diff

    act = get_activation(name)
    for a in list(X) + [-200.0, 180.0]:
        for d in (-1e-280, 1e-17, -3e-9, 0.01, -0.7, 2.5, 0.0):
            p, e = act_phi_diff(act.code, a, d)
            assert p == pytest.approx(act.phi(a), rel=4e-16, abs=1e-300)
            assert e == pytest.approx(act.diff(a, d), rel=1e-14, abs=1e-300), (a, d)


def test_tanh_difference_keeps_relative_accuracy_in_saturation():
    act = get_activation("tanh")
    for a in (-15.0, 10.0, 25.0):
        sech2 = 4 * math.exp(-2 * abs(a)) / (1 + math.exp(-2 * abs(a))) ** 2
        for d in (1e-250, -1e-20):
            assert act.diff(a, d) == pytest.approx(sech2 * d, rel=1e-14)
            assert act.np_diff(np.array(a), np.array(d)) == pytest.approx(sech2 * d, rel=1e-14)


def test_fast_exponential_and_normal_pair_agree_with_libm():
    from numba import njit

    from absorbphys.kernels.rng import normal_pair
    from absorbphys.models._mlp_cpu import normal_pair_fast
    from absorbphys.models.activations import expm1_fast

    @njit
    def worst(xs, key, n):
        m = 0.0
        for x in xs:
            e, em = expm1_fast(x)
            m = max(m, abs(e / math.exp(x) - 1.0), abs(em / math.expm1(x) - 1.0))
        z = 0.0
        for i in range(n):
            a, b = normal_pair(key, i)
            c, d = normal_pair_fast(key, i)
            z = max(z, abs(a - c) / (1 + abs(a)), abs(b - d) / (1 + abs(b)))
        return m, z

    xs = np.random.default_rng(0).uniform(-1, 1, 20000) * np.logspace(-300, 2.8, 20000)
    m, z = worst(xs[xs != 0], np.uint64(11), 200000)
    assert m < 5e-16 and z < 5e-15


def test_vectorised_log_normal_pair_and_tanh_pair_agree_with_references():
    # the MLP Gaussian kernel's libm-free helpers, compiled as in the kernel (FMA allowed)
    from numba import njit

    from absorbphys.kernels.rng import normal_pair
    from absorbphys.models._mlp_cpu import log_u53, normal_pair_vec, tanh_pair_vec
    from absorbphys.models.activations import tanh_pair

    @njit(error_model="numpy", fastmath={"contract"})
    def vec(ks, a, d, key, n, lo, t1, t2, z):
        for i in range(ks.shape[0]):
            lo[i] = log_u53(ks[i])
        for i in range(a.shape[0]):
            t1[i], t2[i] = tanh_pair_vec(a[i], d[i])
        for i in range(n):
            z[i, 0], z[i, 1] = normal_pair_vec(key, i)

    @njit
    def ref(a, d, key, n, t1, t2, z):
        for i in range(a.shape[0]):
            t1[i], t2[i] = tanh_pair(a[i], d[i])
        for i in range(n):
            z[i, 0], z[i, 1] = normal_pair(key, i)

    g = np.random.default_rng(3)
    # u1 = 1 - k 2^-53 over every binade, both tails (u1 -> 1 and u1 -> 2^-53) included
    ks = [np.arange(4096, dtype=np.uint64), np.uint64(2**53 - 1) - np.arange(4096, dtype=np.uint64)]
    ks += [g.integers(2**b, 2**(b + 1), 500, dtype=np.uint64) for b in range(53)]
    ks = np.concatenate(ks)
    m = 200000
    a = g.standard_normal(m) * np.logspace(-300, 2.5, m)
    d = g.choice([-1.0, 1.0], m) * np.logspace(-300, 2.4, m)[g.permutation(m)]
    d[::101] = 0.0
    n = 100000
    out_v = [np.empty(len(ks)), np.empty(m), np.empty(m), np.empty((n, 2))]
    out_r = [np.empty(m), np.empty(m), np.empty((n, 2))]
    vec(ks, a, d, np.uint64(5), n, *out_v)
    ref(a, d, np.uint64(5), n, *out_r)
    want = np.log((np.uint64(2**53) - ks).astype(np.float64) * 2.0**-53)
    nz = want != 0
    assert np.all(out_v[0][~nz] == 0.0)
    assert np.max(np.abs(out_v[0][nz] - want[nz]) / np.spacing(np.abs(want[nz]))) <= 2
    for v, r in ((out_v[1], out_r[0]), (out_v[2], out_r[1])):
        big = np.abs(r) > 1e-290  # below: subnormal results, compared absolutely
        assert np.max(np.abs(v[big] - r[big]) / np.spacing(np.abs(r[big]))) <= 8
        assert np.max(np.abs(v[~big] - r[~big])) <= 1e-305
    assert np.array_equal(out_v[2] == 0.0, out_r[1] == 0.0) and np.all(out_v[2][d == 0.0] == 0.0)
    z = np.abs(out_v[3] - out_r[2]) / (1 + np.abs(out_r[2]))
    assert z.max() < 5e-15


def test_vectorised_erf_pair_agrees_with_libm_and_the_scalar_formulas():
    # the MLP Gaussian kernel's libm-free erf (fdlibm's rational approximations with selects)
    from numba import njit

    from absorbphys.models._mlp_cpu import erf_erfc_pos, erf_pair_vec
    from absorbphys.models.activations import ERF, act_phi_diff

    @njit(error_model="numpy", fastmath={"contract"})
    def vec(u, e, c, a, d, p, q):
        for i in range(u.shape[0]):
            e[i], c[i] = erf_erfc_pos(u[i])
        for i in range(a.shape[0]):
            p[i], q[i] = erf_pair_vec(a[i], d[i])

    @njit
    def ref(u, e, c, a, d, p, q):
        for i in range(u.shape[0]):
            e[i] = math.erf(u[i])
            c[i] = math.erfc(u[i])
        for i in range(a.shape[0]):
            p[i], q[i] = act_phi_diff(ERF, a[i], d[i])

    g = np.random.default_rng(4)
    # every piece of the approximation, its edges, the underflow of erfc and tiny arguments
    edges = [0.0, 0.25, 0.84375, 1.25, 1 / 0.35, 6.0, 27.2, 28.0, 40.0, 1e300]
    u = np.concatenate([g.uniform(0, 30, 100000), np.logspace(-310, 1.5, 20000), edges,
                        np.nextafter(edges, 0.0)])
    m = 100000
    a = g.standard_normal(m) * np.logspace(-300, 1.5, m)
    d = g.choice([-1.0, 1.0], m) * np.logspace(-300, 1.6, m)[g.permutation(m)]
    d[::101] = 0.0
    out_v = [np.empty(len(u)), np.empty(len(u)), np.empty(m), np.empty(m)]
    out_r = [np.empty(len(u)), np.empty(len(u)), np.empty(m), np.empty(m)]
    vec(u, *out_v[:2], a, d, *out_v[2:])
    ref(u, *out_r[:2], a, d, *out_r[2:])
    for v, r in zip(out_v, out_r):
        big = np.abs(r) > 1e-290  # below: subnormal results, compared absolutely
        assert np.max(np.abs(v[big] - r[big]) / np.spacing(np.abs(r[big]))) <= 6
        assert np.max(np.abs(v[~big] - r[~big]), initial=0.0) <= 1e-305
    assert np.array_equal(out_v[3] == 0.0, out_r[3] == 0.0) and np.all(out_v[3][d == 0.0] == 0.0)
    nan = np.full(1, np.nan)
    vec(nan, *[np.empty(1) for _ in range(2)], nan, nan, *[np.empty(1) for _ in range(2)])


def test_erf_difference_keeps_full_accuracy_at_tiny_d_and_large_a():
    # d -> 0: erf(a + d) - erf(a) = d 2/sqrt(pi) exp(-(a + d/2)^2) (1 + O(d^2)); the reference
    # splits a^2 exactly (a = ah + al, ah with 20 fractional bits), which libm exp(-a*a) does
    # not (2 a^2 ulp: ~1500 ulp at a = 27, the error of the previous quadrature)
    from absorbphys.models.activations import erf_gl

    act = get_activation("erf")
    g = np.random.default_rng(8)
    a = g.uniform(-27.0, 27.0, 2000)
    d = g.choice([-1.0, 1.0], 2000) * 10.0 ** g.uniform(-250, -40, 2000)
    ah = np.trunc(a * 2**20) / 2**20
    al = a - ah
    want = d * (2 / math.sqrt(math.pi)) * np.exp(-ah * ah) * np.exp(-(2 * ah + al) * al)
    ok = np.abs(want) > 1e-290
    for got in (np.array([erf_gl(x, y) for x, y in zip(a, d)]),
                np.array([act.diff(x, y) for x, y in zip(a, d)]), act.np_diff(a, d)):
        err = np.abs(got[ok] - want[ok]) / np.spacing(np.abs(want[ok]))
        assert err.max() <= 6, err.max()

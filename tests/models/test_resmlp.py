"""Residual MLP: schema, exactness, agreement with explicit weights, infinite-width maps, errors."""

import math
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import xarray as xr

import absorbphys as ap
from absorbphys.kernels import rng as _rng
from absorbphys.models import meanfield as mf
from absorbphys.models.resmlp import ResMLP

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import naive  # noqa: E402


def per_sample(proc, t_max, samples, init="full", seed=0, **kw):
    return ap.simulate(proc, t_max, samples=samples, batches=samples, init=init, seed=seed,
                       **kw)


def _strip(ds):
    ds = ds.copy()
    ds.attrs.pop("created", None)
    return ds


# ------------------------------------------------------------------ references
def naive_resmlp_gaussian(width, sigma_w, sigma_b, alpha, phi, t_max, q0, rho0, seed, sample):
    """The exact transition through the 2x2 Cholesky factor of the branch covariance.

    Given layer l, (u_i, u'_i) ~ N(0, alpha^2 (sigma_w^2/N Gram(phi(h), phi(h')) + sigma_b^2)),
    drawn as u = L11 z1, u' = L21 z1 + L22 z2 with (z1, z2) = normal_pair(step_key(dyn, t), i),
    then h += u, h' += u'. The kernel propagates d = h' - h instead: same numbers.
    """
    n = width
    h, hp = naive._net_init(seed, sample, n, q0, rho0)
    kd = np.uint64(_rng.sample_key(seed, sample, _rng.STREAM_DYNAMICS))
    rho = [naive._one_minus_c(h, hp)]
    a2 = alpha ** 2
    for t in range(t_max):
        a, ap_ = phi(h), phi(hp)
        q11 = a2 * (sigma_w ** 2 / n * a @ a + sigma_b ** 2)
        q12 = a2 * (sigma_w ** 2 / n * a @ ap_ + sigma_b ** 2)
        q22 = a2 * (sigma_w ** 2 / n * ap_ @ ap_ + sigma_b ** 2)
        L11 = np.sqrt(q11)
        L21 = q12 / L11
        L22 = np.sqrt(max(q22 - L21 ** 2, 0.0))
        key = np.uint64(_rng.step_key(kd, np.uint64(t)))
        z = np.array([_rng.normal_pair(key, np.uint64(i)) for i in range(n)])
        h, hp = h + L11 * z[:, 0], hp + L21 * z[:, 0] + L22 * z[:, 1]
        rho.append(naive._one_minus_c(h, hp))
    return np.array(rho)


def weights_resmlp(width, sigma_w, sigma_b, t_max, samples, c0, q0=1.0, alpha=1.0, seed=0):
    """Explicit weights, the obvious way (NumPy's generator, all samples at once).

    Returns rho of shape (samples, t_max + 1): h += alpha (W tanh(h) + b) with a fresh
    W ~ N(0, sigma_w^2/N) and b ~ N(0, sigma_b^2) per layer and sample, shared by both
    replicas.
    """
    g = np.random.default_rng(seed)
    n = width
    z1, z2 = g.standard_normal((2, samples, n))
    h = math.sqrt(q0) * z1
    hp = c0 * h + math.sqrt(1.0 - c0 * c0) * math.sqrt(q0) * z2

    def rho(h, hp):
        return 1.0 - np.einsum("si,si->s", h, hp) / np.sqrt(
            np.einsum("si,si->s", h, h) * np.einsum("si,si->s", hp, hp))

    out = [rho(h, hp)]
    for _ in range(t_max):
        W = g.standard_normal((samples, n, n)) * (sigma_w / math.sqrt(n))
        b = g.standard_normal((samples, n)) * sigma_b
        h, hp = (h + alpha * (np.einsum("sij,sj->si", W, np.tanh(h)) + b),
                 hp + alpha * (np.einsum("sij,sj->si", W, np.tanh(hp)) + b))
        out.append(rho(h, hp))
    return np.array(out).T


def _max_deviation(x, y):
    """Largest |mean difference| over layers in combined standard errors."""
    se = np.sqrt(x.var(0, ddof=1) / len(x) + y.var(0, ddof=1) / len(y))
    return float(np.max(np.abs(x.mean(0) - y.mean(0)) / se))


# ------------------------------------------------------------------ schema, reproducibility
def test_schema_and_registry():
    assert ap.get_model("resmlp") is ResMLP
    p = ResMLP(16, 1.4, 0.3)
    ds = ap.simulate(p, 12, samples=6, batches=3, seed=1)
    for var in ("rho", "rho2", "survival"):
        assert ds[var].dims == ("batch", "t") and ds[var].attrs.get("long_name")
    assert ds.attrs["model"] == "resmlp" and ds.attrs["size"] == 16
    assert ds["t"].attrs["time_unit"] == "layer"
    assert np.all((ds.rho > 0) & (ds.rho <= 2)) and np.all(ds.survival == 1)
    seeded = ap.simulate(p, 12, samples=6, batches=3, init="seed", seed=1)
    assert seeded.n_active.dims == ("batch", "t")
    # 1 - c of N = 16 units scatters around seed_rho (chi-square ratio of the input draws)
    assert np.all((seeded.rho.values[:, 0] > 1e-7) & (seeded.rho.values[:, 0] < 1e-5))
    assert ResMLP.control == "sigma_w" and ResMLP.size_param == "width"
    assert p.is_absorbed(1e-13) and not p.is_absorbed(1e-11)


def test_save_load_round_trip(tmp_path):
    ds = ap.simulate(ResMLP(16, 1.4, 0.3), 6, samples=4, batches=2, seed=3)
    xr.testing.assert_identical(ds, ap.load(ap.save(ds, tmp_path / "r.nc")))


def test_seed_threads_and_batches():
    p = ResMLP(64, 1.2, 0.3)
    run = dict(t_max=40, samples=6, batches=3, init=0.5, times="log")
    a, b = ap.simulate(p, seed=7, **run), ap.simulate(p, seed=7, **run)
    xr.testing.assert_identical(_strip(a), _strip(b))
    assert not np.array_equal(a.rho.values, ap.simulate(p, seed=8, **run).rho.values)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = ap.simulate(p, seed=7, **run)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = ap.simulate(p, seed=7, **run)
    finally:
        numba.set_num_threads(old)
    xr.testing.assert_identical(_strip(one), _strip(two))
    fine = ap.simulate(p, seed=7, **{**run, "batches": 6})
    coarse = ap.simulate(p, seed=7, **{**run, "batches": 1})
    np.testing.assert_allclose(fine.rho.mean("batch").values, coarse.rho.values[0],
                               rtol=1e-12)


# ------------------------------------------------------------------ exactness, distribution
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_kernel_matches_naive_cholesky_reference(act):
    phi = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}[act]
    p = ResMLP(16, 1.3, 0.3, alpha=0.7, activation=act, q0=0.8)
    ds = per_sample(p, 6, 2, init=0.2, seed=5)
    for s in range(2):
        want = naive_resmlp_gaussian(16, 1.3, 0.3, 0.7, phi, 6, 0.8, 0.8, seed=5, sample=s)
        np.testing.assert_allclose(ds.rho.values[s], want, rtol=1e-9)


def test_gaussian_transition_agrees_with_explicit_weights_in_distribution():
    n, t_max, samples = 16, 12, 3000
    gauss = per_sample(ResMLP(n, 1.5, 0.3), t_max, samples, init=0.9, seed=21).rho.values
    w = weights_resmlp(n, 1.5, 0.3, t_max, samples, c0=0.9, seed=22)
    assert _max_deviation(gauss, w) < 4.0
    # ... and the comparison has the power to see a 20 % different sigma_w
    other = weights_resmlp(n, 1.2, 0.3, t_max, samples, c0=0.9, seed=23)
    assert _max_deviation(gauss, other) > 4.0


def test_identical_inputs_stay_identical_and_alpha_zero_is_the_identity():
    same = per_sample(ResMLP(32, 1.5, 0.3), 5, 2, init=1.0)
    assert np.all(same.rho.values == 0.0) and np.all(same.survival.values == 0.0)
    ident = per_sample(ResMLP(32, 1.5, 0.3, alpha=0.0), 5, 2, init=0.5)
    assert np.all(ident.rho.values == ident.rho.values[:, :1])


def test_difference_form_stays_accurate_at_1e_minus_200():
    kw = dict(width=128, sigma_w=1.5, sigma_b=0.3)
    tiny = per_sample(ResMLP(**kw, seed_rho=1e-200), 8, 2, init="seed").rho.values
    small = per_sample(ResMLP(**kw, seed_rho=1e-100), 8, 2, init="seed").rho.values
    assert np.all(tiny > 0) and np.all(tiny < 1e-190)
    np.testing.assert_allclose(tiny / small, 1e-100, rtol=1e-8)


def test_float32():
    r64 = per_sample(ResMLP(512, 1.5, 0.3), 6, 8, seed=3).rho.values
    r32 = per_sample(ResMLP(512, 1.5, 0.3, dtype="float32"), 6, 8, seed=3).rho.values
    np.testing.assert_allclose(r32, r64, rtol=1e-4)


def test_user_activation_matches_builtin():
    def mytanh(x):
        return math.tanh(x)

    def mydiff(a, d):
        return math.tanh(d) * (1.0 - math.tanh(a) * math.tanh(a + d))

    from absorbphys.models.activations import get_activation

    act = get_activation(mytanh, diff=mydiff)
    a = per_sample(ResMLP(64, 1.4, 0.3, activation=act), 5, 2, seed=9).rho.values
    b = per_sample(ResMLP(64, 1.4, 0.3), 5, 2, seed=9).rho.values
    np.testing.assert_allclose(a, b, rtol=1e-12)


# ------------------------------------------------------------------ infinite width
def test_finite_width_follows_the_infinite_width_map():
    sw, sb, n, t = 1.0, 0.3, 4096, 10
    want, q = mf.resmlp_trajectory(sw, sb, "tanh", t, rho0=0.5)
    assert np.all(np.diff(q) > 0)  # no fixed point: the variance grows every layer
    r = per_sample(ResMLP(n, sw, sb), t, 48, init=0.5, seed=1).rho.values
    m, se = r.mean(0), r.std(0, ddof=1) / math.sqrt(len(r))
    # 4 standard errors plus 0.5 % for the O(1/N) bias
    assert np.all(np.abs(m - want) < 4 * se + 0.005 * want), ((m - want) / se)


def test_maps_closed_forms_and_consistency():
    # linear: q grows by alpha^2 (sigma_w^2 q + sigma_b^2); c of h is then exactly conserved
    # up to the bias: rho_{l+1} = (q rho + alpha^2 sigma_w^2 q rho) / q_{l+1}
    q, sw, sb, a = 2.0, 0.7, 0.3, 0.5
    qn = mf.resmlp_q_map(q, sw, sb, "linear", alpha=a)
    assert qn == pytest.approx(q + a * a * (sw * sw * q + sb * sb), rel=1e-14)
    assert mf.resmlp_rho_map(0.3, q, sw, sb, "linear", alpha=a) == pytest.approx(
        q * 0.3 * (1 + a * a * sw * sw) / qn, rel=1e-14)
    # erf: E[erf u1 erf u2] = 2/pi arcsin(2 q c / (1 + 2 q)); tanh: correlation vs rho map
    for q in (0.5, 30.0, 1e4):
        for c in (-0.5, 0.2, 0.9):
            x = 2 * q / (1 + 2 * q)
            cross = 2 / math.pi * math.asin(x * c)
            qn = q + 1.3 ** 2 * 2 / math.pi * math.asin(x) + 0.3 ** 2
            want = (q * c + 1.3 ** 2 * cross + 0.3 ** 2) / qn
            got = mf.resmlp_correlation_map(c, q, 1.3, 0.3, "erf")
            assert got == pytest.approx(want, abs=1e-11), (q, c)
    # relu (closed form) agrees with the quadrature of the same function given as a user one
    from absorbphys.models.activations import get_activation

    def relu(x):
        return x if x > 0.0 else 0.0

    user = get_activation(relu, breakpoints=(0.0,))
    for q in (0.3, 1e6):
        for rho in (1e-6, 0.3, 1.5):
            np.testing.assert_allclose(mf.resmlp_rho_map(rho, q, 1.2, 0.3, user),
                                       mf.resmlp_rho_map(rho, q, 1.2, 0.3, "relu"), rtol=1e-9)
    # difference form: tiny rho maps linearly
    r1 = mf.resmlp_rho_map(1e-200, 50.0, 1.5, 0.3)
    r2 = mf.resmlp_rho_map(1e-100, 50.0, 1.5, 0.3)
    assert r1 / r2 == pytest.approx(1e-100, rel=1e-8)
    # the replica distance q rho never decreases
    rho, q = mf.resmlp_trajectory(0.2, 0.3, "tanh", 20, rho0=1.0)
    assert np.all(np.diff(rho * q) >= 0) and np.all(np.diff(rho) < 0)


# ------------------------------------------------------------------ overflow, errors
def test_overflow_refused_before_work_and_bounded_activations_never():
    p = ResMLP(64, 2.0, 0.3, activation="relu")
    layer = mf.resmlp_overflow_layer(2.0, 0.3, "relu", 1.0, 10**6)
    assert layer == math.ceil(math.log(1e100) / math.log(3.0))  # q grows by 3 per layer
    with pytest.raises(ValueError, match=rf"t_max: .* at layer {layer}; use t_max <= "
                                         rf"{layer - 1}") as e:
        ap.simulate(p, layer)
    assert "\n" not in str(e.value)
    ok = ap.simulate(p, layer - 1, samples=2)
    assert np.all(np.isfinite(ok.rho.values)) and np.all(ok.rho.values < 2)
    assert mf.resmlp_overflow_layer(1e12, 1e12, "tanh", 1e24, 2**62, alpha=1e3) is None

    def relu(x):
        return x if x > 0.0 else 0.0

    user = mf.resmlp_overflow_layer(2.0, 0.3, relu, 1.0, 10**6)
    assert layer - 2 <= user <= layer  # the stepping integrator is conservative

    def softsign(x):
        return x / (1.0 + abs(x))

    assert mf.resmlp_overflow_layer(3.0, 0.3, softsign, 1.0, 10**9) is None


@pytest.mark.parametrize("kw,match", [
    (dict(width=1), r"width must be an integer in \[2, inf\), got 1"),
    (dict(sigma_w=-0.5), r"sigma_w must be in \[0, 1e\+12\], got -0.5"),
    (dict(sigma_b=-1.0), r"sigma_b must be in \[0, 1e\+12\], got -1"),
    (dict(alpha=-1.0), r"alpha must be in \[0, 1000\], got -1"),
    (dict(alpha=2e3), r"alpha must be in \[0, 1000\], got 2000"),
    (dict(q0=0.0), r"q0 must be in \(0, 1e\+24\], got 0"),
    (dict(activation="softplus"), "activation must be one of 'tanh'"),
    (dict(dtype="float16"), "dtype must be one of 'float64', 'float32'"),
    (dict(seed_rho=0.0), r"seed_rho must be in \(0, 2\], got 0"),
])
def test_bad_parameters_give_one_line_errors(kw, match):
    args = dict(width=8, sigma_w=1.0, sigma_b=0.1) | kw
    with pytest.raises(ValueError, match=match) as e:
        ResMLP(**args)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("call,match", [
    (lambda: mf.resmlp_q_map(-1.0, 1.0, 0.3), r"q must be in \[0, 1e\+100\], got -1"),
    (lambda: mf.resmlp_rho_map(2.5, 1.0, 1.0, 0.3), r"rho must be in \[0, 2\]"),
    (lambda: mf.resmlp_correlation_map(1.5, 1.0, 1.0, 0.3), r"c must be in \[-1, 1\]"),
    (lambda: mf.resmlp_q_map(1.0, 1.0, 0.3, alpha=-2), r"alpha must be in \[0, 1000\]"),
    (lambda: mf.resmlp_trajectory(1.0, 0.3, t_max=5, q0=0.0), r"q0 must be in \(0, 1e\+24\]"),
    (lambda: mf.resmlp_trajectory(2.0, 0.3, "relu", t_max=10**4),
     r"t_max: with activation 'relu'"),
])
def test_bad_map_arguments_give_one_line_errors(call, match):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert "\n" not in str(e.value)

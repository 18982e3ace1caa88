"""Infinite-width theory: critical line, q*, chi1, kappa, maps, MeanFieldNetwork process."""

import math

import numpy as np
import pytest

import absorbphys as ap
from absorbphys.models import meanfield as mf

# ../shared/REFERENCES.md (Gauss-Hermite 201 nodes; sigma_b = 1 agrees to 2e-7)
TABLE = [(0.0, 1.0, 0.0), (0.05, 1.122539, 0.153692), (0.1, 1.193401, 0.273301),
         (0.3, 1.395584, 0.763475), (0.5, 1.549674, 1.317939), (1.0, 1.855589, 3.036396)]


@pytest.mark.parametrize("sb,swc,qs", TABLE)
def test_tanh_critical_line_table(sb, swc, qs):
    got = mf.critical_sigma_w(sb)
    assert got == pytest.approx(swc, abs=1.5e-6)
    assert mf.q_star(got, sb) == pytest.approx(qs, abs=2e-5 if sb == 1.0 else 2e-6)
    assert mf.chi1(got, sb) == pytest.approx(1.0, abs=1e-10)


def test_reference_values_sigma_b_03_and_phases():
    assert mf.critical_sigma_w(0.3) == pytest.approx(1.395584, abs=1e-6)
    assert mf.q_star(1.395584, 0.3) == pytest.approx(0.763475, abs=2e-6)
    assert mf.kappa(0.3) == pytest.approx(0.23350, abs=5e-6)
    assert mf.chi1(1.2, 0.3) < 1 < mf.chi1(1.6, 0.3)
    line = mf.critical_line([0.0, 0.3, 0.5, 1.0])
    assert line.dims == ("sigma_b",) and line.name == "sigma_w_c"
    np.testing.assert_array_equal(line["sigma_b"], [0.0, 0.3, 0.5, 1.0])
    np.testing.assert_allclose(line.values, [1.0, 1.395584, 1.549674, 1.855589], atol=2e-6)
    assert float(mf.critical_line(0.3)[0]) == mf.critical_sigma_w(0.3)
    with pytest.raises(ValueError, match="sigma_b_values: one value or a 1-d list"):
        mf.critical_line([[0.0, 0.3], [0.5, 1.0]])


def test_critical_line_plots_as_a_phase_diagram():
    import matplotlib

    matplotlib.use("Agg")
    from absorbphys.analysis import plot_phase_diagram

    fig, ax = plot_phase_diagram(mf.critical_line([0.1, 0.3, 0.5]))
    assert ax.get_xlabel() == "sigma_b"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.1, 0.3, 0.5])
    fig.clf()


def test_analytic_cases_relu_erf_linear():
    # relu: chi1 = sigma_w^2 / 2 for any q > 0; q* = sigma_b^2 / (1 - sigma_w^2 / 2)
    assert mf.critical_sigma_w(0.3, "relu") == pytest.approx(math.sqrt(2), rel=1e-9)
    assert mf.q_star(1.0, 0.3, "relu") == pytest.approx(0.09 / 0.5, rel=1e-10)
    assert mf.q_star(1.5, 0.3, "relu") == math.inf
    # sigma_b = 0: chi1 = 1 + O((sigma_w - sigma_w,c)^2) on the q* > 0 branch (ill-conditioned)
    assert mf.critical_sigma_w(0.0, "erf") == pytest.approx(math.sqrt(math.pi) / 2, rel=1e-7)
    assert mf.critical_sigma_w(0.2, "linear") == pytest.approx(1.0, rel=1e-9)
    # erf: E[erf(u1) erf(u2)] = 2/pi arcsin(2 q12 / (1 + 2 q))
    sw, sb = 1.3, 0.2
    q = mf.q_star(sw, sb, "erf")
    assert q == pytest.approx(sw**2 * 2 / np.pi * np.arcsin(2 * q / (1 + 2 * q)) + sb**2,
                              rel=1e-12)
    c = np.array([-0.5, 0.0, 0.5, 0.9, 0.999])
    want = (sw**2 * 2 / np.pi * np.arcsin(2 * q * c / (1 + 2 * q)) + sb**2) / q
    np.testing.assert_allclose(mf.correlation_map(c, sw, sb, "erf"), want, rtol=1e-11)


def test_relu_and_hard_tanh_maps_with_kinks():
    # relu arc-cosine kernel: E[relu(u1) relu(u2)] = q/(2 pi) (sin t + (pi - t) cos t)
    sw, sb = 1.2, 0.4
    q = mf.q_star(sw, sb, "relu")
    c = np.array([0.0, 0.5, 0.9, 0.99])
    t = np.arccos(c)
    want = (sw**2 * q / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t)) + sb**2) / q
    np.testing.assert_allclose(mf.correlation_map(c, sw, sb, "relu"), want, rtol=1e-9)
    # hard_tanh against brute-force Monte Carlo (1e6 pairs, standard error ~1e-3)
    rng = np.random.default_rng(0)
    sw, sb, c0 = 1.2, 0.3, 0.6
    q = mf.q_star(sw, sb, "hard_tanh")
    z1, z2 = rng.standard_normal((2, 1_000_000))
    u1 = np.sqrt(q) * z1
    u2 = np.sqrt(q) * (c0 * z1 + np.sqrt(1 - c0**2) * z2)
    mc = (sw**2 * np.mean(np.clip(u1, -1, 1) * np.clip(u2, -1, 1)) + sb**2) / q
    assert mf.correlation_map(c0, sw, sb, "hard_tanh") == pytest.approx(mc, abs=4e-3)


def test_rho_map_difference_form_is_accurate_to_1e_minus_300():
    sw, sb = 1.2, 0.3
    x1 = mf.chi1(sw, sb)
    for r in (1e-300, 1e-200, 1e-30):
        assert mf.rho_map(r, sw, sb) / r == pytest.approx(x1, rel=1e-12)
    # relu: slope chi1 = sw^2/2 exactly in the linear regime
    assert mf.rho_map(1e-250, 1.2, 0.3, "relu") / 1e-250 == pytest.approx(0.72, rel=1e-6)
    assert mf.correlation_map(1.0, sw, sb) == 1.0


def test_depth_scale_diverges_at_the_critical_line():
    swc = mf.critical_sigma_w(0.3)
    assert mf.depth_scale(1.2, 0.3) == pytest.approx(-1 / math.log(mf.chi1(1.2, 0.3)))
    near = [mf.depth_scale(swc * (1 - e), 0.3) for e in (0.1, 0.01, 0.001)]
    assert near[0] < near[1] < near[2] and near[2] > 100
    far = [mf.depth_scale(swc * (1 + e), 0.3) for e in (0.1, 0.01)]
    assert np.all(np.isfinite(far)) and far[0] < far[1]


def test_kappa_amplitude_from_the_map_at_criticality():
    swc, k = mf.critical_sigma_w(0.3), mf.kappa(0.3)
    rho, _ = mf.mean_field_trajectory(swc, 0.3, "tanh", 2000, 1.0)
    lrk = np.arange(2001) * rho * k
    # l rho(l) -> 1/kappa with O(ln l / l) corrections
    assert abs(lrk[2000] - 1) < 0.01
    assert abs(lrk[2000] - 1) < abs(lrk[500] - 1) < abs(lrk[100] - 1)
    with pytest.raises(ValueError, match="kappa needs a twice-differentiable"):
        mf.kappa(0.3, "relu")


def test_mean_field_network_process():
    p = mf.MeanFieldNetwork(1.5, 0.3)
    ds = ap.simulate(p, 20, samples=3, init=0.5)
    assert ds.attrs["model"] == "mf_network" and ds.attrs["size"] == 0
    assert ds.attrs["init"] == "c0=0.5" and ds.attrs["time_unit"] == "layer"
    np.testing.assert_allclose(ds.rho.values[:, 0], 0.5)
    r = ds.rho.values[0]
    assert r[1] == pytest.approx(mf.rho_map(0.5, 1.5, 0.3), rel=1e-14)
    assert np.all(ds.survival.values == 1)
    seed = ap.simulate(mf.MeanFieldNetwork(1.0, 0.3, eps=1e-8), 200, init="seed")
    s = seed.survival.values[0]
    assert s[0] == 1 and s[-1] == 0 and "n_active" not in seed
    assert ap.simulate(mf.MeanFieldNetwork(0.0, 0.3), 3).rho.values[0, 1] == 0.0
    with pytest.raises(ValueError, match=r"init c0 must be in \[-1, 1\], got 1.5"):
        ap.simulate(p, 3, init=1.5)
    with pytest.raises(ValueError, match="sigma_w must be"):
        mf.MeanFieldNetwork(-1.0, 0.3)
    with pytest.raises(ValueError, match="sigma_b must be"):
        mf.q_star(1.0, -0.1)

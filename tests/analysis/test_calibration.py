"""Coverage of the error bars over seeds, and the one verdict rule.

An error bar is a claim about frequencies: over independent seeds the 2-sigma interval must hold
the reference value in about 95 % of them. These tests run cheap estimators over fixed seeds on
processes (or exact scaling forms) with known answers and check the frequency and the bias in
units of the reported error; the estimators' old forms fail them (shown where stated). The full
calibration on the reference models is ``benchmarks/calibrate.py`` (``docs/validation.md``).
"""

import numpy as np
import pytest
import synth
import xarray as xr

import absorbphys as ap
from absorbphys._benchmark import classify_groups
from absorbphys.analysis import Estimate, classify, decide, fit_beta, fit_power_law, kappa

BETA_DP1 = 0.276486      # Jensen (1999)
DELTA_DP1 = 0.159464     # Jensen (1999)
P_C_BOND = 0.644700185   # Jensen (1999)


def coverage(values, errors, ref):
    """Fraction of seeds within 1 and 2 errors, and the mean bias in units of the error."""
    v, e = np.asarray(values), np.asarray(errors)
    z = (v - ref) / e
    return np.mean(np.abs(z) <= 1), np.mean(np.abs(z) <= 2), float(np.mean(z))


# --------------------------------------------------------------------------- one rule
VERDICT_CASES = [
    ({"delta": Estimate(0.1595, 0.004), "delta_prime": Estimate(0.159, 0.004),
      "theta": Estimate(0.313, 0.006), "z": Estimate(1.58, 0.02),
      "beta": Estimate(0.2765, 0.008)}, 1, "L"),
    ({"delta": Estimate(0.1595, 0.004), "delta_prime": Estimate(0.159, 0.004),
      "theta": Estimate(0.313, 0.006), "z": Estimate(1.58, 0.02)}, 1, "L"),
    ({"delta": Estimate(1.0, 0.05), "a": Estimate(0.98, 0.1), "b": Estimate(1.02, 0.1)},
     0, "N"),
    ({"delta": Estimate(0.7, 0.01), "theta": Estimate(0.6, 0.01)}, 1, "L"),
    ({"delta": Estimate(0.16, 0.01)}, 1, "L"),
]


@pytest.mark.parametrize("est,dim,size_kind", VERDICT_CASES)
def test_one_verdict_rule_for_benchmark_and_classify(est, dim, size_kind):
    d = decide(est, dim=dim, size_kind=size_kind)
    bench = {{"z": "z_spreading", "a": "fss_a", "b": "fss_b"}.get(k, k): v
             for k, v in est.items()}
    g = classify_groups(bench, dim=dim, size_kind=size_kind)
    v = classify(estimates=est, dim=dim)
    assert (g["verdict"], g["best"], g["runner_up"]) == (d["verdict"], d["best"],
                                                         d["runner_up"])
    assert (v.status, v.best, v.runner_up) == (d["verdict"], d["best"], d["runner_up"])
    assert v.reason == d["reason"] and set(v.groups) == set(d["groups"])
    assert "group " in str(v)


def test_verdict_outcomes():
    match, sep, mf, bad, one = (decide(e, dim=d, size_kind=s) for e, d, s in VERDICT_CASES)
    assert match["verdict"] == "match" and match["best"] == "dp_1d"
    # beta excludes Manna 1+1; without it the data cannot separate the two
    assert sep["verdict"] == "inconclusive" and "cannot separate" in sep["reason"]
    assert mf["verdict"] == "match" and mf["best"] == "mean_field_multiplicative"
    assert mf["family"] == "mean field"
    assert bad["verdict"] == "no match"
    assert one["verdict"] == "inconclusive" and "one independent group" in one["reason"]


# --------------------------------------------------------------------------- decay fits
@pytest.fixture(scope="module")
def dp_decays():
    """1+1 bond DP at its critical point, 20 independent seeds (L = 2048, t <= 2048)."""
    from absorbphys.models import DirectedPercolation

    proc = DirectedPercolation(L=2048, p=P_C_BOND)
    return [ap.simulate(proc, t_max=2048, samples=16, times="log", seed=100 + k)
            for k in range(20)]


def test_decay_fit_covers_dp_delta(dp_decays):
    fits = [fit_power_law(ds) for ds in dp_decays]
    v = [float(f.delta) for f in fits]
    e = [float(f.delta_error) for f in fits]
    c1, c2, bias = coverage(v, e, DELTA_DP1)
    assert c2 >= 0.9 and abs(bias) <= 0.5, (c1, c2, bias)
    # the window part is a measured drift, not a blanket inflation: noise alone adds little
    syst = np.array([float(f.delta_window_syst) for f in fits])
    assert np.median(syst / np.asarray(e)) < 0.8


def test_decay_window_systematic_covers_corrections():
    # rho = t^-delta (1 + a t^-0.5): strong corrections; the pure fit's jackknife error alone
    # misses delta in most seeds, the drift across the window restores the coverage
    t = synth.log_times(2000, n=60)
    f = synth.power_law(0.3, 1.0, a=-1.0, omega=0.5)
    v, e, stat = [], [], []
    for seed in range(20):
        r = fit_power_law(synth.make(f, t, noise=0.3, seed=seed))
        v.append(float(r.delta))
        e.append(float(r.delta_error))
        stat.append(np.sqrt(float(r.delta_error) ** 2 - float(r.delta_window_syst) ** 2))
    assert coverage(v, stat, 0.3)[1] < 0.5          # the old error bar
    c1, c2, bias = coverage(v, e, 0.3)
    assert c2 >= 0.9, (c1, c2, bias)


# --------------------------------------------------------------------------- beta
def _stationary(seed, deltas, noise=0.004, batches=8):
    """Stationary densities with 1+1 DP's corrections to scaling (REFERENCES.md's table:
    local beta 0.2756, 0.2711, 0.2644, 0.2539 between Delta = 0.0025 ... 0.04)."""
    rng = np.random.default_rng(seed)
    x = P_C_BOND + np.asarray(deltas)
    rho_s = 1.37 * np.asarray(deltas) ** BETA_DP1 * np.exp(-0.85 * np.asarray(deltas))
    t = np.arange(1, 11) * 1000.0
    vals = rho_s[None, :, None] * (1 + noise * rng.standard_normal((batches, len(x), 1))
                                   + 0.1 * noise * rng.standard_normal((batches, len(x),
                                                                        len(t))))
    return xr.Dataset({"rho": (("batch", "p", "t"), vals)},
                      coords={"p": x, "t": t, "n_samples": ("batch", np.ones(batches))},
                      attrs={"control": "p"})


def test_fit_beta_correction_covers_dp_beta():
    deltas = P_C_BOND * np.array([0.006, 0.01, 0.015, 0.02, 0.03, 0.04])
    new, old = [], []
    for seed in range(20):
        ds = _stationary(seed, deltas)
        new.append(fit_beta(ds, (P_C_BOND, 1e-4), t_min=5000))
        old.append(fit_beta(ds, (P_C_BOND, 1e-4), t_min=5000, correction=False))
    c1, c2, bias = coverage([float(r.beta) for r in new], [float(r.beta_error) for r in new],
                            BETA_DP1)
    assert c2 >= 0.9 and abs(bias) <= 0.5, (c1, c2, bias)
    assert all(r.attrs["correction"] == 1 and float(r.beta_model_syst) > 0 for r in new)
    # the pure power law at these distances: beta_eff ~ 0.267, too often outside its
    # statistical errors; the drift of the local exponent in its error restores the coverage
    stat = [np.sqrt(float(r.beta_error) ** 2 - float(r.beta_model_syst) ** 2) for r in old]
    c1, c2, bias = coverage([float(r.beta) for r in old], stat, BETA_DP1)
    assert c2 < 0.9 and bias < -1
    assert np.mean([float(r.beta) for r in old]) < BETA_DP1 - 0.005
    c1, c2, bias = coverage([float(r.beta) for r in old], [float(r.beta_error) for r in old],
                            BETA_DP1)
    assert c2 >= 0.9, (c1, c2, bias)


def test_fit_beta_model_systematic_shrinks_when_the_data_pin_omega_down():
    """Farther points (the quick benchmark's dp1d offsets reach 8 %) tell the correction
    exponents apart: the omegas the data reject leave the model systematic, which then
    shrinks, while the error bars still cover. The spread over a fixed omega range grew
    with the range instead (here 0.0056 -> 0.0088; 0.0052 -> 0.0103 on real 1+1 DP data)."""
    narrow = P_C_BOND * np.array([0.006, 0.01, 0.015, 0.02, 0.03, 0.04])
    wide = P_C_BOND * np.array([0.006, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08])
    res = {"narrow": [], "wide": []}
    for seed in range(20):
        for name, deltas in (("narrow", narrow), ("wide", wide)):
            res[name].append(fit_beta(_stationary(seed, deltas, noise=0.002),
                                      (P_C_BOND, 1e-4), t_min=5000))
    model = {k: np.median([float(r.beta_model_syst) for r in v]) for k, v in res.items()}
    assert model["wide"] < 0.5 * model["narrow"], model
    c1, c2, bias = coverage([float(r.beta) for r in res["wide"]],
                            [float(r.beta_error) for r in res["wide"]], BETA_DP1)
    assert c2 >= 0.9 and abs(bias) <= 0.5, (c1, c2, bias)


# --------------------------------------------------------------------------- kappa
def test_kappa_correction_on_the_infinite_width_map():
    """The MLP's infinite-width map at sigma_w,c: 1/(rho t) is still 5 % below kappa at
    t = 100; the corrected fit recovers kappa, the plain average does not."""
    from absorbphys.models import meanfield as mf

    sb = 0.3
    ref = mf.kappa(sb)
    rho = np.asarray(mf.mean_field_trajectory(mf.critical_sigma_w(sb), sb, "tanh", 2048,
                                              1.0))[0]
    t = synth.log_times(2048, n=80)
    new, old = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        vals = rho[t][None] * (1 + 0.01 * rng.standard_normal((8, 1))
                               + 0.002 * rng.standard_normal((8, len(t))))
        ds = xr.Dataset({"rho": (("batch", "t"), vals)},
                        coords={"t": t, "n_samples": ("batch", np.ones(8))})
        new.append(kappa(ds))
        old.append(kappa(ds, correction=False))
    c1, c2, bias = coverage([float(k.kappa) for k in new], [float(k.kappa_error) for k in new],
                            ref)
    assert c2 >= 0.9 and abs(bias) <= 0.5, (c1, c2, bias)
    c1, c2, bias = coverage([float(k.kappa) for k in old], [float(k.kappa_error) for k in old],
                            ref)
    assert c2 < 0.5 and bias < -2


# --------------------------------------------------------------------------- critical point
def test_critical_point_through_several_values_is_not_biased():
    # 1+1 DP sweeps as benchmarks/calibrate.py's dp1d_critical_point_4 (40 seeds there).
    # Across 6 grid values the curvature is far from linear in p: a straight line through
    # them put p_c +2.7 of its errors above the truth on average (cov2 0.38 over 40 seeds;
    # on these 12: +3.5, cov2 0.25); the quadratic fit gives +0.2 (cov2 0.95; on these 12:
    # -0.03, cov2 0.92; the mean of 12 seeds scatters by about 0.3).
    from absorbphys.analysis import critical_point
    from absorbphys.models import DirectedPercolation

    grid = {"p": list(np.linspace(0.638, 0.652, 9))}
    v, e = [], []
    for k in range(12):
        ds = ap.sweep(DirectedPercolation(L=2048, p=P_C_BOND), grid, t_max=2000, samples=16,
                      times="log", seed=500 + k, workers=1, progress=False)
        r = critical_point(ds, n_fit=6)
        assert r.attrs["zero_fit"] == "quadratic"
        v.append(float(r["p_c"]))
        e.append(float(r["p_c_error"]))
    c1, c2, bias = coverage(v, e, P_C_BOND)
    assert c2 >= 0.8 and abs(bias) <= 1.0, (c1, c2, bias)

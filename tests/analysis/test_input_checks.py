"""Bad input to the analysis suite: one-line errors naming the parameter, no silent answers."""

import numpy as np
import pytest
import synth
import xarray as xr

from absorbphys.analysis import (
    analyze,
    classify,
    collapse,
    compare,
    critical_point,
    estimates,
    fit_beta,
    fit_nu_par,
    fit_power_law,
    kappa,
    plot_collapse,
    relaxation_time,
    scaled_curves,
    spreading,
    width_cost,
)

DP = {"delta": 0.159464, "theta": 0.313686, "z": 1.580745, "nu_par": 1.733847}


def _one_line(exc_info):
    assert "\n" not in str(exc_info.value)


@pytest.fixture(scope="module")
def dec():
    f = synth.scaling_sweep(DP["delta"], DP["nu_par"], 0.6447)
    return synth.make(f, synth.log_times(3000), sweep={"p": 0.6447 + np.linspace(-0.02, 0.02, 9)})


@pytest.fixture(scope="module")
def fss():
    return synth.make(synth.fss(0.252, 1.58), synth.log_times(1000), sweep={"L": [8, 16, 32]})


def _seed(survival=None, seed=1):
    """A seed run; ``survival`` (constant) replaces the decaying survival, without noise."""
    ds = synth.make(synth.power_law(DP["delta"], 0.7), synth.log_times(1000), var="survival",
                    seed=seed, extra_vars={"n_active": synth.power_law(-DP["theta"]),
                                           "r2": synth.power_law(-2 / DP["z"], 0.5)},
                    attrs={"init": "seed"})
    if survival is not None:
        ds["survival"] = xr.full_like(ds["survival"], survival)
    return ds


# ---- 1. constant data: not a measurement with zero error ---------------------------------

def test_constant_survival_leaves_delta_prime_unmeasured():
    ds = _seed(survival=1.0)
    sp = spreading(ds)
    assert np.isnan(float(sp["delta_prime"])) and np.isnan(float(sp["delta_prime_error"]))
    assert "delta_prime not measured" in sp.attrs["not_measured"]
    # no run ever died: n_active and r2 are not critical spreading either
    assert np.isnan(float(sp["theta"])) and np.isnan(float(sp["z"]))
    assert "theta and z not measured" in sp.attrs["not_measured"]
    assert set(estimates(sp)) == set()
    r = analyze(ds)
    assert not {"delta_prime", "theta", "z"} & set(r["estimates"])
    assert any("delta_prime not measured" in n for n in r["notes"])
    with pytest.raises(ValueError, match="no exponent could be measured"):
        classify(ds)


def test_constant_decay_is_not_an_exact_exponent():
    ds = synth.make(lambda t, **_: 0.5 + 0 * t, synth.log_times(1000), noise=0.0)
    with pytest.raises(ValueError, match="no error bar") as ei:
        fit_power_law(ds)
    _one_line(ei)
    with pytest.raises(ValueError, match="no error bar"):
        analyze(ds)
    k = kappa(ds)
    assert np.isnan(float(k["kappa"])) and "kappa not measured" in k.attrs["not_measured"]
    # a sweep: only the constant curve is left out
    f = synth.scaling_sweep(DP["delta"], DP["nu_par"], 0.6447)
    sw = synth.make(f, synth.log_times(1000), sweep={"p": [0.63, 0.64, 0.65]})
    sw["rho"][:, 0] = 0.25
    r = fit_power_law(sw)
    assert np.isnan(r["delta"].values[0]) and np.all(np.isfinite(r["delta"].values[1:]))
    assert "1 of 3" in r.attrs["not_measured"]


def test_constant_seed_sweep_has_no_critical_point():
    ds = synth.make(lambda t, **_: 1.0 + 0 * t, synth.log_times(1000), var="survival",
                    sweep={"p": [0.6, 0.65, 0.7]}, noise=0.0, attrs={"init": "seed"},
                    extra_vars={"n_active": synth.power_law(-0.3), "r2": synth.power_law(-1.2)})
    with pytest.raises(ValueError, match="no spread"):
        critical_point(ds, var="survival")


# ---- 2. the same data twice ----------------------------------------------------------------

def test_classify_rejects_the_same_data_twice(dec):
    for other in (dec, dec.copy(deep=True), dec.assign_attrs(created="later")):
        with pytest.raises(ValueError, match="same data as input 1") as ei:
            classify(dec, other)
        _one_line(ei)


# ---- 3. n_boot bound -----------------------------------------------------------------------

def test_n_boot_upper_bound(fss):
    with pytest.raises(ValueError, match=r"n_boot must be an integer in \[2, 100000\]"):
        collapse(fss, n_boot=10**9)
    with pytest.raises(ValueError, match="n_boot"):
        analyze(fss, n_boot=10**9)
    with pytest.raises(ValueError, match="n_boot"):
        classify(fss, n_boot=100001)


# ---- 4. internals no longer leak -----------------------------------------------------------

def test_classify_and_compare_arguments(dec):
    with pytest.raises(ValueError, match="classes: give at least one"):
        classify(dec, classes=[])
    with pytest.raises(ValueError, match="given twice"):
        compare({"delta": (0.16, 0.01)}, classes=["dp_1d", "dp_1d"])
    with pytest.raises(TypeError, match="estimates must be a dict"):
        classify(estimates=[1])
    with pytest.raises(TypeError, match="result must be an xarray Dataset"):
        estimates(None)
    with pytest.raises(ValueError, match=r"estimates\['delta'\]: the value must be finite"):
        classify(estimates={"delta": (np.nan, 0.1)})
    with pytest.raises(ValueError, match=r"dim must be an integer in \[0, 6\]"):
        classify(dec, dim=7)
    with pytest.raises(ValueError, match=r"dim must be an integer in \[0, 6\]"):
        compare({"delta": (0.16, 0.01)}, dim=-1)
    with pytest.raises(TypeError, match="dim must be an integer"):
        compare({"delta": (0.16, 0.01)}, dim="1")
    for a in (0, 1, np.nan):
        with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
            compare({"delta": (0.16, 0.01)}, alpha=a)
        with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
            classify(dec, alpha=a)
    t = compare({"delta": (0.16, 0.01)}, dim=6)  # mean field in 6 d is in the catalog
    assert "mean_field" in list(t["class"].values)
    v = classify(estimates={"delta": (0.16, 0.01), "theta": (0.31, 0.02)}, classes="dp_1d")
    assert list(v.table["class"].values) == ["dp_1d"]


def test_scaled_curves_needs_a_collapse_result(fss):
    for bad in (None, fss):
        with pytest.raises((TypeError, ValueError), match="result"):
            scaled_curves(fss, bad)
        with pytest.raises((TypeError, ValueError), match="result"):
            plot_collapse(fss, bad)


def test_analyze_seed_dim_and_control_attributes(dec, fss):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0"):
        analyze(fss, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        analyze(fss, seed=1.5)
    with pytest.raises(ValueError, match="attribute 'dim' must be an integer") as ei:
        analyze(dec.assign_attrs(dim="abc"))
    _one_line(ei)
    with pytest.raises(ValueError, match="'dim' must be >= 0"):
        analyze(dec.assign_attrs(dim=-2))
    assert analyze(dec.assign_attrs(dim="1"))["dim"] == 1
    with pytest.raises(ValueError, match="swept over 'p', which is neither its 'control'"):
        analyze(dec.assign_attrs(control="q"))
    with pytest.raises(ValueError, match="swept over 'p'"):
        classify(dec.assign_attrs(control="q"))


def test_dim_and_sample_dim_must_differ(dec):
    run = dec.isel(p=4)
    for kw in ({"dim": "batch"}, {"sample_dim": "t"}):
        with pytest.raises(ValueError, match="dim and sample_dim must differ"):
            fit_power_law(run, **kw)
    with pytest.raises(ValueError, match="dim and sample_dim must differ"):
        collapse(synth.make(synth.fss(0.25, 1.6), synth.log_times(100), sweep={"L": [8, 16]}),
                 dim="batch")


@pytest.mark.parametrize("decay", [0, -1, 1, 2, np.nan, np.inf])
def test_decay_must_be_a_fraction(dec, decay):
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        relaxation_time(dec, decay=decay)
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        fit_nu_par(dec, 0.6447, decay=decay)


def test_decay_type(dec):
    with pytest.raises(TypeError, match="decay"):
        relaxation_time(dec, decay="0.01")


def test_estimate_errors_name_the_parameter(dec, fss):
    with pytest.raises(ValueError, match="critical: the value must be finite"):
        fit_beta(dec, np.nan)
    with pytest.raises(ValueError, match="critical: the error must be"):
        fit_beta(dec, (0.6447, -1.0))
    with pytest.raises(TypeError, match="critical"):
        fit_beta(dec, ("a", 0.1))
    with pytest.raises(ValueError, match="kappa: the value must be finite"):
        width_cost(fss, np.nan)


# ---- 5. messages say what is wrong ---------------------------------------------------------

def test_messages_for_inf_negative_and_all_nan(dec, fss):
    run = dec.isel(p=4).copy()
    run["rho"] = run["rho"] * np.inf
    with pytest.raises(ValueError, match="infinite value"):
        fit_power_law(run)
    neg = dec.isel(p=4).copy()
    neg["rho"] = -neg["rho"]
    with pytest.raises(ValueError, match="negative values"):
        fit_power_law(neg)
    with pytest.raises(ValueError, match="negative values"):
        analyze(neg)
    bad = fss.copy()
    bad["rho"] = bad["rho"] * np.nan
    with pytest.raises(ValueError, match="no finite data"):
        collapse(bad)
    inf = fss.copy()
    inf["rho"] = inf["rho"] * np.inf
    with pytest.raises(ValueError, match="infinite value"):
        collapse(inf)
    # a single all-NaN curve among good ones is still reported as before (left out)
    one = fss.copy(deep=True)
    one["rho"][:, 0] = np.nan
    assert np.isfinite(float(collapse(one, n_boot=4)["a"]))

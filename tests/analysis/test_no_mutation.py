"""No analysis function modifies its input (issue #16).

Every public function of :mod:`absorbphys.analysis` that takes a Dataset or a DataArray is
called on small inputs (tiny simulated DP, contact and MLP runs in the absorbphys schema,
plus the synthetic sweeps of ``synth.py`` where a reliable critical point or collapse is
needed), and each input -- values, the dataset's attributes and those of every variable
and coordinate -- must be identical to a deep copy taken before the call
(``xarray.testing.assert_identical``). A result passed on to a second function (a critical
point, a collapse, a comparison table) is checked the same way.
"""

import copy

import matplotlib
import numpy as np
import pytest
import synth
import xarray as xr

import absorbphys
from absorbphys import analysis as an
from absorbphys.models import MLP, ContactProcess, DirectedPercolation
from absorbphys.models import meanfield as mf

matplotlib.use("Agg")

#: Public names that take no Dataset/DataArray (nothing to mutate), with the reason.
NO_DATA_INPUT = {
    "CRITICAL_SIGNATURES": "a constant",
    "EXPONENTS": "a constant",
    "FAMILIES": "a constant",
    "GROUPS": "a constant",
    "N_BOOT_MAX": "a constant",
    "QUADRATIC_FROM": "a constant",
    "RESOLUTION": "a constant",
    "SIGNIFICANCE": "a constant",
    "Estimate": "a value class (float value and error)",
    "Verdict": "a result class built by classify",
    "catalog": "takes no argument",
    "class_exponents": "takes a class id (str)",
    "fss_exponents": "takes a class id (str)",
    "family_of": "takes class ids (str)",
    "decide": "takes a dict of Estimates",
}
#: Public functions taking data that this module cannot run on tiny inputs (with reason).
SKIPPED = {}


def _run(proc, t_max, init="full", samples=40, batches=10, seed=1, times="log"):
    return absorbphys.simulate(proc, t_max=t_max, samples=samples, batches=batches,
                               init=init, seed=seed, times=times, progress=False)


@pytest.fixture(scope="module")
def data():
    """Tiny runs in the simulate schema and synthetic sweeps (module scope: built once)."""
    dp = DirectedPercolation(L=64, p=0.6447)
    out = {
        "dp_decay": _run(dp, 128),
        "dp_seed": _run(dp, 128, init="seed", samples=200),
        "cp_seed": _run(ContactProcess(L=64, lam=3.3), 30.0, init="seed", samples=100),
        "cp_decay": _run(ContactProcess(L=64, lam=3.3), 30.0),
    }
    # a DP control sweep and a size sweep, concatenated as sweep() lays them out
    out["dp_sweep"] = xr.concat([_run(dp.replace(p=p), 128) for p in (0.60, 0.6447, 0.70)],
                                dim="p", combine_attrs="override")
    out["dp_sizes"] = xr.concat([_run(dp.replace(L=n), 64) for n in (8, 16, 32)], dim="L",
                                combine_attrs="override")
    # critical MLP runs: rho ~ 1/(kappa t) (kappa) and its width crossover (width_cost)
    swc = mf.critical_sigma_w(0.3)
    out["kappa"] = mf.kappa(0.3)
    out["mlp"] = [_run(MLP(width=w, sigma_w=swc, sigma_b=0.3), 12 * w, samples=16, batches=8)
                  for w in (8, 16)]
    # synthetic sweeps with a clear critical point / collapse (as in test_input_checks)
    delta, nu_par = 0.159464, 1.733847
    out["dec"] = synth.make(synth.scaling_sweep(delta, nu_par, 0.6447), synth.log_times(3000),
                            sweep={"p": 0.6447 + np.linspace(-0.02, 0.02, 9)})
    f = synth.scaling_sweep(delta, nu_par, 0.6447)
    out["active"] = synth.make(f, synth.log_times(100000), sweep={"p": np.linspace(0.7, 0.9, 6)},
                               seed=3)
    out["absorbing"] = synth.make(f, synth.log_times(100000, n=100),
                                  sweep={"p": np.linspace(0.3, 0.6, 7)}, seed=4)
    out["fss"] = synth.make(synth.fss(0.252, 1.58), synth.log_times(1000),
                            sweep={"L": [8, 16, 32]})
    out["seed_sweep"] = synth.make(
        synth.scaling_sweep(delta, nu_par, 0.6447), synth.log_times(1000),
        sweep={"p": 0.6447 + np.linspace(-0.02, 0.02, 9)}, var="survival", seed=3,
        attrs={"init": "seed"},
        extra_vars={"n_active": lambda t, **_: t ** 0.3137, "r2": lambda t, **_: t ** 1.265})
    return out


def _unchanged(fn, *inputs):
    """Call ``fn()`` and assert that every input is identical to its copy from before."""
    before = [copy.deepcopy(x) for x in inputs]
    try:
        return fn()
    finally:
        for b, x in zip(before, inputs):
            if isinstance(x, (xr.Dataset, xr.DataArray)):
                xr.testing.assert_identical(x, b)
                # attrs of every variable and coordinate, spelled out
                for name in getattr(x, "variables", {}):
                    assert x[name].attrs == b[name].attrs, name
                for name in x.coords:
                    assert x[name].attrs == b[name].attrs, name
            else:  # a list of runs
                for xi, bi in zip(x, b):
                    xr.testing.assert_identical(xi, bi)


def _close(result):
    import matplotlib.pyplot as plt

    plt.close("all")
    return result


def _calls(d):
    """``{public name: [(label, thunk, inputs)]}`` for every function taking data."""
    dec, fss, run, seed = d["dec"], d["fss"], d["dp_decay"], d["dp_seed"]
    cp = an.critical_point(dec)
    col = an.collapse(fss, n_boot=4, seed=0)
    fit = an.fit_power_law(run)
    table = an.compare({"delta": (0.16, 0.01), "theta": (0.31, 0.02)}, dim=1)
    line = mf.critical_line([0.1, 0.3, 0.5])
    return {
        "analyze": [
            ("dp decay run", lambda: an.analyze(run), [run]),
            ("dp seed run", lambda: an.analyze(seed), [seed]),
            ("contact seed run", lambda: an.analyze(d["cp_seed"]), [d["cp_seed"]]),
            ("dp sweep", lambda: an.analyze(d["dp_sweep"]), [d["dp_sweep"]]),
            ("dp sizes", lambda: an.analyze(d["dp_sizes"], n_boot=4), [d["dp_sizes"]]),
            ("decay sweep", lambda: an.analyze(dec), [dec]),
            ("seed sweep", lambda: an.analyze(d["seed_sweep"]), [d["seed_sweep"]]),
        ],
        "classify": [
            ("decay + seed sweeps", lambda: an.classify(dec, d["seed_sweep"]),
             [dec, d["seed_sweep"]]),
            ("dp seed + decay runs", lambda: an.classify(seed, run), [seed, run]),
            ("with a result as estimates", lambda: an.classify(dec, estimates=fit), [dec, fit]),
        ],
        "collapse": [
            ("size", lambda: an.collapse(fss, n_boot=4, seed=0), [fss]),
            ("simulated sizes", lambda: an.collapse(d["dp_sizes"], n_boot=4, seed=0),
             [d["dp_sizes"]]),
            ("control", lambda: an.collapse(dec, form="control", critical=cp, n_boot=4,
                                            seed=0), [dec, cp]),
        ],
        "compare": [("result Dataset", lambda: an.compare(fit, dim=1), [fit])],
        "critical_drift": [
            ("simulated", lambda: an.critical_drift(d["dp_sweep"], ratio=3.0, n_windows=2),
             [d["dp_sweep"]]),
        ],
        "late_curvature": [
            ("synthetic", lambda: an.late_curvature(dec), [dec]),
            ("simulated", lambda: an.late_curvature(d["dp_sweep"]), [d["dp_sweep"]]),
        ],
        "critical_point": [
            ("synthetic", lambda: an.critical_point(dec), [dec]),
            ("DataArray", lambda: an.critical_point(dec["rho"], control="p"), [dec["rho"]]),
            ("simulated", lambda: an.critical_point(d["dp_sweep"]), [d["dp_sweep"]]),
        ],
        "effective_exponent": [("run", lambda: an.effective_exponent(run), [run]),
                               ("DataArray", lambda: an.effective_exponent(run["rho"]),
                                [run["rho"]])],
        "estimates": [("fit result", lambda: an.estimates(fit), [fit]),
                      ("critical point", lambda: an.estimates(cp), [cp])],
        "fit_beta": [("active sweep", lambda: an.fit_beta(d["active"], cp),
                      [d["active"], cp])],
        "fit_nu_par": [("absorbing sweep", lambda: an.fit_nu_par(d["absorbing"], cp),
                        [d["absorbing"], cp])],
        "fit_power_law": [
            ("run", lambda: an.fit_power_law(run), [run]),
            ("contact run", lambda: an.fit_power_law(d["cp_decay"]), [d["cp_decay"]]),
            ("DataArray", lambda: an.fit_power_law(run["rho"]), [run["rho"]]),
            ("survival", lambda: an.fit_power_law(seed, var="survival"), [seed]),
        ],
        "kappa": [("critical MLP", lambda: an.kappa(d["mlp"][1]), [d["mlp"][1]])],
        "local_slope": [("run", lambda: an.local_slope(run), [run]),
                        ("seed run", lambda: an.local_slope(seed, var="n_active"), [seed])],
        "plot_collapse": [("size", lambda: _close(an.plot_collapse(fss, col)), [fss, col])],
        "plot_compare": [("table", lambda: _close(an.plot_compare(table)), [table])],
        "plot_decay": [("run", lambda: _close(an.plot_decay(run)), [run]),
                       ("sweep", lambda: _close(an.plot_decay(dec)), [dec])],
        "plot_phase_diagram": [("line", lambda: _close(an.plot_phase_diagram(line)), [line])],
        "relaxation_time": [("sweep", lambda: an.relaxation_time(d["absorbing"]),
                             [d["absorbing"]])],
        "scaled_curves": [("size", lambda: an.scaled_curves(fss, col), [fss, col])],
        "spreading": [("dp seed run", lambda: an.spreading(seed), [seed]),
                      ("contact seed run", lambda: an.spreading(d["cp_seed"]), [d["cp_seed"]]),
                      ("seed sweep", lambda: an.spreading(d["seed_sweep"]),
                       [d["seed_sweep"]])],
        "stationary_density": [("run", lambda: an.stationary_density(run), [run]),
                               ("sweep", lambda: an.stationary_density(d["active"]),
                                [d["active"]])],
        "width_cost": [("critical MLP runs",
                        lambda: an.width_cost(d["mlp"], d["kappa"], size_dim="width"),
                        [d["mlp"]])],
    }


def test_every_public_function_is_covered(data):
    covered = set(_calls(data)) | set(NO_DATA_INPUT) | set(SKIPPED)
    assert set(an.__all__) == covered, set(an.__all__) ^ covered


@pytest.mark.parametrize("name", sorted(set(an.__all__) - set(NO_DATA_INPUT) - set(SKIPPED)))
def test_input_is_not_modified(data, name):
    for label, thunk, inputs in _calls(data)[name]:
        try:
            _unchanged(thunk, *inputs)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({label}) modified its input: {exc}") from None


def test_accessor_does_not_modify(data):
    run, seed = data["dp_decay"], data["dp_seed"]
    _unchanged(lambda: run.absorb.fit_power_law(), run)
    _unchanged(lambda: seed.absorb.spreading(), seed)
    _unchanged(lambda: run.absorb.analyze(), run)


def test_spreading_keeps_variable_attrs(data):
    """The reported bug: the global attributes were copied into survival, n_active, r2."""
    seed = data["dp_seed"]
    before = {k: dict(seed[k].attrs) for k in seed.data_vars}
    an.spreading(seed)
    an.analyze(seed)
    an.classify(seed)
    assert {k: dict(seed[k].attrs) for k in seed.data_vars} == before
    assert "model" not in seed["survival"].attrs

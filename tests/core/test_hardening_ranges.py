"""Hardening (issue #18, items 3 and 4; one bug of #16 is in tests/analysis).

A. Parameters that overflowed float64 silently (rho = 2, input variance 1.0) or with a
   traceback are refused by their ranges, with the one-line error stating the range.
B. Memory and time blow-ups are estimated from the final sizes before any work starts.
C. The analysis refuses data that lack the schema attributes saying what the run is.
Fixed seeds, tiny sizes.
"""

import json
import math
import tracemalloc

import numpy as np
import pytest
import xarray as xr

import absorbphys as ap
from absorbphys import _simulate
from absorbphys._benchmark.config import (
    MAX_N_BOOT,
    MAX_POINTS,
    MAX_REFINE,
    MAX_SAMPLES,
    MAX_SIZE,
    MAX_TOTAL_SAMPLES,
    Entry,
)
from absorbphys.analysis import analyze, classify, critical_point, fit_power_law
from absorbphys.cli import main
from absorbphys.models import (
    CNN,
    MLP,
    ContactProcess,
    DirectedPercolation,
    MeanFieldContactProcess,
    MeanFieldNetwork,
    training,
)
from absorbphys.models import contact as contact_mod
from absorbphys.models import meanfield as mf

RANGE = r"must be in \[0, 1e\+12\]"


def _one_line_cli(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert match in err, err
    return err


# ============================================================== A. overflow
@pytest.mark.parametrize("make", [
    lambda **kw: MLP(width=16, **kw),
    lambda **kw: CNN(L=8, channels=4, **kw),
    lambda **kw: MeanFieldNetwork(**kw),
], ids=["mlp", "cnn", "mf_network"])
@pytest.mark.parametrize("sw, sb, bad", [(1e50, 0.3, "sigma_w"), (1e100, 0.3, "sigma_w"),
                                         (1e308, 0.3, "sigma_w"), (1.0, 1e154, "sigma_b"),
                                         (1.0, 1e308, "sigma_b")])
def test_network_sigmas_have_upper_bounds(make, sw, sb, bad):
    with pytest.raises(ValueError, match=f"{bad} {RANGE}, got 1e\\+") as ei:
        make(sigma_w=sw, sigma_b=sb)
    assert "\n" not in str(ei.value)


def test_one_shared_spec_for_sigma_and_q0():
    for cls in (MLP, CNN, MeanFieldNetwork):
        assert cls.params["sigma_w"] is mf.SIGMA_W
        assert cls.params["sigma_b"] is mf.SIGMA_B
        assert cls.params["q0"] is mf.Q0
    assert mf.SIGMA_W.high == mf.SIGMA_MAX and mf.Q0.high == mf.Q0_MAX == mf.SIGMA_MAX ** 2


@pytest.mark.parametrize("call", [
    lambda v: mf.q_star(v, 0.3), lambda v: mf.q_star(1.0, v), lambda v: mf.chi1(v, 0.3),
    lambda v: mf.rho_map(0.5, v, 0.3), lambda v: mf.correlation_map(0.5, 1.0, v),
    lambda v: mf.depth_scale(v, 0.3), lambda v: mf.variance_map(1.0, v, 0.3),
    lambda v: mf.critical_sigma_w(v), lambda v: mf.critical_line([0.3, v]),
    lambda v: mf.kappa(v), lambda v: mf.mean_field_trajectory(v, 0.3, "tanh", 3, 1.0),
])
def test_meanfield_functions_refuse_overflowing_sigmas(call):
    for v in (1e154, 1e308):
        with pytest.raises(ValueError, match=RANGE) as ei:
            call(v)
        assert "\n" not in str(ei.value)


def test_input_variance_and_q_bounds():
    with pytest.raises(ValueError, match=r"q0 must be in \[0, 1e\+24\], got 1e\+300"):
        MLP(width=8, sigma_w=1.0, sigma_b=0.3, q0=1e300)
    with pytest.raises(ValueError, match=r"q0 must be in \[0, 1e\+24\]"):
        CNN(L=8, channels=2, sigma_w=1.0, sigma_b=0.3, q0=1e25)
    with pytest.raises(ValueError, match=r"q must be in \[0, 1e\+100\]"):
        mf.variance_map(1e300, 1.0, 0.3)
    with pytest.raises(ValueError, match=r"q must be in \[0, 1e\+100\]"):
        mf.rho_map(0.5, 1.0, 0.3, q=1e300)


def test_cli_reports_the_range(capsys):
    _one_line_cli(capsys, ["simulate", "mlp", "-p", "width=16", "-p", "sigma_w=1e100", "-p",
                           "sigma_b=0.3", "--t-max", "5"], "sigma_w must be in [0, 1e+12]")
    _one_line_cli(capsys, ["simulate", "cnn", "-p", "L=8", "-p", "channels=2", "-p",
                           "sigma_w=1", "-p", "sigma_b=1e308", "--t-max", "5"],
                  "sigma_b must be in [0, 1e+12]")


@pytest.mark.parametrize("act", ["tanh", "erf", "hard_tanh", "sin", "relu", "linear"])
def test_at_the_bound_the_numbers_stay_finite(act):
    """sigma_w = sigma_b = 1e12: finite rho in [0, 2) everywhere, and the real q* is used."""
    procs = [MLP(width=16, sigma_w=1e12, sigma_b=1e12, activation=act),
             MLP(width=16, sigma_w=1e12, sigma_b=1e12, activation=act, method="weights"),
             CNN(L=6, channels=3, sigma_w=1e12, sigma_b=1e12, activation=act),
             MeanFieldNetwork(sigma_w=1e12, sigma_b=1e12, activation=act)]
    for p in procs:
        with np.errstate(over="raise"):
            ds = ap.simulate(p, t_max=3, samples=4, batches=2, seed=5)
        r = ds["rho"].values
        assert np.all(np.isfinite(r)) and np.all((r >= 0) & (r < 2)), (p, r)
    if act in ("tanh", "erf", "hard_tanh", "sin"):  # q* ~ sigma_w**2: no silent q0 = 1
        q = procs[0].input_variance()
        assert 1e23 < q < 3e24


def test_bounded_relu_fixed_point_is_not_read_as_infinite():
    # relu below its critical slope: q* = sigma_b**2 / (1 - sigma_w**2 / 2) is finite (1e32
    # here) and used, not replaced by 1 as when the search stopped at 1e30
    sw = math.sqrt(2.0 * (1 - 1e-8))
    q = mf.q_star(sw, 1e12, "relu")
    assert q == pytest.approx(1e24 / 1e-8, rel=1e-6)
    assert MLP(width=4, sigma_w=sw, sigma_b=1e12, activation="relu").input_variance() == q
    assert mf.q_star(1.5, 0.3, "relu") == math.inf


@pytest.mark.parametrize("act, sw, last", [("linear", 2.0, 166), ("relu", 8 ** 0.5, 166)])
def test_depth_overflow_of_unbounded_activations_is_refused(act, sw, last, capsys):
    # q_l ~ g**l (g = 4 for both): above 1e100 after layer 166; the old code reported
    # rho = 2 from overflowed sums beyond about layer 250
    assert mf.overflow_layer(sw, 0.3, act, 1.0, 10**6) == last + 1
    assert mf.overflow_layer(sw, 0.3, act, 1.0, last) is None
    for proc in (MLP(width=8, sigma_w=sw, sigma_b=0.3, activation=act),
                 CNN(L=4, channels=2, sigma_w=sw, sigma_b=0.3, activation=act)):
        with pytest.raises(ValueError, match=rf"t_max: .* at layer {last + 1}; use "
                                             rf"t_max <= {last}") as ei:
            ap.simulate(proc, t_max=1000, samples=2)
        assert "\n" not in str(ei.value)
        ds = ap.simulate(proc, t_max=last, samples=2, times=[0, last])
        r = ds["rho"].values
        assert np.all(np.isfinite(r)) and np.all(r < 2)
    _one_line_cli(capsys, ["simulate", "mlp", "-p", "width=16", "-p", f"sigma_w={sw}", "-p",
                           "sigma_b=0.3", "-p", f"activation={act}", "--t-max", "300"],
                  "t_max: with activation")


def test_overflow_layer_matches_the_iterated_variance_map():
    for act, g in (("linear", 1.5 ** 2), ("relu", 0.5 * 3.0 ** 2)):
        sw = 1.5 if act == "linear" else 3.0
        q, layer = 2.0, 0
        while q <= mf.Q_OVERFLOW:
            q = g * q + 0.7 ** 2
            layer += 1
        assert mf.overflow_layer(sw, 0.7, act, 2.0, 10**9) == layer
    # bounded activations and slopes <= 1 never overflow
    assert mf.overflow_layer(1e12, 1e12, "tanh", 1e24, 2**62) is None
    assert mf.overflow_layer(1.0, 1e12, "linear", 1e24, 2**62) is None


def test_depth_overflow_of_a_user_activation():
    def cube(x):
        return x * x * x

    with pytest.raises(ValueError, match=r"t_max: with activation 'cube'"):
        ap.simulate(MLP(width=4, sigma_w=1.0, sigma_b=0.3, activation=cube, q0=1.0),
                    t_max=50)

    def soft(x):
        return math.tanh(x)

    assert mf.overflow_layer(1.5, 0.3, soft, 1.0, 10**9) is None   # bounded: converges


def test_mean_field_network_memory_does_not_grow_with_t_max():
    # the trajectory is kept at the output times only (was two arrays of t_max + 1 floats)
    p = MeanFieldNetwork(sigma_w=1.0, sigma_b=0.3)   # ordered: rho reaches a fixed point
    tracemalloc.start()
    ds = ap.simulate(p, t_max=10**9, times=11, samples=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6 and ds.sizes["t"] == 12   # 0 and 11 log-spaced layers
    rho, _ = mf.mean_field_trajectory(1.0, 0.3, "tanh", 200, 1.0)
    np.testing.assert_array_equal(ds["rho"].isel(batch=0).values[:3],
                                  rho[ds["t"].values[:3]])


def test_mean_field_trajectory_stops_at_a_fixed_point_with_the_same_values():
    rho, q = mf.mean_field_trajectory(2.0, 0.3, "tanh", 3000, 1e-3)
    t = np.array([0, 1, 10, 100, 2999, 3000])
    r2, q2 = mf._trajectory(mf.get_activation("tanh"), 2.0, 0.3, t, 1e-3, None)
    np.testing.assert_array_equal(r2, rho[t])
    np.testing.assert_array_equal(q2, q[t])


# ------------------------------------------------------------------ contact: lam
@pytest.mark.parametrize("cls, size", [(ContactProcess, {"L": 16}),
                                       (MeanFieldContactProcess, {"N": 16})])
@pytest.mark.parametrize("lam", [1e8, 1e308])
def test_lam_has_an_upper_bound(cls, size, lam):
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1e\+06\], got 1e\+") as ei:
        cls(**size, lam=lam)
    assert "\n" not in str(ei.value)


def test_contact_event_count_is_estimated_before_running(capsys):
    # per sample: (1 + lam) N t_max beyond float64 time resolution (the clock would stall)
    with pytest.raises(ValueError, match=r"lam, L, t_max: .* events, beyond") as ei:
        ap.simulate(ContactProcess(L=2**15, lam=1e6), t_max=1e4)
    assert "\n" not in str(ei.value)
    with pytest.raises(ValueError, match=r"lam, N, t_max: .* events, beyond"):
        ap.simulate(MeanFieldContactProcess(N=2**40, lam=1e6), t_max=1e3)
    # in all: samples multiply it
    with pytest.raises(ValueError, match=r"lam, L, t_max, samples: .* events, more than "):
        ap.simulate(ContactProcess(L=64, lam=1e6), t_max=1e3, samples=10**5)
    _one_line_cli(capsys, ["simulate", "contact", "-p", "L=32768", "-p", "lam=1e6",
                           "--t-max", "10000"], "events")
    # seed runs are not estimated (their cluster stays small near the transition)
    ContactProcess(L=2**15, lam=1e6)._check_run(1e4, 1, "seed")
    assert contact_mod.MAX_EVENTS_PER_SAMPLE == 2**48


def test_contact_at_the_largest_lam_runs():
    ds = ap.simulate(ContactProcess(L=8, lam=1e6), t_max=1.0, samples=2, seed=3)
    assert float(ds["rho"].isel(t=-1).mean()) > 0.99


# ============================================================== B. memory and time
def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_log_grid_never_allocates_the_requested_count():
    dp = DirectedPercolation(L=16, p=0.6)
    # --t-max 1000 --times 100000000 used 2.5 GB (1e8 floats, rounded, sorted)
    t, peak = _peak(lambda: _simulate.make_times(dp, 1000, 10**8))
    assert np.array_equal(t, np.arange(1001)) and peak < 1e6
    # --t-max 1e9 --times 11: 11 times, nothing O(t_max)
    t, peak = _peak(lambda: _simulate.make_times(dp, 10**9, 11))
    assert t[-1] == 10**9 and len(t) == 12 and peak < 1e6
    # the final size is computed before anything is allocated and refused above the limit
    msg = r"times: 1000000000000 log-spaced times up to t_max=1000000000 give about .* " \
          r"distinct output times, at most 1e\+08"
    _, peak = _peak(lambda: pytest.raises(ValueError, _simulate.make_times, dp, 10**9,
                                          10**12).match(msg))
    assert peak < 1e6


def test_log_grid_is_the_same_grid_as_before(monkeypatch):
    def old(t_max, n):
        g = np.geomspace(1.0, t_max, n)
        return np.unique(np.concatenate([[0], np.rint(g).astype(np.int64)]))

    monkeypatch.setattr(_simulate, "_GEOM_DIRECT", 2)   # the piecewise path everywhere
    for t_max in (2, 10, 1000, 12345, 10**6, 10**9):
        for n in (3, 11, 100, 10**4, 3 * 10**5):
            np.testing.assert_array_equal(_simulate._log_grid_discrete(t_max, n),
                                          old(t_max, n))


def test_simulate_and_sweep_with_a_huge_count_of_times():
    dp = DirectedPercolation(L=16, p=0.6)
    ds, peak = _peak(lambda: ap.simulate(dp, t_max=1000, times=10**8, samples=2, seed=1))
    assert ds.sizes["t"] == 1001 and peak < 50e6
    sw = ap.sweep("dp", {"p": [0.5, 0.6]}, t_max=1000, times=10**8, params={"L": 16},
                  samples=2, workers=1, progress=False)
    assert sw.sizes["t"] == 1001
    with pytest.raises(ValueError, match="distinct output times, at most"):
        ap.sweep("dp", {"p": [0.5, 0.6]}, t_max=10**9, times=10**12, params={"L": 16})
    # continuous time: every log-spaced time is distinct
    with pytest.raises(ValueError, match=r"times must be a count in \[2, 1e\+08\]"):
        ap.simulate(ContactProcess(L=8, lam=1.0), t_max=10.0, times=10**9)
    with pytest.raises(ValueError, match=r"times must hold at most 1e\+08"):
        _simulate.make_times(dp, 10**9, np.arange(10**8 + 1))


def test_output_arrays_are_checked_against_memory(monkeypatch):
    monkeypatch.setattr(_simulate, "_available_memory", lambda: 10**6)
    with pytest.raises(ValueError, match=r"times: 1001 output times x 100 batches need about "
                                         r".* GiB for the results, more than") as ei:
        ap.simulate(DirectedPercolation(L=8, p=0.6), t_max=1000, samples=100)
    assert "\n" not in str(ei.value)


def test_train_grid_counts_refused_before_allocating(capsys):
    _, peak = _peak(lambda: _one_line_cli(capsys, ["train", "--sigma-w", "1:2:200000000"],
                                          "--sigma-w must list at most 10000 values"))
    assert peak < 5e6
    _one_line_cli(capsys, ["train", "--depth", ",".join(["2"] * 10001)],
                  "--depth must list at most 10000 values")
    _one_line_cli(capsys, ["train", "--sigma-w", "1:2:2000", "--depth", "1:1000:1000"],
                  "asks for 2000000 trained networks, at most 1e+06")
    with pytest.raises(ValueError, match="sigma_w must list at most 10000 values"):
        training.trainability_sweep(np.linspace(1, 2, 10001), 2)
    with pytest.raises(ValueError, match="repeats: the grid times repeats asks for"):
        training.trainability_sweep(np.linspace(1, 2, 2000), np.arange(1, 1001), epochs=0)


BENCH = dict(name="tiny", label="tiny DP", model="dp", params={}, control="p",
             window=[0.6, 0.7], size=64, t_max=16)


@pytest.mark.parametrize("field, high", [
    ("size", MAX_SIZE), ("coarse_size", MAX_SIZE), ("beta_size", MAX_SIZE),
    ("sweep_points", MAX_POINTS), ("final_points", MAX_POINTS),
    ("sweep_samples", MAX_SAMPLES), ("final_samples", MAX_SAMPLES),
    ("decay_samples", MAX_SAMPLES), ("fss_samples", MAX_SAMPLES),
    ("beta_samples", MAX_SAMPLES), ("refine", MAX_REFINE)])
def test_benchmark_integer_fields_have_upper_bounds(field, high):
    Entry(**{**BENCH, field: high, "refine": 0} if field != "refine" else {**BENCH, field: 3})
    with pytest.raises(ValueError, match=rf"entry 'tiny': {field} must be (0 or )?an integer "
                                         rf"in \[\d+, {high}\], got 1e\+18") as ei:
        Entry(**{**BENCH, field: 1e18})
    assert "\n" not in str(ei.value)


def test_benchmark_nested_and_total_limits(tmp_path, capsys):
    for kw, match in (
        ({"spreading": {"size": 64, "t_max": 16, "samples": 1e18}},
         rf"spreading\.samples must be an integer in \[2, {MAX_SAMPLES}\]"),
        ({"spreading": {"size": 1e18, "t_max": 16, "samples": 4}},
         rf"spreading\.size must be an integer in \[2, {MAX_SIZE}\]"),
        ({"fss_sizes": [8, 10**18]}, rf"fss_sizes must be a list of sizes, each an "
                                     rf"integer in \[2, {MAX_SIZE}\]"),
        ({"extra": {"n_boot": 10**9}}, rf"extra\.n_boot must be an integer in \[2, "
                                       rf"{MAX_N_BOOT}\]"),
        ({"sweep_points": MAX_POINTS, "sweep_samples": MAX_SAMPLES, "refine": 0},
         r"the stages would simulate 1e\+10 samples in all, at most 1e\+09; most of them "
         r"come from sweep_points x sweep_samples"),
    ):
        with pytest.raises(ValueError, match=match):
            Entry(**{**BENCH, **kw})
    assert MAX_TOTAL_SAMPLES == 10**9
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps([{**BENCH, "sweep_samples": 1e18}]))
    _one_line_cli(capsys, ["benchmark", "--config", str(cfg), "--out", str(tmp_path / "o"),
                           "--quiet"], "sweep_samples must be an integer in [2, 10000000]")
    assert not (tmp_path / "o").exists()


# ============================================================== C. analysis and schema
@pytest.fixture(scope="module")
def bare():
    """Only rho(batch, t), no attributes (what the issue analysed as a 'decay run')."""
    rng = np.random.default_rng(0)
    t = np.unique(np.rint(np.geomspace(1, 1000, 40)))
    rho = t ** -0.16 * (1 + 0.05 * rng.standard_normal((10, t.size)))
    return xr.Dataset({"rho": (("batch", "t"), rho)}, coords={"t": t})


def test_analysis_refuses_data_without_init(bare, tmp_path, capsys):
    for call in (analyze, classify, lambda d: d.absorb.analyze()):
        with pytest.raises(ValueError, match=r"dataset has no 'init' attribute, .* "
                                             r"ds\.assign_attrs\(init='full'\)") as ei:
            call(bare)
        assert "\n" not in str(ei.value)
    path = tmp_path / "bare.nc"
    ap.save(bare, path)
    _one_line_cli(capsys, ["analyze", str(path)], "no 'init' attribute")
    # what legitimately works from rho alone still does
    r = fit_power_law(bare)
    assert 0.1 < float(r["delta"]) < 0.25
    # and with the attribute the run is what it says
    assert analyze(bare.assign_attrs(init="full"))["kind"] == "decay run"
    assert bare.attrs == {}


@pytest.mark.parametrize("name", ["batch", "t"])
def test_control_naming_the_batch_or_time_dim(bare, name):
    ds = bare.assign_attrs(init="full", control=name)
    with pytest.raises(ValueError, match=rf"attribute 'control' names the .* dimension "
                                         rf"'{name}'") as ei:
        analyze(ds)
    assert "\n" not in str(ei.value)
    with pytest.raises(ValueError, match=rf"control: '{name}' is the .* dimension"):
        critical_point(bare, control=name)


def test_swept_without_control_attribute(bare):
    sweep = xr.concat([bare, bare * 0.9], dim="p").assign_coords(p=[0.6, 0.7])
    with pytest.raises(ValueError, match=r"swept over 'p' but has no 'control' or "
                                         r"'size_param' attribute"):
        analyze(sweep.assign_attrs(init="full"))


def test_all_nan_control_coordinate(bare):
    sweep = xr.concat([bare, bare * 0.9, bare * 0.8], dim="p")
    sweep = sweep.assign_coords(p=[np.nan] * 3).assign_attrs(init="full", control="p")
    for call in (analyze, critical_point):
        with pytest.raises(ValueError, match=r"control: coordinate 'p' has no finite "
                                             r"values") as ei:
            call(sweep)
        assert "\n" not in str(ei.value)
    part = sweep.assign_coords(p=[0.6, np.nan, 0.7])
    with pytest.raises(ValueError, match=r"control: coordinate 'p' has 1 non-finite"):
        critical_point(part)


def test_classify_size_sweep_needs_dim():
    rng = np.random.default_rng(1)
    t = np.unique(np.rint(np.geomspace(1, 1000, 50)))
    sizes = np.array([8, 16, 32])
    scaled = t[None, :] / sizes[:, None] ** 1.58
    mean = sizes[:, None] ** -0.252 * scaled ** -0.16 * np.exp(-scaled)
    rho = mean[None] * (1 + 0.03 * rng.standard_normal((20, 3, t.size)))
    ds = xr.Dataset({"rho": (("batch", "L", "t"), rho)}, coords={"t": t, "L": sizes},
                    attrs={"init": "full", "control": "p", "size_param": "L"})
    with pytest.raises(ValueError, match=r"dim: no dataset has a 'dim' attribute, .* "
                                         r"pass dim=\.\.\."):
        classify(ds, n_boot=4)

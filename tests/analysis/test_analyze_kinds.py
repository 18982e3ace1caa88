import numpy as np
import synth

from absorbphys.analysis import analyze

DP = {"delta": 0.159464, "theta": 0.313686, "z": 1.580745, "nu_par": 1.733847}


def within(e, true, k=4.0):
    return abs(e.value - true) < k * e.error


def test_seed_sweep_interpolates_theta_z_at_critical_point():
    xc = 0.6447
    ps = xc + np.linspace(-0.02, 0.02, 9) + 0.001
    ds = synth.make(synth.scaling_sweep(DP["delta"], DP["nu_par"], xc), synth.log_times(3000),
                    sweep={"p": ps}, var="survival", seed=3, attrs={"init": "seed"},
                    extra_vars={"n_active": lambda t, p: synth.power_law(-DP["theta"])(t)
                                * (1 + 5 * (p - xc)),
                                "r2": lambda t, p: synth.power_law(-2 / DP["z"])(t)
                                + 0 * p})
    r = analyze(ds)
    assert r["kind"] == "seed sweep"
    e = r["estimates"]
    assert within(e["p_c"], xc) and within(e["delta_prime"], DP["delta"])
    assert within(e["theta"], DP["theta"]) and within(e["z"], DP["z"])


def test_size_sweep_and_size_control_sweep():
    ds = synth.make(synth.fss(0.252, 1.58), synth.log_times(30000, n=60),
                    sweep={"L": [32, 64, 128, 256]}, seed=2)
    r = analyze(ds, n_boot=5)
    assert r["kind"] == "size sweep" and r["size_kind"] == "L"
    assert {"a", "b"} <= set(r["estimates"])
    f = synth.scaling_sweep(DP["delta"], DP["nu_par"], 0.6447)
    both = synth.make(lambda t, p, L: f(t, p) + 0 * L, synth.log_times(1000),
                      sweep={"L": [64, 128], "p": 0.6447 + np.linspace(-0.02, 0.02, 5)})
    r = analyze(both)
    assert r["kind"] == "decay sweep" and "p_c" in r["estimates"]
    assert any("L=128" in n for n in r["notes"])


def test_decay_run_dim0_reports_kappa_only_for_1_over_t():
    mf = synth.make(synth.power_law(1.0, 0.25), synth.log_times(1000), attrs={"dim": 0})
    r = analyze(mf)
    assert r["kind"] == "decay run" and r["size_kind"] == "N"
    assert within(r["estimates"]["kappa"], 4.0)
    dp = synth.make(synth.power_law(0.16), synth.log_times(1000), attrs={"dim": 0})
    r = analyze(dp)
    assert "kappa" not in r["estimates"] and any("kappa" in n for n in r["notes"])


def test_single_point_sweep_is_a_run():
    ds = synth.make(synth.power_law(0.16), synth.log_times(1000), sweep={"p": [0.6447]})
    assert analyze(ds)["kind"] == "decay run"


def test_mismatched_inputs_raise():
    import json

    import pytest

    from absorbphys.analysis import Estimate, classify, critical_point

    f = synth.scaling_sweep(DP["delta"], DP["nu_par"], 0.6447)
    ds = synth.make(f, synth.log_times(1000), sweep={"p": [0.63, 0.64, 0.65, 0.66]})
    with pytest.raises(ValueError, match="not a dimension"):
        critical_point(ds, control="lam")
    with pytest.raises(ValueError, match="control"):
        critical_point(ds.drop_vars("p").rename({"p": "q"}).assign_attrs(control="x"))
    other = synth.make(f, synth.log_times(1000), sweep={"p": [0.63, 0.64, 0.65, 0.66]},
                       seed=7).assign_attrs(dim=2)  # other data: equal data is a duplicate
    with pytest.raises(ValueError, match="disagree"):
        classify(ds, other)
    e = Estimate(0.1595, 0.0012)
    assert json.loads(json.dumps(e.to_dict())) == {"value": 0.1595, "error": 0.0012}
    assert str(e) == "0.1595 ± 0.0012" and tuple(e) == (0.1595, 0.0012)
    assert abs(e.deviation((0.1607, 0.0016)) + 0.6) < 1e-9
    with pytest.raises(ValueError, match="error"):
        Estimate(0.1, -1.0)
    with pytest.raises(ValueError, match="finite"):
        Estimate(float("nan"), 0.1)

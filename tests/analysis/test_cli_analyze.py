import json

import numpy as np
import pytest
import synth

from absorbphys.cli import main


def _write(ds, path):
    ds.to_netcdf(path, engine="netcdf4")
    return str(path)


@pytest.fixture
def sweep_file(tmp_path):
    f = synth.scaling_sweep(0.159464, 1.733847, 0.6447)
    ds = synth.make(f, synth.log_times(3000), sweep={"p": 0.6447 + np.linspace(-0.02, 0.02, 9)})
    return _write(ds, tmp_path / "sweep.nc")


@pytest.fixture
def seed_file(tmp_path):
    ds = synth.make(synth.power_law(0.159464, 0.7), synth.log_times(3000), var="survival",
                    seed=1, extra_vars={"n_active": synth.power_law(-0.313686, 1.0),
                                        "r2": synth.power_law(-2 / 1.580745, 0.5)},
                    attrs={"init": "seed"})
    return _write(ds, tmp_path / "seed.nc")


def test_analyze_json(sweep_file, capsys):
    assert main(["analyze", sweep_file, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "decay sweep"
    assert set(out["estimates"]) >= {"p_c", "delta"}
    for e in out["estimates"].values():
        assert set(e) == {"value", "error"} and e["error"] > 0
    assert abs(out["estimates"]["p_c"]["value"] - 0.6447) < 4 * out["estimates"]["p_c"]["error"]


def test_analyze_text(seed_file, capsys):
    assert main(["analyze", seed_file]) == 0
    out = capsys.readouterr().out
    assert "seed run" in out and "theta =" in out


def test_classify_json_ranked(sweep_file, seed_file, capsys):
    assert main(["classify", sweep_file, seed_file, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] in ("match", "inconclusive", "no match")
    assert out["best"] == "dp_1d"
    ranks = [c["rank"] for c in out["classes"]]
    assert ranks == list(range(1, len(ranks) + 1))
    assert all(set(e) == {"value", "error"} for e in out["estimates"].values())


def test_classify_text(sweep_file, capsys):
    assert main(["classify", sweep_file]) == 0
    out = capsys.readouterr().out
    assert "verdict: inconclusive" in out and "ranking" in out


@pytest.mark.parametrize("cmd", ["analyze", "classify"])
def test_errors_exit_2_with_one_line(cmd, tmp_path, capsys):
    assert main([cmd, str(tmp_path / "missing.nc")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    ds = synth.make(lambda t, **_: 0.0 * t, synth.log_times(100))
    bad = _write(ds, tmp_path / "zeros.nc")
    assert main([cmd, bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absorbed" in err


def test_bad_option_exit_2(sweep_file, capsys):
    assert main(["classify", sweep_file, "--alpha", "x"]) == 2
    assert main(["analyze", sweep_file, "--n-boot", "1"]) == 2


def test_n_boot_and_seed_bounds_exit_2(sweep_file, capsys):
    for cmd in ("analyze", "classify"):
        assert main([cmd, sweep_file, "--n-boot", "1000000000"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--n-boot must be an integer in [2, 100000]" in err
        assert main([cmd, sweep_file, "--seed", "-1"]) == 2
        assert "--seed" in capsys.readouterr().err
    assert main(["classify", sweep_file, "--alpha", "0"]) == 2
    assert "--alpha must be in (0, 1)" in capsys.readouterr().err


def test_classify_same_file_twice_exit_2(sweep_file, tmp_path, capsys, monkeypatch):
    import os

    monkeypatch.chdir(os.path.dirname(sweep_file))
    for second in (sweep_file, "./" + os.path.basename(sweep_file)):
        assert main(["classify", sweep_file, second]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "given twice" in err
    copy = tmp_path / "copy.nc"
    copy.write_bytes(open(sweep_file, "rb").read())
    assert main(["classify", sweep_file, str(copy)]) == 2  # equal data in another file
    assert "same data" in capsys.readouterr().err


def test_seed_run_where_nothing_dies(tmp_path, capsys):
    # supercritical seed run: survival 1 throughout, so delta' is not measured (was -0 exact)
    out = str(tmp_path / "dpseed.nc")
    assert main(["simulate", "dp", "-p", "L=32", "-p", "p=0.7", "--t-max", "20", "--samples",
                 "8", "--init", "seed", "--times", "log", "--out", out]) == 0
    capsys.readouterr()
    assert main(["analyze", out, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert "delta_prime" not in r["estimates"]
    assert any("delta_prime not measured" in n for n in r["notes"])
    # nothing died: n_active and r2 trace the light cone, not critical spreading
    assert "theta" not in r["estimates"] and "z" not in r["estimates"]
    assert any("theta and z not measured" in n for n in r["notes"])
    assert all(e["error"] > 0 for e in r["estimates"].values())
    assert main(["analyze", out]) == 0
    assert "exact" not in capsys.readouterr().out
    assert main(["classify", out, "--json"]) == 2     # nothing left to classify
    assert "no exponent could be measured" in capsys.readouterr().err


def test_analyze_fit_window(sweep_file, capsys):
    assert main(["analyze", str(sweep_file), "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert main(["analyze", str(sweep_file), "--json", "--t-min", "100"]) == 0
    late = json.loads(capsys.readouterr().out)
    key = [k for k in full["estimates"] if k.endswith("_c")][0]
    assert late["estimates"][key] != full["estimates"][key]   # the window reached the fits
    assert main(["analyze", str(sweep_file), "--t-min", "50", "--t-max", "10"]) == 2
    assert "--t-max must be above --t-min" in capsys.readouterr().err
    assert main(["analyze", str(sweep_file), "--t-min", "abc"]) == 2
    assert "--t-min must be" in capsys.readouterr().err

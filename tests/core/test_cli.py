"""CLI: models, simulate, one-line errors with exit status 2."""

import subprocess
import sys

import pytest
from _toy import ToyDP  # noqa: F401  (registers the test model)

import absorbphys as ap
from absorbphys.cli import main


def test_models_lists_parameters(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "_toy_dp" in out and "[0, 1]" in out


def test_simulate_writes_file_and_summary(tmp_path, capsys):
    out = tmp_path / "r.nc"
    rc = main(["simulate", "_toy_dp", "--param", "L=16", "--param", "p=0.8", "--t-max", "10",
               "--samples", "4", "--seed", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "rho =" in text and "wrote" in text
    ds = ap.load(out)
    assert ds.attrs["seed"] == 2 and ds.sizes["t"] == 11


@pytest.mark.parametrize("argv, match", [
    (["simulate", "nope", "--t-max", "5"], "unknown model 'nope'"),
    (["simulate", "_toy_dp", "--param", "L=8", "--param", "p=1.5", "--t-max", "5"],
     r"p must be in \[0, 1\]"),
    (["simulate", "_toy_dp", "--param", "q=1", "--t-max", "5"], "unknown parameter 'q'"),
    (["simulate", "_toy_dp", "--param", "p", "--t-max", "5"], "NAME=VALUE"),
    (["simulate", "_toy_dp", "--t-max", "0"], "t_max must be"),
    (["simulate", "_toy_dp", "--t-max", "5", "--samples", "0"], "samples must be"),
    (["simulate", "_toy_dp", "--t-max", "5", "--backend", "tpu"], "backend must be"),
    (["simulate", "_toy_dp", "--t-max", "5", "--out", "/nonexistent/dir/x.nc"],
     "does not exist"),
])
def test_simulate_errors_exit_2_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    import re

    assert re.search(match, err), err


def test_entry_point_exit_code_and_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "absorbphys.cli", "simulate", "nope", "--t-max",
                        "3"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "unknown model" in r.stderr
    r = subprocess.run([sys.executable, "-m", "absorbphys.cli", "bogus"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_benchmark_print_config_round_trips(tmp_path, capsys):
    import json

    assert main(["benchmark", "--print-config"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in quick][:3] == ["dp1d", "cp2d", "mfcp"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(quick[:1]))
    assert main(["benchmark", "--config", str(path), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out) == quick[:1]
    assert main(["benchmark", "--full", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out) != quick
    # --only selects the entries to print (to edit one row into a config file)
    assert main(["benchmark", "--print-config", "--only", "mfcp", "mlp"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["mfcp", "mlp"]


def test_simulate_json_summary(capsys):
    import json

    rc = main(["simulate", "_toy_dp", "-p", "L=16", "-p", "p=0.8", "--t-max", "10",
               "--samples", "7", "--batches", "3", "--seed", "2", "--json", "--quiet"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    ds = ap.simulate(ap.get_model("_toy_dp")(L=16, p=0.8), t_max=10, samples=7, batches=3,
                     seed=2)
    rho = ds.rho.isel(t=-1).weighted(ds.n_samples).mean("batch").item()
    assert out["model"] == "_toy_dp" and out["samples"] == 7 and out["file"] is None
    assert out["rho"] == pytest.approx(rho) and out["rho_error"] > 0

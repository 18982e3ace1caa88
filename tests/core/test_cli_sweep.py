"""CLI ``absorbphys sweep``: grid specs, one-line errors before any work, output file."""

import json
import os
import re

import numpy as np
import pytest
import xarray as xr
from _sweep_toy import SweepToy

import absorbphys as ap
from absorbphys import _sweep
from absorbphys.cli import main
from absorbphys.cli._sweep import parse_grid_spec


def test_range_specs_are_inclusive_and_clean():
    name, vals = parse_grid_spec("p=0.640:0.650:11", SweepToy)
    assert name == "p" and len(vals) == 11
    assert vals[0] == 0.64 and vals[3] == 0.643 and vals[-1] == 0.65  # exact decimals
    assert parse_grid_spec("L=16:64:4", SweepToy) == ("L", [16, 32, 48, 64])
    assert parse_grid_spec("L=256,512, 1024", SweepToy) == ("L", ["256", "512", "1024"])
    assert parse_grid_spec("p=0.5:0.5:1", SweepToy) == ("p", [0.5])
    assert parse_grid_spec("kind=site,bond", SweepToy) == ("kind", ["site", "bond"])


def test_cli_sweep_writes_the_same_dataset_as_the_api(tmp_path, capsys):
    out = tmp_path / "s.nc"
    rc = main(["sweep", "_sweep_toy", "--grid", "p=0.6:0.8:3", "--grid", "L=8,12",
               "--param", "kind=bond", "--t-max", "10", "--samples", "6", "--batches", "3",
               "--seed", "4", "--workers", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr()
    assert "6 points over p[3] x L[2]" in text.out and f"wrote {out}" in text.out
    assert text.err == ""  # --quiet
    ds = ap.load(out)
    ref = ap.sweep("_sweep_toy", grid={"p": [0.6, 0.7, 0.8], "L": [8, 12]},
                   params={"kind": "bond"}, t_max=10, samples=6, batches=3, seed=4, workers=1)
    for d in (ds, ref):
        d.attrs.pop("created")
    xr.testing.assert_identical(ds, ref)
    assert not os.path.exists(str(out) + ".parts")


def test_cli_keep_parts_and_resume(tmp_path, capsys):
    out = tmp_path / "s.nc"
    argv = ["sweep", "_sweep_toy", "--grid", "p=0.6,0.7", "--t-max", "8", "--samples", "4",
            "--workers", "1", "--out", str(out), "--quiet", "--keep-parts"]
    assert main(argv) == 0
    first = ap.load(out)
    assert os.path.isdir(str(out) + ".parts")
    assert main(argv) == 2  # the run directory is there: refuse without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(argv + ["--resume"]) == 0
    again = ap.load(out)
    np.testing.assert_array_equal(first["rho"].values, again["rho"].values)
    assert main(argv[:3] + ["p=0.6,0.75"] + argv[4:] + ["--resume"]) == 2
    assert "different sweep" in capsys.readouterr().err


@pytest.mark.parametrize("extra, match", [
    (["--grid", "p=0.7:0.6:5"], r"START must be <= STOP, got 0.7 > 0.6"),
    (["--grid", "p=0.1:0.2:0"], "NUM must be an integer in \\[1, 1000000\\], got 0"),
    (["--grid", "p=0.1:0.2:x"], "NUM must be an integer >= 1"),
    (["--grid", "p=0.1:0.2"], "three fields"),
    (["--grid", "p=a:0.2:3"], "'START' is not a number"),
    (["--grid", "p=0.3:0.3:4"], "START == STOP"),
    (["--grid", "p="], "no values"),
    (["--grid", "p=0.1,,0.2"], "empty value"),
    (["--grid", "p"], "NAME=VALUE"),
    (["--grid", "q=1,2"], "unknown parameter 'q'"),
    (["--grid", "p=0.5:1.5:3"], r"p must be in \[0, 1\], got 1.5"),
    (["--grid", "p=0.5,0.5"], "twice"),
    (["--grid", "L=2:3:5"], "do not fit"),
    (["--grid", "L=2.5:8:3"], "START and STOP must be integers"),
    (["--grid", "L=1,8"], r"L must be an integer in \[2, inf\)"),
    (["--grid", "kind=a:b:2"], "give a comma list"),
    (["--grid", "kind=site,edge"], "kind must be one of"),
    (["--grid", "p=0.5", "--grid", "p=0.6"], "given twice"),
    (["--grid", "p=0.5", "--param", "p=0.6"], "both as --grid and --param"),
    (["--grid", "p=0.5", "--param", "zz=1"], "unknown parameter 'zz'"),
    ([], "at least one --grid"),
    (["--grid", "p=0.5", "--samples", "0"], "samples must be"),
    (["--grid", "p=0.5", "--workers", "0"], "workers must be"),
    (["--grid", "p=0.5", "--init", "seed"], "init must be one of"),
    (["--grid", "p=0.5", "--backend", "tpu"], "backend must be one of"),
])
def test_bad_grid_one_line_exit_2_before_any_work(extra, match, tmp_path, capsys,
                                                   monkeypatch):
    calls = []
    monkeypatch.setattr(_sweep.executors, "run_point", lambda task: calls.append(task))
    argv = ["sweep", "_sweep_toy", "--t-max", "5", "--out", str(tmp_path / "x.nc"),
            "--quiet"] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert re.search(match, err), err
    assert calls == [] and os.listdir(tmp_path) == []


def test_unknown_model_and_missing_out(tmp_path, capsys):
    assert main(["sweep", "nope", "--grid", "p=0.5", "--t-max", "5",
                 "--out", str(tmp_path / "x.nc")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sweep", "_sweep_toy", "--grid", "p=0.5", "--t-max", "5"])
    assert info.value.code == 2


def test_manifest_records_the_configuration(tmp_path):
    out = tmp_path / "m.nc"
    assert main(["sweep", "_sweep_toy", "--grid", "L=8,16", "--t-max", "6", "--times", "log",
                 "--workers", "1", "--out", str(out), "--quiet", "--keep-parts"]) == 0
    man = json.loads((tmp_path / "m.nc.parts" / "manifest.json").read_text())
    assert man["model"] == "_sweep_toy" and man["grid"] == {"L": [8, 16]}
    assert man["fixed"] == {"p": 0.5, "kind": "site"} and man["t_max"] == 6
    assert man["times"]["n"] == ap.load(out).sizes["t"]

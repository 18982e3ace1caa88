"""``absorbphys benchmark``: pipeline end to end, outputs, JSON, bad input, honesty."""

import json
import math

import numpy as np
import pytest
import xarray as xr

import absorbphys as ap
from absorbphys._benchmark import benchmark, classify_groups
from absorbphys._benchmark.config import Entry, default_config, load_config
from absorbphys.analysis._estimate import Estimate
from absorbphys.cli import main

# A tiny 1+1 bond DP entry: every stage (coarse-to-fine sweep, decay, spreading, FSS with the
# critical-point shift, beta) runs in a few seconds once the DK kernel is compiled.
TINY_DP = dict(
    name="tiny-dp", label="1+1 bond DP, tiny", model="dp",
    params={"kind": "bond", "dim": 1}, control="p", window=[0.60, 0.69], size=4096,
    t_max=512, sweep_points=9, sweep_samples=8, refine=1, decay_t_max=1024,
    decay_samples=8, spreading={"size": 1024, "t_max": 512, "samples": 1000},
    fss_sizes=[16, 32, 64], fss_t_factor=4.0, fss_t_power=1.58, fss_samples=40,
    beta_offsets=[0.03, 0.05, 0.07, 0.1], beta_t_max=1024, beta_size=1024, beta_samples=4,
    beta_stationary_tol=0.2, budget_s=10, extra={"n_boot": 8},
)

# The honesty test: the Domany-Kinzel automaton on its compact-DP line p2 = 1, swept over
# p1 (transition at p1 = 1/2; seed survival t^-1/2, theta = 0, z = 2). Its fully active
# state is absorbing too (p2 = 1), so the critical point is located from seed runs.
COMPACT_DP = dict(
    name="compact-dp", label="Domany-Kinzel, p2 = 1 (compact DP)", model="dk",
    params={"p2": 1.0, "dim": 1}, control="p1", window=[0.40, 0.60], size=1024,
    locate_init="seed", decay=False, t_max=1024, sweep_points=9, sweep_samples=10000,
    final_samples=20000, refine=1,
    spreading={"size": 2048, "t_max": 1024, "samples": 20000}, budget_s=15,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out"
    res = benchmark(config=[Entry(**TINY_DP)], out=out, seed=3, progress=False)
    return res, out


def test_pipeline_writes_every_output(tiny_run):
    res, out = tiny_run
    row = res.rows[0]
    assert row["verdict"] in ("match", "inconclusive", "no match")
    # every stage produced its estimate (nothing silently skipped)
    for k in ("critical_point", "delta", "delta_prime", "theta", "z_spreading", "fss_a",
              "fss_b", "beta"):
        assert isinstance(row.get(k), Estimate), (k, row.get("stage_errors"))
        assert row[k].error > 0
    assert not row["stage_errors"]
    # the spreading errors in their parts: statistics, drift across the fit window, and the
    # critical point's shift
    for k in ("delta_prime", "theta", "z_spreading"):
        assert set(row["error_parts"][k]) == {"stat", "window", "critical_point"}, k
    # the critical point came out of the sweep inside the window
    assert 0.60 < row["critical_point"].value < 0.69
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for f in ("report.md", "report.html", "results.json", "figures/tiny-dp_decay.png",
              "figures/tiny-dp_collapse.png", "figures/classes.png",
              "data/tiny-dp/estimates.nc", "data/tiny-dp/decay.nc",
              "data/tiny-dp/spreading.nc", "data/tiny-dp/sweep0.nc", "data/tiny-dp/beta.nc",
              "data/tiny-dp/fss_16.nc"):
        assert f in files, f
    assert not [f for f in files if ".part" in f or "staging" in f]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "tiny-dp" in html
    md = (out / "report.md").read_text()
    assert "| tiny-dp |" in md and "Verdict" in md
    summary = json.loads((out / "results.json").read_text())
    assert summary["processes"][0]["critical_point"].keys() == {"value", "error"}
    assert all((out / f).is_file() for f in summary["files"])
    ds = ap.load(out / "data" / "tiny-dp" / "estimates.nc")
    assert float(ds["delta_error"]) > 0 and ds.attrs["verdict"] == row["verdict"]
    sweep = ap.load(out / "data" / "tiny-dp" / "sweep0.nc")
    assert sweep.sizes["p"] == 9 and "rho" in sweep


def test_table_and_json(tiny_run):
    res, _ = tiny_run
    text = res.table()
    assert "tiny-dp" in text and "critical point" in text and "verdict" in text
    d = json.loads(res.to_json())
    row = d["processes"][0]
    for k in ("critical_point", "delta", "beta"):
        assert set(row[k]) == {"value", "error"} and math.isfinite(row[k]["value"])
    assert row["verdict"] == res.rows[0]["verdict"]


def test_rerun_replaces_output_and_keeps_no_temporaries(tiny_run, tmp_path):
    _, out = tiny_run
    res = benchmark(config=[Entry(**TINY_DP)], out=out, seed=3, progress=False)
    assert (out / "report.html").is_file()
    parent = out.parent
    assert not [p for p in parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert res.rows[0]["critical_point"] is not None


def test_cli_json_is_one_valid_object(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    small = dict(TINY_DP, spreading=None, fss_sizes=[], beta_offsets=[])
    cfg.write_text(json.dumps([small]))
    rc = main(["benchmark", "--config", str(cfg), "--out", str(tmp_path / "o"), "--json",
               "--quiet", "--seed", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    d = json.loads(out)
    assert d["mode"] == "quick" and d["seed"] == 1
    assert d["processes"][0]["name"] == "tiny-dp"
    assert set(d["processes"][0]["delta"]) == {"value", "error"}


@pytest.mark.parametrize("argv, match", [
    (["benchmark", "--only", "nope"], r"unknown process 'nope'; valid: dp1d"),
    (["benchmark", "--out", "FILE"], r"is a file"),
    (["benchmark", "--out", "/nonexistent/dir/out"], r"does not exist"),
    (["benchmark", "--seed", "-1"], r"seed must be"),
    (["benchmark", "--config", "/nonexistent.json"], r"cannot read"),
])
def test_bad_input_exit_2_one_line(argv, match, tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    argv = [str(f) if a == "FILE" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    import re

    assert re.search(match, err), err
    assert f.read_text() == "x"  # a file given as --out is never touched


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="unknown field 'bogus'"):
        p = tmp_path / "c.json"
        p.write_text(json.dumps([dict(TINY_DP, bogus=1)]))
        load_config(p)
    with pytest.raises(ValueError, match="window must have low < high"):
        Entry(**dict(TINY_DP, window=[0.7, 0.6]))
    with pytest.raises(ValueError, match="unknown parameter 'q'"):
        benchmark(config=[Entry(**dict(TINY_DP, params={"q": 1}))], out=None)
    with pytest.raises(ValueError, match="mode must be"):
        benchmark(mode="slow")
    names = [e.name for e in default_config("quick")]
    assert {"dp1d", "cp2d", "mfcp", "mlp", "resmlp", "cnn1d", "cnn1d-lc", "cnn2d", "cnn2d-lc",
            "cnn1d-lc-hardtanh"} == set(names)
    assert sum(e.budget_s for e in default_config("quick")) <= 600
    full = {e.name: e for e in default_config("full")}
    assert all(full[n].size >= e.size for n, e in
               {e.name: e for e in default_config("quick")}.items())


def test_verdict_needs_two_independent_groups():
    # A DP-like decay exponent alone is never a match.
    one = classify_groups({"delta": Estimate(0.1595, 0.002)}, dim=1, size_kind="L")
    assert one["verdict"] == "inconclusive" and one["best"] == "dp_1d"
    # Decay and spreading both DP 1+1, but the catalog's Manna values are too uncertain to
    # be excluded by them: inconclusive, with both named.
    dp = {"delta": Estimate(0.1595, 0.004), "delta_prime": Estimate(0.159, 0.004),
          "theta": Estimate(0.313, 0.006), "z_spreading": Estimate(1.58, 0.02)}
    two = classify_groups(dp, dim=1, size_kind="L")
    assert two["verdict"] == "inconclusive" and two["best"] == "dp_1d"
    assert two["runner_up"] == "manna_1d" and "cannot separate" in two["reason"]
    # The stationary density (beta) excludes Manna: match.
    three = classify_groups({**dp, "beta": Estimate(0.2765, 0.008)}, dim=1, size_kind="L")
    assert three["verdict"] == "match" and three["best"] == "dp_1d", three["reason"]
    # A tuned DP-like decay exponent with ballistic spreading (N ~ t^0.8, no decay of the
    # survival, as in the weight-shared CNN): DP is rejected; Manna, for which the catalog
    # has no spreading values, is resolved by one group only: no match is declared.
    bad = classify_groups({"delta": Estimate(0.16, 0.01),
                           "delta_prime": Estimate(0.0, 0.01),
                           "theta": Estimate(0.8, 0.02)}, dim=1, size_kind="L")
    assert bad["verdict"] != "match"
    assert bad["groups"]["spreading"]["dp_1d"] < 1e-6 and bad["best"] != "dp_1d"


def test_honesty_compact_dp_is_not_dp(tmp_path):
    """The pipeline classifies by the data: the compact-DP point is not called DP."""
    res = benchmark(config=[Entry(**COMPACT_DP)], out=tmp_path / "o", seed=2,
                    progress=False)
    row = res.rows[0]
    assert not row["stage_errors"], row["stage_errors"]
    # critical point near the exact p1 = 1/2, found by the sweep (window 0.4-0.6)
    xc = row["critical_point"]
    assert abs(xc.value - 0.5) < 5 * xc.error + 0.003, xc
    # seed survival ~ t^-1/2 and theta ~ 0, not DP's 0.16 and 0.31 (errors include the shift
    # across the critical point's error bar)
    dp, th = row["delta_prime"], row["theta"]
    assert abs(dp.value - 0.5) < 3 * dp.error + 0.05, dp
    assert abs(th.value) < 3 * th.error + 0.05, th
    consistent = {c for c, _, ok, *_ in row["ranking_all"] if ok}
    assert "compact_dp" in consistent, row["ranking_all"]
    assert "dp_1d" not in consistent, row["ranking_all"]  # DP is rejected by the data
    assert row["best"] != "dp_1d"
    # one group (spreading) only: never a match
    assert row["verdict"] == "inconclusive"


def test_resume_reuses_finished_stages(tmp_path):
    """Checkpointed runs (full mode's default): a rerun reuses every finished stage."""
    small = Entry(**dict(TINY_DP, fss_sizes=[], beta_offsets=[]))
    out = tmp_path / "o"
    first = benchmark(config=[small], out=out, seed=4, resume=True, progress=False)
    ck = out / ".checkpoints" / "tiny-dp"
    assert (ck / "sweep0.nc").is_file() and (ck / "sweep0.json").is_file()
    assert (ck / "decay.nc").is_file() and (ck / "spreading.nc").is_file()
    # a half-written stage (an interrupted run) is recomputed, the others are reused
    (ck / "decay.json").unlink()
    second = benchmark(config=[small], out=out, seed=4, resume=True, progress=False)
    r1, r2 = first.rows[0], second.rows[0]
    for k in ("critical_point", "delta", "delta_prime", "theta"):
        assert r1[k] == r2[k], k
    assert (out / ".checkpoints").is_dir() and (out / "report.html").is_file()
    # a different seed is a different request: nothing is reused
    third = benchmark(config=[small], out=out, seed=5, resume=True, progress=False)
    assert third.rows[0]["critical_point"] != r1["critical_point"]


# ---------------------------------------------------------------------------- input validation
# Every bad configuration is refused when it is loaded, before any simulation: these entries
# are tiny so that a regression (the benchmark running anyway) stays fast.
TINY_BAD_BASE = dict(
    name="tiny-dp", label="1+1 bond DP, tiny", model="dp",
    params={"kind": "bond", "dim": 1}, control="p", window=[0.60, 0.69], size=64,
    t_max=16, sweep_points=3, sweep_samples=2, refine=0, decay_samples=2,
    spreading={"size": 64, "t_max": 16, "samples": 4}, fss_sizes=[8, 16],
    fss_samples=4, beta_offsets=[0.05, 0.1, 0.2], beta_samples=2, budget_s=1,
)


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_builtin_configs_pass_validation(mode, tmp_path):
    from absorbphys._benchmark.main import _check_entry

    cfg = default_config(mode)
    for e in cfg:
        _check_entry(e, "cpu")   # model, sizes, times, guess, backend
        assert Entry(**e.to_dict()) == e   # validation is idempotent
    # ... and the same configuration written as JSON loads unchanged
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps([e.to_dict() for e in cfg]))
    assert load_config(p) == cfg


BAD_FIELDS = [
    # (field, value, the message names the field and its valid range)
    ("fss_sizes", [-4, 8], r"fss_sizes must be a list of sizes, each an integer in "
                           r"\[2, 10000000000\], got \[-4, 8\]"),
    ("fss_sizes", 5, r"fss_sizes must be a list of sizes, each an integer in \[2, .*got 5"),
    ("fss_sizes", [16], r"fss_sizes must be empty .* at least 2 sizes"),
    ("fss_sizes", [8, 8], r"fss_sizes must not repeat a size"),
    ("spreading", "yes", r"spreading must be null \(None\) or an object \{size, t_max, "
                         r"samples\[, params, shift\]\}, got 'yes'"),
    ("spreading", {"size": -1, "t_max": 16, "samples": 4},
     r"spreading\.size must be an integer in \[2, 10000000000\], got -1"),
    ("spreading", {"size": 64, "t_max": 16}, r"spreading lacks the key 'samples'"),
    ("spreading", {"size": 64, "t_max": 16, "samples": 4, "sise": 2},
     r"spreading has unknown key 'sise'"),
    ("spreading", {"size": 64, "t_max": "abc", "samples": 4},
     r"spreading\.t_max must be in \[4, inf\), got 'abc'"),
    ("spreading", {"size": 64, "t_max": 16, "samples": 4, "shift": "no"},
     r"spreading\.shift must be true or false, got 'no'"),
    ("drift", {"window": [0.1, 0.5], "points": 9, "t_max": 64},
     r"drift lacks the key 'samples'"),
    ("drift", {"window": [0, 0.5], "points": 9, "t_max": 64, "samples": 4},
     r"drift\.window must be \[lo, hi\] with 0 < lo < hi"),
    ("drift", {"window": [0.1, 0.5], "points": 9, "t_max": 64, "samples": 4, "ratio": 1},
     r"drift\.ratio must be in \(1, inf\), got 1"),
    ("spreading", {"size": 64, "t_max": 16, "samples": 4, "params": {"zz": 1}},
     r"spreading\.params: unknown parameter 'zz' for model 'dp'"),
    ("beta_offsets", [-0.5], r"beta_offsets must be a list of finite numbers > 0 .*, "
                             r"got \[-0\.5\]"),
    ("beta_offsets", [0.1, 0.05, 0.2], r"beta_offsets must be strictly increasing"),
    ("beta_offsets", [0.05, 0.1], r"beta_offsets must be empty .* at least 3 offsets"),
    ("guess", "nope", r"guess must be null \(None\) or 'meanfield', got 'nope'"),
    ("guess", "meanfield", r"guess 'meanfield' needs control 'sigma_w'"),
    ("t_max", "abc", r"t_max must be in \[4, inf\), got 'abc'"),
    ("t_max", float("inf"), r"t_max must be in \[4, inf\) and finite, got inf"),
    ("t_max", float("nan"), r"t_max must be in \[4, inf\), got nan"),
    ("t_max", 2, r"t_max must be in \[4, inf\), got 2"),
    ("t_max", 1e30, r"t_max must be an integer .* below 2\*\*63"),
    ("fit_window", "abc", r"fit_window must be in \[0\.1, 1\], got 'abc'"),
    ("window", 5, r"window must be two finite numbers \[low, high\], got 5"),
    ("window", [0.6, 0.7, 0.8], r"window must be two finite numbers"),
    ("window", [0.6, float("inf")], r"window must be two finite numbers"),
    ("window", [0.5, 1.5], r"window \(p\) must be in \[0, 1\], got 1\.5"),
    ("size", 1.5, r"size must be an integer in \[2, 10000000000\], got 1\.5"),
    ("size", True, r"size must be an integer in \[2, 10000000000\], got True"),
    ("sweep_points", 2, r"sweep_points must be an integer in \[3, 1000\], got 2"),
    ("final_samples", 1, r"final_samples must be 0 or an integer in \[2, 10000000\], got 1"),
    ("coarse_size", -8, r"coarse_size must be 0 or an integer in \[2, 10000000000\], got -8"),
    ("decay_t_max", float("inf"), r"decay_t_max must be 0 or in \[4, inf\) and finite, got inf"),
    ("decay", "yes", r"decay must be true or false, got 'yes'"),
    ("locate_init", "half", r"locate_init must be one of 'full', 'seed', got 'half'"),
    ("window_halfwidth", -0.1, r"window_halfwidth must be in \[0, inf\), got -0\.1"),
    ("coarse_t_frac", 0, r"coarse_t_frac must be in \(0, 1\], got 0"),
    ("fss_t_factor", 0, r"fss_t_factor must be in \(0, inf\), got 0"),
    ("fss_t_min", 2.0, r"fss_t_min must be below fss_t_factor \(= 1: .*\), got 2"),
    ("fss_shift", "yes", r"fss_shift must be true or false, got 'yes'"),
    ("beta_t_min", 1.0, r"beta_t_min must be in \[0, 1\), got 1"),
    ("beta_size", 1, r"beta_size must be 0 or an integer in \[2, 10000000000\], got 1"),
    ("beta_stationary_tol", 0, r"beta_stationary_tol must be in \(0, inf\), got 0"),
    ("budget_s", -1, r"budget_s must be in \(0, inf\), got -1"),
    ("params", [1], r"params must be an object"),
    ("params", {"q": 1}, r"unknown parameter 'q' for model 'dp'"),
    ("control", "dim", r"control 'dim' of model 'dp' is not a real-valued parameter"),
    ("model", "nope", r"unknown model 'nope'"),
    ("label", 3, r"label must be a string, got 3"),
    ("extra", {"nboot": 3}, r"extra has unknown key 'nboot'; valid: n_boot"),
    ("extra", {"n_boot": 1}, r"extra\.n_boot must be an integer in \[2, 100000\], got 1"),
    ("name", "../x", r"name must be a non-empty string of letters"),
]


@pytest.mark.parametrize("field, value, match", BAD_FIELDS,
                         ids=[f"{f}={v!r}" for f, v, _ in BAD_FIELDS])
def test_bad_config_field_exit_2_before_any_work(field, value, match, tmp_path, capsys):
    import re

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps([dict(TINY_BAD_BASE, **{field: value})]))
    out = tmp_path / "o"
    assert main(["benchmark", "--config", str(cfg), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    name = "'../x'" if field == "name" else "'tiny-dp'"
    assert err.startswith(f"absorbphys benchmark: error: entry {name}: "), err
    assert re.search(match, err), err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json"]


def test_bad_entry_refused_by_the_python_api():
    with pytest.raises(ap.UsageError, match=r"entry 'tiny-dp': fss_sizes must be a list"):
        Entry(**dict(TINY_BAD_BASE, fss_sizes=[-4, 8]))
    with pytest.raises(ValueError, match=r"entry 'tiny-dp': spreading\.samples must be"):
        Entry(**dict(TINY_BAD_BASE, spreading={"size": 64, "t_max": 16, "samples": 0}))
    with pytest.raises(ValueError,
                       match=r"entry 'tiny-dp': t_max must be in \[4, inf\) and finite"):
        Entry(**TINY_BAD_BASE).replace(t_max=float("inf"))
    # lists become tuples, integral floats integers (as from JSON)
    e = Entry(**dict(TINY_BAD_BASE, size=64.0, fss_sizes=[8.0, 16]))
    assert e.size == 64 and isinstance(e.size, int) and e.fss_sizes == (8, 16)
    assert e.window == (0.60, 0.69) and e.beta_offsets == (0.05, 0.1, 0.2)
    # duplicate names in a Python configuration
    with pytest.raises(ValueError, match="duplicate entry name 'tiny-dp'"):
        benchmark(config=[Entry(**TINY_BAD_BASE)] * 2, out=None)


def test_duplicate_and_non_object_entries_in_a_file(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps([TINY_BAD_BASE, TINY_BAD_BASE]))
    with pytest.raises(ValueError, match="duplicate entry name 'tiny-dp'"):
        load_config(p)
    p.write_text(json.dumps([dict(TINY_BAD_BASE, name=["a"])]))
    with pytest.raises(ValueError, match=r"entry \['a'\]: name must be"):
        load_config(p)


@pytest.mark.parametrize("argv_backend", ["gpu", "CPU", ""])
def test_bad_backend_exit_2_before_any_work(argv_backend, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps([TINY_BAD_BASE]))
    out = tmp_path / "o"
    rc = main(["benchmark", "--config", str(cfg), "--out", str(out), "--quiet",
               "--backend", argv_backend])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert f"backend must be one of 'cpu', 'cuda', 'auto', got {argv_backend!r}" in err, err
    assert not out.exists()


def test_bad_backend_option_refused_up_front(monkeypatch, tmp_path):
    from absorbphys import config as _config

    monkeypatch.setitem(_config.OPTIONS, "backend", "gpu")
    with pytest.raises(ap.UsageError, match=r"option backend \(ABSORBPHYS_BACKEND\) must be"):
        benchmark(config=[Entry(**TINY_BAD_BASE)], out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_cuda_backend_without_gpu_refused_up_front(tmp_path):
    from absorbphys._backends import cuda_available

    if cuda_available():
        pytest.skip("a CUDA GPU is available")
    with pytest.raises(ap.UsageError, match=r"backend 'cuda' needs an NVIDIA GPU"):
        benchmark(config=[Entry(**TINY_BAD_BASE)], out=tmp_path / "o", backend="cuda")
    assert not (tmp_path / "o").exists()


def test_calibration_line_only_for_unchanged_builtin_rows(tmp_path, monkeypatch):
    import absorbphys._benchmark.main as bm

    e = {x.name: x for x in default_config("quick")}["dp1d"]
    rec = {"quick": {"machine": "VM", "date": "2026-12-06", "rows": {"dp1d": {
        "seeds": 10, "counts": {"match dp_1d": 9, "inconclusive dp_1d": 1},
        "config": json.loads(json.dumps(e.to_dict()))}}}}
    f = tmp_path / "freq.json"
    f.write_text(json.dumps(rec))
    monkeypatch.setattr(bm, "VERDICT_FREQUENCIES", f)
    line = bm.calibration_line(e, "quick", "match", "dp_1d")
    assert "came out in 9 of 10" in line and "inconclusive dp_1d (1)" in line
    assert "0 of 10" in bm.calibration_line(e, "quick", "no match", "manna_1d")
    # a changed configuration has no calibration: no stale claim
    assert bm.calibration_line(e.replace(size=8192), "quick", "match", "dp_1d") == ""
    assert bm.calibration_line(e, "full", "match", "dp_1d") == ""
    monkeypatch.setattr(bm, "VERDICT_FREQUENCIES", tmp_path / "missing.json")
    assert bm.calibration_line(e, "quick", "match", "dp_1d") == ""


def test_drift_check_reports_no_transition(tmp_path):
    """The residual MLP has no absorbing transition at sigma_w > 0: its located sigma_w,c
    falls with the depth (docs/physics.md). The quick row's drift check says so (10 of 10
    master seeds in calibration, docs/validation.md) instead of classifying a depth-dependent
    point; the later stages are skipped."""
    entry = next(e for e in default_config("quick") if e.name == "resmlp")
    res = benchmark(config=[entry], out=tmp_path / "o", seed=0, progress=False)
    row = res.rows[0]
    assert row["verdict"] == "no transition" and row["best"] == ""
    assert "drifts with the observation time" in row["reason"]
    assert "delta" not in row          # the decay stage did not run
    drift = res.analyses["resmlp"]["results"]["drift"]
    assert float(drift["slope"]) < -3 * float(drift["slope_error"])
    assert int(drift["drifts"]) == 1
    assert "no transition" in (tmp_path / "o" / "report.md").read_text()


class _SweepRunner:
    """Stands in for the benchmark's Runner: serves one synthetic sweep level.

    ``ln rho = -0.2 ln t + c(x) (ln t)^2 + noise`` per batch: ``c`` is strongly negative
    (absorbing side) below ``x = 1.5`` and ``curv_active(x)`` above it. Subclasses set
    ``shape(x) -> (d, c)`` for ``ln rho = -d ln t + c (ln t)^2 / 10``; ``d = None``: the runs
    at ``x`` are absorbed after ``t = 10``.
    """

    size_param = "L"

    class cls:  # noqa: N801 - the process class's interface the locate stage reads
        params: dict = {}

    def __init__(self, curv_active, seed=0):
        self.curv_active, self.seed, self.datasets = curv_active, seed, {}

    def shape(self, x):
        return 0.2, (-0.05 * (1.5 - x) / 0.1 if x < 1.5 else self.curv_active(x))

    def run(self, stage, grid, t_max, samples, init="full", fixed=None):
        (control, xs), = grid.items()
        t = np.unique(np.round(np.logspace(0, np.log10(t_max), 40)))
        rng = np.random.default_rng(self.seed)
        lt = np.log(t)
        rho = []
        for x in xs:
            d, c = self.shape(x)
            noise = 0.02 * rng.standard_normal((samples, 1)) * (lt / lt[-1]) ** 2
            r = np.exp(-(d or 0.0) * lt + c * (lt - lt[0]) ** 2 / 10 + noise)
            rho.append(np.where(t > 10, 0.0, r) if d is None else r)
        ds = xr.Dataset({"rho": ((control, "batch", "t"), np.array(rho)),
                         "n_samples": ((control, "batch"), np.ones((len(xs), samples)))},
                        coords={control: list(xs), "t": t}, attrs={"control": control})
        self.datasets[stage] = ds
        return ds


def test_locating_counts_the_ambiguity_of_weak_sign_changes():
    """A sweep whose active side is flat noise has several weak sign changes: the located
    value carries their spread (critical_point's ambiguity), not a bracket's width."""
    from absorbphys._benchmark.measure import EntryMeasurement

    entry = Entry(name="noisy", label="synthetic", model="dp", params={}, control="p",
                  window=(1.4, 2.0), size=64, t_max=1000, sweep_points=13, sweep_samples=16,
                  refine=0)
    flips = {round(1.5 + 0.05 * k, 2): (-1) ** k for k in range(11)}   # +1 at 1.5, -1 at 1.55...

    def flat_noise(x):   # weak curvatures of alternating sign (below one error each)
        return 0.0005 * flips[round(x, 2)]

    # (seed 1: every curvature above 1.5 within 1.1 errors of 0, as on the weight-shared
    # CNN rows' active side; critical_point's ambiguity on it: 0.21)
    m = EntryMeasurement(entry, _SweepRunner(flat_noise, seed=1))
    xc = m.locate()
    parts = m.error_parts["critical_point"]
    assert parts.get("ambiguity", 0) > 0.05, parts   # the weak changes span 1.5-2.0
    assert xc.error >= parts["ambiguity"]
    # a clean sweep (curvature rising through 0 once) has no ambiguity term
    clean = EntryMeasurement(entry, _SweepRunner(lambda x: 0.05 * (x - 1.75) / 0.1))
    clean.locate()
    assert "ambiguity" not in clean.error_parts["critical_point"]


def test_last_levels_quadratic_counts_which_run_it_fits():
    """The last level fits a quadratic through 4-6 values; where the curvature is no quadratic
    in x across them (steep on one side, flat on the other) the zero depends on the run, by
    several of its own errors. The ``run_choice`` part (largest shift, beyond its noise, when
    another candidate run is fitted) covers that miss, and adds little where the curvature is
    linear."""
    from absorbphys._benchmark.measure import _run_dependence

    xs = list(np.round(np.linspace(1.70, 1.82, 7), 6))     # true zero at 1.755, step 0.02
    shapes = {"linear": lambda x: 0.05 * (x - 1.755) / 0.02,
              "saturating": lambda x: 0.05 * np.tanh((x - 1.755) / 0.02)}
    found = {name: [] for name in shapes}
    for name, curv in shapes.items():
        for seed in range(6):
            runner = _ShapeRunner(lambda x, c=curv: (0.2, c(x)), seed)
            ds = runner.run("sweep", {"p": xs}, 1000, 16)
            for sel in ([2, 3, 4, 5], [1, 2, 3, 4]):
                res = ap.analysis.critical_point(ds.isel(p=sel), control="p", n_fit=4)
                run = _run_dependence(ds, "p", [2, 3], sel, np.ones(7, bool), "rho", None)
                found[name].append((float(res["p_c"]) - 1.755, float(res["p_c_error"]), run))
    dev, stat, run = np.array(found["saturating"]).T
    assert np.all(np.abs(dev) > 2.5 * stat), dev / stat      # the trap: 2.8-8.7 errors off
    assert np.all(np.abs(dev) < 2 * np.hypot(stat, run)), dev / np.hypot(stat, run)
    dev, stat, run = np.array(found["linear"]).T
    assert np.median(run) < 0.75 * np.median(stat), (run, stat)   # measured: 0.43


def test_decay_carries_the_critical_points_error_across_the_sweep():
    """delta is read at x_c; when x_c's error reaches the absorbing side, where the window
    exponent rises steeply, the decay's critical-point error holds that rise, though the
    local slope at a flat active-side x_c is about 0."""
    from absorbphys._benchmark.measure import EntryMeasurement
    from absorbphys.analysis import Estimate

    entry = Entry(name="flat", label="synthetic", model="dp", params={}, control="p",
                  window=(1.4, 2.0), size=64, t_max=1000, sweep_points=13, sweep_samples=16,
                  refine=0)
    m = EntryMeasurement(entry, _SweepRunner(lambda x: 0.0005, seed=2))
    m.locate()
    lc = m.window_exponents[-1][1]
    x, d = lc["p"].values, lc["delta_window"].values
    steep = float(np.interp(1.4, x, d) - np.interp(1.5, x, d))
    assert steep > 0.05          # the absorbing side's exponents rise below 1.5
    # deep in the flat active side: a small error stays small, one whose 2 sigma interval
    # reaches 1.4 does not (delta's 2 sigma interval holds the rise from 1.8 to 1.4)
    m.critical = Estimate(1.8, 0.05)
    small = m._delta_systematic()
    m.critical = Estimate(1.8, 0.2)
    wide = m._delta_systematic()
    assert small < 0.1 * steep
    assert 2.0 * wide > 0.5 * steep


class _ShapeRunner(_SweepRunner):
    """A :class:`_SweepRunner` whose every value follows ``shape(x) -> (d, c)``."""

    def __init__(self, shape, seed=0):
        super().__init__(None, seed)
        self.shape = shape


def test_no_crossing_when_the_active_side_bends_down_too():
    """Curvature negative everywhere, but the decay stops inside the window (layer-wide
    noise on a weight-shared CNN): moving the window up would find noise deep in the active
    phase, so locating fails with the reason."""
    from absorbphys._benchmark.measure import EntryFailed, EntryMeasurement

    entry = Entry(name="down", label="synthetic", model="dp", params={}, control="p",
                  window=(1.4, 2.0), size=64, t_max=1000, sweep_points=13, sweep_samples=16,
                  refine=0)
    m = EntryMeasurement(entry, _ShapeRunner(lambda x: (max(0.0, 0.5 * (1.7 - x) / 0.3),
                                                       -0.02)))
    with pytest.raises(EntryFailed, match="no zero of the late-time curvature"):
        m.locate()
    # ... but a flat top whose negative curvature is noise is no evidence: the window moves
    noise_top = EntryMeasurement(entry, _ShapeRunner(lambda x: (max(0.0, 0.5 * (1.7 - x) / 0.3),
                                                                -0.02 if x < 1.95 else -1e-4)))
    noise_top.locate()
    assert noise_top.window_used[1][0] > 1.9
    # the same window still moves up when its top value decays (all absorbing side)
    up = EntryMeasurement(entry, _ShapeRunner(lambda x: (0.2 + 2.0 - x, -0.05 - 0.1 * (x > 2.0)
                                                         + 0.2 * (x > 2.5))))
    up.locate()
    assert up.window_used[1][0] > 1.9


def test_decay_is_not_measured_when_the_critical_interval_holds_an_absorbed_value():
    """x_c's 2 sigma interval reaching a value absorbed inside the window: no finite error
    bar on delta covers it, so delta is left out with the reason."""
    from absorbphys._benchmark.measure import EntryFailed, EntryMeasurement
    from absorbphys.analysis import Estimate

    entry = Entry(name="dead", label="synthetic", model="dp", params={}, control="p",
                  window=(1.4, 2.0), size=64, t_max=1000, sweep_points=13, sweep_samples=16,
                  refine=0)
    m = EntryMeasurement(entry, _ShapeRunner(lambda x: (None, 0.0) if x < 1.5
                                             else (0.2, 0.05 * (x - 1.6) / 0.1)))
    m.locate()
    m.critical = Estimate(1.8, 0.05)
    assert np.isfinite(m._delta_systematic())
    m.critical = Estimate(1.55, 0.05)          # 2 sigma reaches 1.45, absorbed
    with pytest.raises(EntryFailed, match="delta is not measured"):
        m._delta_systematic()

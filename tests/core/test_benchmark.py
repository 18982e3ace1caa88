"""``absorbphys benchmark``: pipeline end to end, outputs, JSON, bad input, honesty."""

import json
import math

import pytest
from absorbphys.analysis._estimate import Estimate

import absorbphys as ap
from absorbphys._benchmark import benchmark, classify_groups
from absorbphys._benchmark_config import Entry, default_config, load_config
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
    assert {"dp1d", "cp2d", "mfcp", "mlp", "cnn1d", "cnn1d-lc", "cnn2d", "cnn2d-lc",
            "cnn1d-lc-hardtanh"} == set(names)
    assert sum(e.budget_s for e in default_config("quick")) <= 540
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
    consistent = {c for c, _, ok in row["ranking_all"] if ok}
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

"""Outputs never clobber what is not theirs; failures and leftovers are handled and reported.

Every file-system case builds its own FIFO, symlink or directory under ``tmp_path`` (never a
real device path). Disk-full and out-of-memory conditions are simulated by patching the
functions that report them.
"""

import errno
import json
import os
import stat
import subprocess
import sys
import warnings
from importlib import metadata

import numpy as np
import pytest
import xarray as xr
from _sweep_toy import SweepToy  # noqa: F401  (registers the sweep test model)
from _toy import ToyDP  # noqa: F401  (registers the test model)

import absorbphys as ap
from absorbphys import _io, _registry
from absorbphys._benchmark import report as _report
from absorbphys._benchmark.config import Entry
from absorbphys._benchmark.main import FREE_SPACE, benchmark
from absorbphys.cli import main

KW = dict(t_max=12, samples=6, batches=3)
SIM = ["simulate", "_toy_dp", "-p", "L=16", "-p", "p=0.8", "--t-max", "10", "--quiet"]
TINY_BENCH = dict(
    name="tiny-dp", label="1+1 bond DP, tiny", model="dp",
    params={"kind": "bond", "dim": 1}, control="p", window=[0.60, 0.69], size=256,
    t_max=64, sweep_points=5, sweep_samples=4, refine=0, decay=False, spreading=None,
    fss_sizes=(), beta_offsets=(), budget_s=10,
)


class Usage:
    """What shutil.disk_usage returns, with a chosen free space."""

    def __init__(self, free):
        self.free, self.total, self.used = free, 10**12, 10**12 - free


def run_cli(argv, capsys):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err.strip()


def one_line_error(rc, err, match):
    assert rc == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert match in err, err


def listing(path):
    return sorted(os.listdir(path))


# ---------------------------------------------------------------- --out targets
def test_fifo_target_is_refused_and_kept(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    rc, _, err = run_cli(SIM + ["--out", str(fifo)], capsys)
    one_line_error(rc, err, "not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert listing(tmp_path) == ["pipe"]


def test_fifo_target_refused_by_save_and_sweep(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    ds = ap.simulate(ToyDP(L=8, p=0.8), t_max=3, seed=1)
    with pytest.raises(ap.UsageError, match="not a regular file"):
        ap.save(ds, fifo)
    with pytest.raises(ap.UsageError, match="not a regular file"):
        ap.sweep("_sweep_toy", grid={"p": [0.7]}, out=fifo, workers=1, **KW)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and listing(tmp_path) == ["pipe"]


def test_symlink_target_is_written_through(tmp_path, capsys):
    real = tmp_path / "data" / "real.nc"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.nc"
    link.symlink_to(real)
    rc, _, err = run_cli(SIM + ["--out", str(link)], capsys)
    assert rc == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert ap.load(link).attrs["model"] == "_toy_dp"  # the target got the new data
    assert listing(real.parent) == ["real.nc"] and listing(tmp_path) == ["data", "link.nc"]


def test_symlink_to_fifo_is_refused(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link.nc").symlink_to(fifo)
    rc, _, err = run_cli(SIM + ["--out", str(tmp_path / "link.nc")], capsys)
    one_line_error(rc, err, "not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_trailing_separator_is_not_a_file_name(tmp_path, capsys):
    rc, _, err = run_cli(SIM + ["--out", str(tmp_path / "newdir") + "/"], capsys)
    one_line_error(rc, err, "ends with a path separator")
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- leftovers
def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_partial_file_removed_and_reported(tmp_path, capsys):
    out = tmp_path / "s.nc"
    stale = tmp_path / f".s.nc.{_dead_pid()}-abcd1234.part"
    stale.write_bytes(b"x" * 5000)
    alive = tmp_path / f".s.nc.{os.getpid()}-efgh5678.part"   # a running writer's file
    alive.write_bytes(b"y")
    other = tmp_path / f".t.nc.{_dead_pid()}-abcd1234.part"   # another target's leftover
    other.write_bytes(b"z")
    rc, _, err = run_cli(SIM + ["--out", str(out)], capsys)
    assert rc == 0
    assert "removed" in err and stale.name in err and "interrupted run" in err
    assert not stale.exists() and alive.exists() and other.exists()


def test_sweep_finds_stale_merge_leftover_without_resume(tmp_path):
    out = tmp_path / "r.nc"
    stale = tmp_path / f".r.nc.{_dead_pid()}-abcd1234.part"
    stale.write_bytes(b"half a merge")
    with pytest.warns(_io.AbsorbphysWarning, match="partial file"):
        ap.sweep("_sweep_toy", grid={"p": [0.7, 0.8]}, out=out, workers=1, **KW)
    assert listing(tmp_path) == ["r.nc"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    ds = ap.simulate(ToyDP(L=8, p=0.8), t_max=3, seed=1)
    (tmp_path / "s.nc").write_text("previous")

    def full_disk(self, path, *a, **k):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    monkeypatch.setattr(_io.shutil, "disk_usage", lambda p: Usage(free=1000))
    with pytest.raises(ap.UsageError, match="no space left on the device"):
        ap.save(ds, tmp_path / "s.nc")
    assert listing(tmp_path) == ["s.nc"] and (tmp_path / "s.nc").read_text() == "previous"


def test_full_disk_in_simulate_cli_is_one_line(tmp_path, capsys, monkeypatch):
    def full_disk(self, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    rc, _, err = run_cli(SIM + ["--out", str(tmp_path / "s.nc")], capsys)
    one_line_error(rc, err, "no space left")
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- sweep run directory
def test_regular_file_in_place_of_run_directory(tmp_path):
    (tmp_path / "s.nc.parts").write_text("mine")
    with pytest.raises(ap.UsageError, match="not a directory"):
        ap.sweep("_sweep_toy", grid={"p": [0.7]}, out=tmp_path / "s.nc", workers=1, **KW)
    assert (tmp_path / "s.nc.parts").read_text() == "mine"


def test_resume_of_finished_sweep_computes_nothing(tmp_path, monkeypatch):
    from absorbphys import _sweep

    real = _sweep.executors.run_point
    out = tmp_path / "r.nc"
    ref = ap.sweep("_sweep_toy", grid={"p": [0.7, 0.8]}, out=out, workers=1, **KW).load()
    monkeypatch.setattr(_sweep.executors, "run_point", lambda task: pytest.fail("recomputed"))
    with pytest.warns(_io.AbsorbphysWarning, match="already complete"):
        again = ap.sweep("_sweep_toy", grid={"p": [0.7, 0.8]}, out=out, resume=True,
                         workers=1, **KW)
    xr.testing.assert_identical(again.load(), ref)
    # another configuration (seed) is not mistaken for the finished one: it is computed
    calls = []
    monkeypatch.setattr(_sweep.executors, "run_point",
                        lambda task: calls.append(1) or real(task))
    ap.sweep("_sweep_toy", grid={"p": [0.7, 0.8]}, out=out, resume=True, workers=1,
             **{**KW, "seed": KW.get("seed", 0) + 1})
    assert len(calls) == 2


def test_interrupt_hint_names_resume(tmp_path, capsys, monkeypatch):
    from absorbphys import _sweep

    def interrupt(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(_sweep.executors, "run_point", interrupt)
    out = tmp_path / "s.nc"
    rc, _, err = run_cli(["sweep", "_sweep_toy", "--grid", "p=0.7,0.8", "--t-max", "5",
                          "--out", str(out), "--workers", "1", "--quiet"], capsys)
    assert rc == 130 and "--resume" in err and "\n" not in err


# ---------------------------------------------------------------- loading
def test_analyze_fifo_says_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    rc, _, err = run_cli(["analyze", str(fifo)], capsys)
    one_line_error(rc, err, "not a regular file")


def test_file_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    ds = ap.simulate(ToyDP(L=8, p=0.8), t_max=50, seed=1, samples=4)
    ap.save(ds, tmp_path / "s.nc")
    monkeypatch.setattr(_io, "_available_memory", lambda: 1000.0)
    with pytest.raises(ap.UsageError, match="uncompressed data, more than"):
        ap.load(tmp_path / "s.nc")


# ---------------------------------------------------------------- messages
def test_long_input_is_not_echoed_whole(capsys):
    rc, _, err = run_cli(["simulate", "_toy_dp", "-p", "L=16", "-p", "p=" + "9" * 5000,
                          "--t-max", "5"], capsys)
    assert rc == 2 and len(err) < 400, err
    rc, _, err = run_cli(["simulate", "x" * 5000, "--t-max", "5"], capsys)
    assert rc == 2 and len(err) < 1000, len(err)


def test_continuous_t_max_not_a_number_names_the_parameter(capsys):
    rc, _, err = run_cli(["simulate", "contact", "-p", "L=8", "-p", "lam=3.3", "--t-max",
                          "abc"], capsys)
    one_line_error(rc, err, "--t-max must be")


# ---------------------------------------------------------------- benchmark directory
@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out"
    benchmark(config=[Entry(**TINY_BENCH)], out=out, seed=1, progress=False)
    return out


def test_benchmark_rerun_keeps_user_files(bench_dir):
    (bench_dir / "my_notes.txt").write_text("keep me")
    (bench_dir / "my_analysis").mkdir()
    (bench_dir / "my_analysis" / "fit.py").write_text("x = 1")
    (bench_dir / "data" / "tiny-dp" / "mine.nc").write_text("mine")
    before = set(json.loads((bench_dir / "results.json").read_text())["files"])
    benchmark(config=[Entry(**TINY_BENCH)], out=bench_dir, seed=2, progress=False)
    assert (bench_dir / "my_notes.txt").read_text() == "keep me"
    assert (bench_dir / "my_analysis" / "fit.py").read_text() == "x = 1"
    assert (bench_dir / "data" / "tiny-dp" / "mine.nc").read_text() == "mine"
    after = json.loads((bench_dir / "results.json").read_text())
    assert after["seed"] == 2 and set(after["files"]) == before
    assert not [p for p in bench_dir.parent.iterdir() if p.name.startswith(".")]


def test_benchmark_refuses_foreign_directory_before_work(tmp_path, monkeypatch):
    from absorbphys._benchmark import main as _benchmark

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("mine")
    monkeypatch.setattr(_benchmark, "_run_entry", lambda *a: pytest.fail("work started"))
    with pytest.raises(ap.UsageError, match="was not written by the benchmark"):
        benchmark(config=[Entry(**TINY_BENCH)], out=tmp_path / "out", progress=False)
    assert listing(tmp_path / "out") == ["thesis.tex"]


def test_benchmark_checks_free_space_before_work(tmp_path, monkeypatch):
    from absorbphys._benchmark import main as _benchmark

    monkeypatch.setattr(_io.shutil, "disk_usage",
                        lambda p: Usage(free=FREE_SPACE["quick"] / 10))
    monkeypatch.setattr(_benchmark, "_run_entry", lambda *a: pytest.fail("work started"))
    with pytest.raises(ap.UsageError, match="free on the file system"):
        benchmark(config=[Entry(**TINY_BENCH)], out=tmp_path / "out", progress=False)
    assert listing(tmp_path) == []


def test_benchmark_write_failure_keeps_results_elsewhere(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_save = _report.save

    def failing_save(ds, path):
        if str(tmp_path) in str(path):
            calls["n"] += 1
            raise ap.UsageError(f"out: could not write {path}: no space left on the device")
        return real_save(ds, path)

    monkeypatch.setattr(_report, "save", failing_save)
    with pytest.raises(ap.UsageError, match="written to .* instead") as info:
        benchmark(config=[Entry(**TINY_BENCH)], out=tmp_path / "out", progress=False)
    assert calls["n"] >= 1 and listing(tmp_path) == []
    where = str(info.value).rsplit("written to ", 1)[1].split(" instead")[0]
    try:
        assert os.path.isfile(os.path.join(where, "report.md"))
        assert "report.md" in json.loads(open(os.path.join(where, "results.json")).read())["files"]
    finally:
        import shutil

        shutil.rmtree(os.path.dirname(where), ignore_errors=True)


# ---------------------------------------------------------------- plugins
class _FakeMetadata:
    """Stands in for importlib.metadata with one broken plugin entry point."""

    def __init__(self):
        self.ep = metadata.EntryPoint(name="broken", value="absorbphys_no_such_mod:Model",
                                      group=_registry.ENTRY_POINT_GROUP)

    def entry_points(self, group=None, name=None):
        eps = [self.ep] if group == _registry.ENTRY_POINT_GROUP else []
        return [e for e in eps if name is None or e.name == name]


def test_plugins_load_only_when_asked_for(monkeypatch):
    monkeypatch.setattr(_registry, "metadata", _FakeMetadata())
    monkeypatch.setattr(_registry, "_loaded_entry_points", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a built-in look-up touches no plugin
        assert ap.get_model("dp").name == "dp"
    with pytest.raises(ap.UsageError, match="could not load model plugin 'broken'"):
        ap.get_model("broken")
    with pytest.warns(RuntimeWarning, match="could not load model plugin 'broken'"):
        names = ap.list_models()
    assert "dp" in names and "broken" not in names


def test_cli_warnings_are_one_line(tmp_path, capsys):
    stale = tmp_path / f".s.nc.{_dead_pid()}-abcd1234.part"
    stale.write_bytes(b"x")
    rc, _, err = run_cli(SIM + ["--out", str(tmp_path / "s.nc")], capsys)
    assert rc == 0 and err.count("\n") == 0 and err.startswith("absorbphys: removed")
    assert np.isfinite(ap.load(tmp_path / "s.nc").rho.values).all()


def test_sweep_refuses_an_impossible_point_before_any_work(monkeypatch):
    from absorbphys import _sweep

    monkeypatch.setattr(_sweep.executors, "run_point", lambda task: pytest.fail("work started"))
    # the second point's expected events ((1 + lam) x sites x t_max) are out of reach
    with pytest.raises(ValueError, match=r"grid point lam=1000000.0: lam, L, t_max"):
        ap.sweep("contact", {"lam": [1.5, 1e6]}, t_max=1e9, samples=2,
                 params={"L": 4096}, times="log", workers=1)


def test_deeply_nested_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "deep.json"
    cfg.write_text("[" * 100000 + "]" * 100000)
    rc, _, err = run_cli(["benchmark", "--config", str(cfg), "--out", str(tmp_path / "o")],
                         capsys)
    one_line_error(rc, err, "nested too deeply")
    assert listing(tmp_path) == ["deep.json"]


def test_train_plot_to_fifo_is_refused(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    rc, _, err = run_cli(["train", "--grid", "sigma_w=1.0,1.5", "--grid", "depth=1",
                          "--epochs", "1", "--n-train", "32", "--n-test", "16",
                          "--ntk-examples", "2", "--plot", str(fifo), "--quiet"], capsys)
    one_line_error(rc, err, "not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)

"""sweep: grid Datasets, per-point seeds, checkpoint/resume (SIGKILL), local and Dask execution."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from _sweep_toy import SweepToy, SweepToyCT

import absorbphys as ap
from absorbphys import _sweep, point_seed
from absorbphys._sweep import PARTS_SUFFIX

HERE = os.path.dirname(os.path.abspath(__file__))
KW = dict(t_max=12, samples=6, batches=3)


def _no_created(ds):
    ds = ds.copy()
    ds.attrs.pop("created", None)
    return ds


def assert_same(a, b):
    xr.testing.assert_identical(_no_created(a), _no_created(b))


def test_dataset_shape_coords_and_attrs():
    ds = ap.sweep("_sweep_toy", grid={"p": [0.6, 0.8, 0.7], "L": [8, 16]}, workers=1,
                  params={"kind": "bond"}, seed=5, **KW)
    assert ds["rho"].dims == ("p", "L", "batch", "t")
    assert list(ds["p"].values) == [0.6, 0.8, 0.7]  # grid order kept
    assert ds["L"].dtype == np.int64 and ds["p"].dtype == np.float64
    assert ds["kind"].item() == "bond" and ds["kind"].dims == ()
    assert set(ds.data_vars) == {"rho", "rho2", "survival"}
    assert json.loads(ds.attrs["swept"]) == ["p", "L"]
    assert ds.attrs["seed"] == 5 and ds.attrs["samples"] == 6 and ds.attrs["batches"] == 3
    assert json.loads(ds.attrs["params"]) == {"L": [8, 16], "p": [0.6, 0.8, 0.7],
                                              "kind": "bond"}
    assert "size" not in ds.attrs and ds["size"].dims == ("L",)
    assert list(ds["size"].values) == [8, 16]
    # every point equals simulate() with the point's seed, attributes included
    for p in (0.6, 0.8, 0.7):
        for L in (8, 16):
            proc = SweepToy(L=L, p=p, kind="bond")
            one = ap.simulate(proc, seed=point_seed(5, proc), **KW)
            pt = ds.sel(p=p, L=L)
            assert int(pt["point_seed"]) == point_seed(5, proc)
            for v in one.data_vars:
                np.testing.assert_array_equal(pt[v].values, one[v].values)
                assert pt[v].attrs == one[v].attrs
            for k in ("model", "control", "size_param", "dim", "time_unit", "init", "t_max",
                      "backend", "absorbphys_version", "continuous_time"):
                assert ds.attrs[k] == one.attrs[k]


def test_point_seed_is_a_stable_function_of_seed_and_params():
    proc = SweepToy(L=8, p=0.5)
    s = point_seed(0, proc)
    assert 0 <= s < 2**63
    # pinned: changing the derivation would silently change the results of every sweep
    assert s == 3629777226172154135
    code = ("import sys; sys.path.insert(0, %r); from _sweep_toy import SweepToy; "
            "from absorbphys import point_seed; print(point_seed(0, SweepToy(8, 0.5)))"
            % HERE)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"}, check=True)
    assert int(out.stdout) == s
    assert point_seed(1, proc) != s
    assert point_seed(0, SweepToy(L=8, p=0.5000001)) != s
    assert point_seed(0, SweepToy(L=8, p=0.5, kind="bond")) != s
    assert point_seed(0, SweepToy(L="8", p="0.5")) == s  # coerced values, not spellings


def test_adding_and_reordering_points_never_changes_a_point():
    a = ap.sweep("_sweep_toy", grid={"p": [0.6, 0.8]}, params={"L": 8}, workers=1, **KW)
    b = ap.sweep("_sweep_toy", grid={"p": [0.8, 0.7, 0.6]}, params={"L": 8}, workers=1, **KW)
    c = ap.sweep("_sweep_toy", grid={"L": [16, 8], "p": [0.6]}, workers=1, **KW)
    for p in (0.6, 0.8):
        np.testing.assert_array_equal(a["rho"].sel(p=p).values, b["rho"].sel(p=p).values)
    np.testing.assert_array_equal(a["rho"].sel(p=0.6).values,
                                  c["rho"].sel(L=8, p=0.6).values)
    # distinct points really are different streams
    assert not np.array_equal(b["rho"].sel(p=0.6).values[:, 1:], b["rho"].sel(p=0.7).values[:, 1:])


def test_instance_and_class_give_fixed_parameters():
    a = ap.sweep(SweepToy(L=16, kind="bond"), grid={"p": [0.6, 0.7]}, workers=1, **KW)
    b = ap.sweep(SweepToy, grid={"p": [0.6, 0.7]}, params={"L": 16, "kind": "bond"},
                 workers=1, **KW)
    assert_same(a, b)
    assert a.attrs["size"] == 16 and int(a["L"]) == 16


def test_local_processes_identical_to_in_process_and_bounded(tmp_path, monkeypatch):
    kw = dict(grid={"p": [0.55, 0.65, 0.75], "L": [8, 12, 16]}, t_max=15, samples=8,
              batches=4)
    ref = ap.sweep("_sweep_toy", workers=1, **kw)
    seen = {"consumed": 0, "at_first_result": None}
    real = _sweep.executors.execute_local

    def spy(tasks, n_workers, handle, n_threads):
        def counted():
            for item in tasks:
                seen["consumed"] += 1
                yield item

        def first(i, ds):
            if seen["at_first_result"] is None:
                seen["at_first_result"] = seen["consumed"]
            handle(i, ds)

        assert n_workers == 2 and n_threads == 1
        return real(counted(), n_workers, first, n_threads)

    monkeypatch.setattr(_sweep.executors, "execute_local", spy)
    real_write = _sweep.merge.Merger.write

    def write(self, path):
        assert self.arrays == {}  # with out=, no point values are held in memory
        return real_write(self, path)

    monkeypatch.setattr(_sweep.merge.Merger, "write", write)
    par = ap.sweep("_sweep_toy", workers=2, out=tmp_path / "par.nc", **kw)
    assert_same(ref, par)
    assert_same(par, ap.load(tmp_path / "par.nc"))
    assert not (tmp_path / ("par.nc" + PARTS_SUFFIX)).exists()
    # memory: at most two points per worker are queued, whatever the grid size
    assert seen["consumed"] == 9 and seen["at_first_result"] <= 4


def test_continuous_time_points_share_the_time_grid():
    ds = ap.sweep("_sweep_toy_ct", grid={"L": [8, 16], "p": [0.7]}, t_max=10.5, samples=4,
                  times="log", workers=1)
    assert ds["t"].dtype == np.float64 and ds["t"].values[-1] == 10.5
    assert ds.attrs["continuous_time"] == 1 and ds.attrs["time_unit"] == "MCS"
    one = ap.simulate(SweepToyCT(L=16, p=0.7), t_max=10.5, samples=4, times="log",
                      seed=point_seed(0, SweepToyCT(L=16, p=0.7)))
    np.testing.assert_array_equal(ds["rho"].sel(L=16, p=0.7).values, one["rho"].values)


def test_progress_bar_on_stderr(capsys):
    ap.sweep("_sweep_toy", grid={"p": [0.6, 0.7]}, workers=1, progress=True, **KW)
    err = capsys.readouterr().err
    assert "sweep _sweep_toy" in err and "2/2" in err
    ap.sweep("_sweep_toy", grid={"p": [0.6, 0.7]}, workers=1, progress=False, **KW)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(grid={}), ValueError, "grid must be a non-empty dict"),
    (dict(grid={"q": [1]}), ValueError, "grid: unknown parameter 'q'.*valid: L, p, kind"),
    (dict(grid={"p": []}), ValueError, "grid: p has no values"),
    (dict(grid={"p": 0.5}), TypeError, "grid: p must be a list"),
    (dict(grid={"p": [0.5, 1.5]}), ValueError, r"p must be in \[0, 1\], got 1.5"),
    (dict(grid={"p": [0.5, 0.5]}), ValueError, "p has the value 0.5 twice"),
    (dict(grid={"L": [8, 1]}), ValueError, r"L must be an integer in \[2, inf\)"),
    (dict(grid={"kind": ["site", "edge"]}), ValueError, "kind must be one of"),
    (dict(grid={"p": [0.5]}, params={"p": 0.4}), ValueError, "both swept and fixed"),
    (dict(grid={"p": [0.5]}, params={"zz": 1}), ValueError, "params: unknown parameter 'zz'"),
    (dict(grid={"p": [0.5]}, samples=0), ValueError, "samples must be"),
    (dict(grid={"p": [0.5]}, batches=7), ValueError, "batches must be"),
    (dict(grid={"p": [0.5]}, t_max=0), ValueError, "t_max must be"),
    (dict(grid={"p": [0.5]}, init="seed"), ValueError, "init must be one of 'full'"),
    (dict(grid={"p": [0.5]}, backend="tpu"), ValueError, "backend must be one of"),
    (dict(grid={"p": [0.5]}, seed=-1), ValueError, "seed must be"),
    (dict(grid={"p": [0.5]}, workers=0), ValueError, "workers must be"),
    (dict(grid={"p": [0.5]}, resume=True, out=None), ValueError, "resume=True needs out"),
    (dict(grid={"p": [0.5]}, out="/nonexistent/dir/x.nc"), ValueError, "does not exist"),
])
def test_bad_input_one_line_before_any_work(kwargs, exc, match, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_sweep.executors, "run_point", lambda task: calls.append(task))
    args = dict(t_max=5, samples=4, out=tmp_path / "x.nc")
    args.update(kwargs)
    with pytest.raises(exc, match=match) as info:
        ap.sweep("_sweep_toy", **args)
    assert "\n" not in str(info.value)
    assert calls == [] and os.listdir(tmp_path) == []


def test_grid_point_errors_name_the_point():
    with pytest.raises(ValueError, match=r"^grid: p must be in \[0, 1\], got 1.5$"):
        ap.sweep("_sweep_toy", grid={"p": [0.5, 1.5], "L": [8]}, t_max=3)
    with pytest.raises(TypeError, match="model must be a registered model name"):
        ap.sweep(3, grid={"p": [0.5]}, t_max=3)


# ------------------------------------------------------------------ checkpoint / resume
def test_keep_parts_layout_and_manifest(tmp_path):
    out = tmp_path / "r.nc"
    ap.sweep("_sweep_toy", grid={"p": [0.6, 0.7], "L": [8]}, out=out, keep_parts=True,
             workers=1, **KW)
    parts = tmp_path / ("r.nc" + PARTS_SUFFIX)
    files = sorted(p.name for p in parts.iterdir())
    assert files.count("manifest.json") == 1 and len([f for f in files if f.endswith(".nc")]) == 2
    man = json.loads((parts / "manifest.json").read_text())
    assert man["grid"] == {"p": [0.6, 0.7], "L": [8]} and man["samples"] == 6
    # an existing run directory is never silently overwritten
    with pytest.raises(ValueError, match="exists .*resume"):
        ap.sweep("_sweep_toy", grid={"p": [0.6, 0.7], "L": [8]}, out=out, workers=1, **KW)
    # ... nor resumed with another configuration
    with pytest.raises(ValueError, match="different sweep .*differs in: samples"):
        ap.sweep("_sweep_toy", grid={"p": [0.6, 0.7], "L": [8]}, out=out, resume=True,
                 workers=1, t_max=12, samples=7, batches=3)
    with pytest.raises(ValueError, match="differs in: grid"):
        ap.sweep("_sweep_toy", grid={"p": [0.6, 0.8], "L": [8]}, out=out, resume=True,
                 workers=1, **KW)


def test_resume_recomputes_partial_and_corrupt_points(tmp_path, monkeypatch):
    grid = {"p": [0.55, 0.65, 0.75], "L": [8, 10]}
    ref = ap.sweep("_sweep_toy", grid=grid, workers=1, **KW)
    out = tmp_path / "r.nc"
    ap.sweep("_sweep_toy", grid=grid, out=out, keep_parts=True, workers=1, **KW)
    parts = tmp_path / ("r.nc" + PARTS_SUFFIX)
    os.unlink(out)
    pts = sorted(parts.glob("point-*.nc"))
    assert len(pts) == 6
    # 1: truncated file
    data = pts[0].read_bytes()
    pts[0].write_bytes(data[: len(data) // 2])
    # 2: complete file from another configuration (wrong hash)
    d = xr.load_dataset(pts[1])
    d.attrs["sweep_config"] = "0" * 64
    d.to_netcdf(pts[1])
    # 3: values altered behind the checksum's back
    d = xr.load_dataset(pts[2])
    d["rho"][0, 1] += 0.125
    d.to_netcdf(pts[2])
    # 4: a file that is not netCDF at all, and a stale temporary file
    pts[3].write_text("garbage")
    (parts / ".point-abc.nc.xyz.part").write_bytes(b"half")
    (tmp_path / ".r.nc.killed.part").write_bytes(b"half a merge")
    calls = []
    real = _sweep.executors.run_point
    monkeypatch.setattr(_sweep.executors, "run_point",
                        lambda task: calls.append(task) or real(task))
    got = ap.sweep("_sweep_toy", grid=grid, out=out, resume=True, workers=1, **KW)
    assert len(calls) == 4
    assert sorted(os.listdir(tmp_path)) == ["r.nc"]
    assert_same(got, ref)
    assert_same(ap.load(out), ref)
    assert not parts.exists()
    # resume=True with nothing to resume simply runs
    os.unlink(out)
    assert_same(ap.sweep("_sweep_toy", grid=grid, out=out, resume=True, workers=1, **KW), ref)


_KILL_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
import _sweep_toy  # registers the test models
from absorbphys.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _spawn(tmp_path, argv):
    script = tmp_path / "run_sweep.py"
    script.write_text(_KILL_SCRIPT.format(here=HERE))
    return subprocess.Popen([sys.executable, str(script)] + argv, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_points(parts, n, proc, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if parts.is_dir() and len(list(parts.glob("point-*.nc"))) >= n:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError("sweep subprocess made no progress")


def test_sigkill_at_any_moment_then_resume_is_identical(tmp_path):
    grid = {"p": [0.72, 0.76, 0.8], "L": [32, 48]}
    kw = dict(t_max=100, samples=6000, batches=4, seed=11)
    ref = ap.sweep("_sweep_toy", grid=grid, workers=1, **kw)
    out = tmp_path / "k.nc"
    parts = tmp_path / ("k.nc" + PARTS_SUFFIX)
    argv = ["sweep", "_sweep_toy", "--grid", "p=0.72,0.76,0.8", "--grid", "L=32,48",
            "--t-max", "100", "--samples", "6000", "--batches", "4", "--seed", "11",
            "--workers", "1", "--out", str(out), "--quiet"]
    killed = []
    # kill as soon as the run directory exists, then after 3 finished points
    for need in (0, 3):
        proc = _spawn(tmp_path, argv + (["--resume"] if killed else []))
        if _wait_points(parts, need, proc):
            os.killpg(proc.pid, signal.SIGKILL)
            killed.append(len(list(parts.glob("point-*.nc"))))
        proc.wait()
        if not killed:
            raise AssertionError(proc.stderr.read().decode())
    assert len(killed) >= 2, f"the sweep finished before it could be killed ({killed})"
    assert not out.exists()
    got = ap.sweep("_sweep_toy", grid=grid, out=out, resume=True, workers=1, **kw)
    assert_same(got, ref)
    assert_same(ap.load(out), ref)
    assert not parts.exists()


# ------------------------------------------------------------------ Dask
def test_dask_local_cluster_identical_to_local(tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = {"p": [0.6, 0.7, 0.8], "L": [8, 12]}
    ref = ap.sweep("_sweep_toy", grid=grid, workers=1, **KW)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = ap.sweep("_sweep_toy", grid=grid, client=client, out=tmp_path / "d.nc", **KW)
        assert_same(got, ref)
        from absorbphys.cli import main

        assert main(["sweep", "_sweep_toy", "--grid", "p=0.6,0.7,0.8", "--grid", "L=8,12",
                     "--t-max", "12", "--samples", "6", "--batches", "3", "--quiet",
                     "--scheduler", cluster.scheduler_address,
                     "--out", str(tmp_path / "c.nc")]) == 0
    assert_same(ap.load(tmp_path / "c.nc"), ref)


# ------------------------------------------------------------------ real models
def _has_dp():
    try:
        from absorbphys.models import DirectedPercolation  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _has_dp(), reason="absorbphys.models.DirectedPercolation not yet there")
def test_sweep_dp_points_equal_simulate():
    cls = ap.get_model("dp")
    ctrl, size = cls.control, cls.size_param
    ds = ap.sweep("dp", grid={ctrl: [0.6, 0.7], size: [16, 32]}, t_max=10, samples=4,
                  workers=1)
    assert ds["rho"].dims == (ctrl, size, "batch", "t")
    assert list(ds["size"].dims) == [size]
    for c in (0.6, 0.7):
        proc = cls(**{ctrl: c, size: 32})
        one = ap.simulate(proc, t_max=10, samples=4, seed=point_seed(0, proc))
        for v in one.data_vars:
            np.testing.assert_array_equal(ds[v].sel({ctrl: c, size: 32}).values,
                                          one[v].values)

"""Core: parameter validation, simulate, times, batches, io, registry."""

import json
import os

import numba
import numpy as np
import pytest
import xarray as xr
from _toy import ToyDP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import absorbphys as ap
from absorbphys import Param
from absorbphys._simulate import make_times, sample_edges
from absorbphys.kernels import rng as _rng


def test_param_messages_name_parameter_and_range():
    with pytest.raises(ValueError, match=r"^p must be in \[0, 1\], got 1.5$"):
        Param("float", 0, 1).check("p", 1.5)
    with pytest.raises(TypeError, match=r"L must be an integer in \[2, inf\), got 2.5"):
        Param("int", 2).check("L", 2.5)
    with pytest.raises(ValueError, match="kind must be one of 'bond', 'site'"):
        Param("str", choices=("bond", "site")).check("kind", "edge")
    assert Param("int", 2).check("L", "64") == 64
    assert Param("float", 0, 1).check("p", "0.25") == 0.25
    with pytest.raises(ValueError, match="lam must be"):
        Param("float", 0).check("lam", float("nan"))


def test_param_typed_values_and_the_unset_zero():
    # text=False (JSON files, Python code): text is not a number or a boolean
    with pytest.raises(TypeError, match=r"^t_max must be in \[4, inf\), got '16'$"):
        Param("float", 4).check("t_max", "16", text=False)
    with pytest.raises(TypeError, match=r"^decay must be true or false, got 'yes'$"):
        Param("bool").check("decay", "yes", text=False)
    with pytest.raises(TypeError, match=r"^decay must be true or false, got 1$"):
        Param("bool").check("decay", 1, text=False)
    assert Param("bool").check("decay", np.bool_(True), text=False) is True
    assert Param("bool").check("decay", "yes") is True          # command-line text
    # or_zero: 0 is the "not set" value beside a range that excludes it
    spec = Param("int", 2, 100, or_zero=True)
    assert spec.describe() == "0 or an integer in [2, 100]"
    assert spec.check("final_samples", 0) == 0 and spec.check("final_samples", 64.0) == 64
    with pytest.raises(ValueError, match=r"^final_samples must be 0 or an integer in \[2, "
                                         r"100\], got 1e\+18$"):
        spec.check("final_samples", 1e18)     # echoed as written, not as 19 digits
    with pytest.raises(ValueError, match=r"^t_max must be in \[4, inf\) and finite, got inf$"):
        Param("float", 4).check("t_max", float("inf"))


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.floats(allow_nan=True), st.integers(-10, 10), st.text(max_size=4),
                 st.none(), st.booleans()))
def test_probability_validation_accepts_exactly_unit_interval(v):
    spec = Param("float", 0, 1)
    ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= 1)
    if ok:
        assert spec.check("p", v) == float(v)
    else:
        try:
            out = spec.check("p", v)
        except (TypeError, ValueError) as exc:
            assert "p must be" in str(exc) and "\n" not in str(exc)
        else:  # numeric strings inside [0, 1] are accepted (CLI values)
            assert isinstance(v, str) and 0 <= out <= 1


def test_process_validates_on_construction():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        ToyDP(L=8, p=-0.1)
    with pytest.raises(ValueError, match="L must be an integer"):
        ToyDP(L=1, p=0.5)
    proc = ToyDP(L="8", p="0.5")
    assert proc.L == 8 and proc.p == 0.5 and proc.size == 8 and proc.dim == 0
    assert hash(proc) == hash(ToyDP(L=8, p=0.5))
    assert json.loads(proc.params_json()) == {"L": 8, "p": 0.5}


def test_registry_and_unknown_model():
    assert ap.get_model("_toy_dp") is ToyDP
    with pytest.raises(ap.UsageError, match="unknown model 'nope'"):
        ap.get_model("nope")


def test_simulate_schema_and_attributes():
    ds = ap.simulate(ToyDP(L=16, p=0.8), t_max=20, samples=10, batches=5, seed=3)
    assert ds.rho.dims == ("batch", "t")
    assert ds.sizes == {"batch": 5, "t": 21}
    assert ds.t.attrs["time_unit"] == "step" and ds.t.attrs["units"] == "1"
    assert list(ds.n_samples.values) == [2] * 5
    for k in ("model", "params", "seed", "backend", "absorbphys_version", "created", "control",
              "size_param", "init", "samples", "batches", "t_max", "time_unit"):
        assert k in ds.attrs, k
    assert ds.attrs["model"] == "_toy_dp" and ds.attrs["seed"] == 3
    assert float(ds.p) == 0.8 and int(ds.L) == 16
    np.testing.assert_array_equal(ds.rho.isel(t=0), 1.0)
    assert np.all((ds.survival >= 0) & (ds.survival <= 1))
    for v in ds.data_vars.values():
        assert "long_name" in v.attrs and "units" in v.attrs


def test_batches_do_not_change_results():
    proc = ToyDP(L=16, p=0.7)
    a = ap.simulate(proc, t_max=15, samples=12, batches=12, seed=9)
    b = ap.simulate(proc, t_max=15, samples=12, batches=3, seed=9)
    # batch means of per-sample values equal the batched run
    per = a.rho.values.reshape(3, 4, -1).mean(axis=1)
    np.testing.assert_allclose(b.rho.values, per, rtol=0, atol=1e-15)


def test_same_seed_identical_any_thread_count():
    proc = ToyDP(L=32, p=0.65)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = ap.simulate(proc, t_max=30, samples=8, seed=5, init="seed")
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b = ap.simulate(proc, t_max=30, samples=8, seed=5, init="seed")
    finally:
        numba.set_num_threads(old)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    c = ap.simulate(proc, t_max=30, samples=8, seed=6, init="seed")
    assert not np.array_equal(a.rho.values, c.rho.values)


def test_seed_run_observables():
    ds = ap.simulate(ToyDP(L=64, p=0.9), t_max=10, samples=4, init="seed")
    assert {"n_active", "r2"} <= set(ds.data_vars)
    assert float(ds.n_active.isel(t=0).mean()) == 1.0
    assert float(ds.r2.isel(t=0).mean()) == 0.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(t_max=0), "t_max must be"),
    (dict(t_max=2.5), "t_max must be"),
    (dict(samples=0), "samples must be"),
    (dict(seed=-1), "seed must be"),
    (dict(init="half"), "init must be one of"),
    (dict(backend="gpu"), "backend must be one of"),
    (dict(times=[0, 5, 3]), "strictly increasing"),
    (dict(times=[0, 50]), "times must lie in"),
    (dict(batches=11), "batches must be"),
])
def test_simulate_rejects_bad_input(kwargs, match):
    args = dict(t_max=10, samples=10)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        ap.simulate(ToyDP(L=8, p=0.5), **args)


def test_cuda_backend_without_gpu_is_a_clear_error():
    from absorbphys._backends import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="backend"):
        ap.simulate(ToyDP(L=8, p=0.5), t_max=5, backend="cuda")
    ds = ap.simulate(ToyDP(L=8, p=0.5), t_max=5, backend="auto")
    assert ds.attrs["backend"] == "cpu"
    # the option (set_options / ABSORBPHYS_BACKEND) is the default of simulate and sweep
    from absorbphys.models import DirectedPercolation

    dp = DirectedPercolation(L=64, p=0.6)
    with ap.set_options(backend="cuda"):
        with pytest.raises(ValueError, match="needs an NVIDIA GPU"):
            ap.simulate(dp, t_max=5)
        with pytest.raises(ValueError, match="needs an NVIDIA GPU"):
            ap.sweep("dp", {"p": [0.5]}, params={"L": 64}, t_max=5, workers=1)
        assert ap.simulate(dp, t_max=5, backend="cpu").attrs["backend"] == "cpu"


def test_backend_from_the_environment(monkeypatch, capsys):
    from absorbphys import config
    from absorbphys.cli import main

    monkeypatch.setattr(config, "OPTIONS", dict(config.OPTIONS, backend="gpu"))
    with pytest.raises(ValueError, match=r"ABSORBPHYS_BACKEND\) must be one of"):
        ap.simulate(ToyDP(L=8, p=0.5), t_max=5)
    assert main(["simulate", "_toy_dp", "--t-max", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "ABSORBPHYS_BACKEND" in err and "\n" not in err


def test_log_times():
    t = make_times(ToyDP(), 1000, "log")
    assert t[0] == 0 and t[-1] == 1000 and np.all(np.diff(t) > 0) and t.dtype == np.int64
    assert 40 <= len(t) <= 70
    edges = sample_edges(10, 3)
    assert list(edges) == [0, 3, 6, 10]


def test_rng_is_pure_and_uniform():
    a = _rng.uniforms(1, 2, 3, 50_000)
    b = _rng.uniforms(1, 2, 3, 50_000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _rng.uniforms(1, 2, 4, 50_000))
    # mean 1/2, var 1/12: 6-sigma bounds
    assert abs(a.mean() - 0.5) < 6 * np.sqrt(1 / 12 / a.size)
    assert np.all((a >= 0) & (a < 1))
    from scipy import stats

    assert stats.kstest(a, "uniform").pvalue > 1e-4


def test_bernoulli_mask_exact_endpoints_and_mean():
    k = np.uint64(_rng.step_key(_rng.sample_key(7, 0, 0), 0))
    full = np.uint64(2**64 - 1)
    assert _rng.bernoulli_mask(k, 0, np.uint64(_rng.fixed_point(0.0)), False, full) == 0
    assert _rng.bernoulli_mask(k, 0, np.uint64(_rng.fixed_point(1.0)), True, full) == full
    lanes = np.uint64(0x00FF00FF00FF00FF)
    p = 0.3
    P = np.uint64(_rng.fixed_point(p))
    counts = 0
    n = 3000
    for i in range(n):
        m = int(_rng.bernoulli_mask(k, i * 64, P, False, lanes))
        assert m & ~int(lanes) == 0  # only requested lanes are ever set
        counts += bin(m).count("1")
    trials = n * 32
    assert abs(counts / trials - p) < 5 * np.sqrt(p * (1 - p) / trials)


def test_rng_compiles_for_other_targets():
    ns = _rng.compile_with(numba.njit)
    k = _rng.sample_key(1, 2, 0)
    assert ns.draw(k, 5) == _rng.draw(k, 5)


# ------------------------------------------------------------------ io


def test_save_load_roundtrip(tmp_path):
    ds = ap.simulate(ToyDP(L=16, p=0.7), t_max=10, samples=4, init="seed")
    path = ap.save(ds, tmp_path / "run.nc")
    back = ap.load(path)
    xr.testing.assert_identical(ds, back)
    assert [f.name for f in tmp_path.iterdir()] == ["run.nc"]


def test_spatial_dimension_is_recorded_once(tmp_path):
    """``dim`` is the global attribute only (not also a scalar coordinate), a dimension
    coordinate when swept, and the duplicate of older files is dropped on load."""
    from absorbphys.models import ContactProcess

    ds = ap.simulate(ContactProcess(L=8, lam=3.3, dim=2), t_max=2.0, samples=2, seed=1)
    assert ds.attrs["dim"] == 2 and "dim" not in ds.coords
    assert json.loads(ds.attrs["params"])["dim"] == 2 and float(ds.lam) == 3.3
    sw = ap.sweep(ContactProcess(L=8, lam=3.3), {"dim": [1, 2]}, t_max=2.0, samples=2,
                  workers=1, progress=False)
    assert list(sw["dim"].values) == [1, 2] and "dim" not in sw.attrs
    old = ds.assign_coords(dim=2)            # a file written before the rule
    back = ap.load(ap.save(old, tmp_path / "old.nc"))
    assert "dim" not in back.coords and back.attrs["dim"] == 2


def test_save_into_missing_directory_fails_cleanly(tmp_path):
    ds = ap.simulate(ToyDP(L=8, p=0.7), t_max=3)
    with pytest.raises(ap.UsageError, match="does not exist"):
        ap.save(ds, tmp_path / "nope" / "run.nc")


def test_load_rejects_garbage_and_truncated(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(ap.UsageError, match="not a readable netCDF"):
        ap.load(bad)
    ds = ap.simulate(ToyDP(L=8, p=0.7), t_max=50, samples=20, batches=20)
    good = ap.save(ds, tmp_path / "good.nc")
    data = good.read_bytes()
    trunc = tmp_path / "trunc.nc"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ap.UsageError, match="not a readable netCDF"):
        ap.load(trunc)
    with pytest.raises(ap.UsageError, match="does not exist"):
        ap.load(tmp_path / "missing.nc")


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    ds = ap.simulate(ToyDP(L=8, p=0.7), t_max=3)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(RuntimeError):
        ap.save(ds, tmp_path / "x.nc")
    assert os.listdir(tmp_path) == []


_attr_values = st.one_of(st.integers(-2**62, 2**62), st.floats(allow_nan=False, width=64),
                         st.text(alphabet=st.characters(codec="utf-8",
                                                        exclude_categories=("Cs", "Cc")),
                                 min_size=1, max_size=20))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.floats(-1e300, 1e300, allow_nan=False), min_size=1, max_size=30),
       attr=_attr_values)
def test_netcdf_roundtrip_property(tmp_path, data, attr):
    ds = xr.Dataset({"rho": (("batch", "t"), np.array(data)[None, :])},
                    coords={"t": np.arange(len(data))}, attrs={"x": attr})
    back = ap.load(ap.save(ds, tmp_path / "p.nc"))
    xr.testing.assert_identical(ds, back)


def test_set_options():
    from absorbphys.config import get_option

    with ap.set_options(progress=True):
        assert get_option("progress") is True
    with pytest.raises(ValueError, match="unknown option"):
        with ap.set_options(colour=1):
            pass


def test_set_options_plain_call_applies_and_validates():
    from absorbphys.config import get_option

    before = get_option("backend")
    try:
        ap.set_options(backend="auto")          # like xarray.set_options: a plain call sticks
        assert get_option("backend") == "auto"
        with pytest.raises(ValueError, match="option progress must be one of"):
            ap.set_options(progress="sometimes")  # checked on the spot, nothing changed
        assert get_option("progress") in (None, True, False)
        with ap.set_options(backend="cpu"):
            assert get_option("backend") == "cpu"
        assert get_option("backend") == "auto"
    finally:
        ap.set_options(backend=before)


def test_mixed_checkouts_are_refused(tmp_path):
    """absorbphys from one place with absorbphys.models/.analysis from another: ImportError."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    src = Path(ap.__file__).resolve().parent
    shutil.copytree(src, tmp_path / "absorbphys", ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run([sys.executable, "-c", "import absorbphys"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "two installations are mixed" in r.stderr


def test_datasets_follow_cf_conventions():
    """cf-xarray finds the time axis; the standard global attributes are there."""
    cf_xarray = pytest.importorskip("cf_xarray")  # noqa: F841  (registers ds.cf)
    ds = ap.simulate(ToyDP(L=16, p=0.8), t_max=10, samples=4, seed=1)
    assert ds.cf.axes["T"] == ["t"] and ds.cf["T"].name == "t"
    for key in ("Conventions", "title", "history", "source"):
        assert ds.attrs.get(key), key
    assert ds.attrs["Conventions"].startswith("CF-")
    for name in list(ds.data_vars) + ["t", "batch", "n_samples"]:
        assert ds[name].attrs.get("long_name") and ds[name].attrs.get("units") == "1", name
    sw = ap.sweep("_toy_dp", grid={"p": [0.7, 0.8]}, params={"L": 16}, t_max=10, samples=4,
                  workers=1)
    assert "sweep" in sw.attrs["history"] and sw.cf.axes["T"] == ["t"]
    assert "history" not in sw.coords and "title" not in sw.coords


def test_old_kernel_toolkit_paths_still_work_with_a_warning():
    # plugins written against the documented absorbphys._rng / absorbphys._kernels keep
    # working (the same compiled objects), with a DeprecationWarning naming the new place
    import importlib
    import sys

    from absorbphys.kernels import rng, sums

    for old, new, name in (("absorbphys._rng", rng, "draw"),
                           ("absorbphys._kernels", sums, "record_sums")):
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match="absorbphys.kernels"):
            mod = importlib.import_module(old)
        assert getattr(mod, name) is getattr(new, name)

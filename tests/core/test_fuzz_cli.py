"""Fuzz the command line: ``simulate``, ``sweep`` and ``analyze`` with random values and paths.

Whatever the input, the command ends with exit status 0 or 2, a failure prints exactly one
line on stderr and no traceback, and a failed run leaves nothing at or beside its output
path (a FIFO stays a FIFO, an existing file keeps its bytes). Values are drawn from pools that
mix small valid values with the hostile ones an audit tried (huge, negative, NaN, infinite,
non-numeric, empty, very long); sizes are kept small when valid so that every example that
legitimately runs finishes in well under a second. ``derandomize=True``: the same examples
on every run (no flaky CI), chosen by hypothesis to cover the pools.
"""

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path

import pytest
from _toy import ToyDP  # noqa: F401  (registers the test model)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import absorbphys as ap
from absorbphys.cli import main

LONG = "7" * 3000
NUMBERS = ["0", "1", "2", "3", "16", "0.5", "0.7", "-1", "-0.5", "1e308", "-1e308", "1e30",
           "nan", "inf", "-inf", "abc", "", "1e999", str(2**63), str(2**64), "0x10", LONG,
           "3.5", "1e-320"]
SIZES = ["2", "8", "16", "0", "1", "-4", "2.5", "1e18", "1e308", "abc", "", LONG,
         str(2**63)]
T_MAX = ["3", "5", "10.5", "0", "-3", "abc", "", "nan", "inf", "1e308", "1e30", str(2**63),
         "1e18"]
SAMPLES = ["1", "3", "0", "-1", "2.5", "abc", "1e18", "1e308", ""]
TIMES = [None, "log", "5", "0", "1", "1000000000000", "abc", "-2", ""]
INITS = ["full", "seed", "0.5", "-1", "2", "nan", "abc", ""]
SEEDS = ["0", "7", "-1", "abc", str(2**64), "1.5"]
PATH_KINDS = ["new", "existing", "dir", "missing_dir", "fifo", "link_to_fifo", "link_to_file",
              "trailing_sep", "long_name", "dangling_link"]
#: Valid values per model parameter (small sizes), and the hostile pool each one draws from.
MODELS = {
    "dp": {"L": (["16", "64"], SIZES), "p": (["0.6", "0.7"], NUMBERS),
           "kind": (["bond", "site"], ["x", ""]), "dim": (["1"], ["4", "0", "abc"])},
    "contact": {"L": (["8", "16"], SIZES), "lam": (["1.5", "3.3"], NUMBERS),
                "dim": (["1", "2"], ["9", "-1"])},
    "mfcp": {"N": (["16", "64"], SIZES), "lam": (["0.8", "1.5"], NUMBERS)},
    "mlp": {"width": (["8", "16"], SIZES), "sigma_w": (["1.2", "1.4"], NUMBERS),
            "sigma_b": (["0.3"], NUMBERS), "q0": (["0", "1"], NUMBERS),
            "activation": (["tanh", "relu"], ["nope", ""])},
    "_toy_dp": {"L": (["16"], SIZES), "p": (["0.7"], NUMBERS)},
}
RUN_FIELDS = {"t-max": (["5", "10"], T_MAX), "samples": (["1", "3"], SAMPLES),
              "times": ([None, "log", "5"], TIMES[3:]), "init": (["full", "seed"], INITS[2:]),
              "seed": (["0", "7"], SEEDS[2:])}
GOOD_PATHS = ["new", "existing", "link_to_file", "dangling_link"]
BAD_PATHS = [k for k in PATH_KINDS if k not in GOOD_PATHS]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def make_target(tmp: Path, kind: str) -> Path:
    """Build the output-path situation ``kind`` under ``tmp`` and return the path to use."""
    if kind == "new":
        return tmp / "out.nc"
    if kind == "existing":
        (tmp / "out.nc").write_bytes(b"previous contents")
        return tmp / "out.nc"
    if kind == "dir":
        (tmp / "adir").mkdir()
        return tmp / "adir"
    if kind == "missing_dir":
        return tmp / "missing" / "out.nc"
    if kind == "fifo":
        os.mkfifo(tmp / "pipe")
        return tmp / "pipe"
    if kind == "link_to_fifo":
        os.mkfifo(tmp / "pipe")
        (tmp / "link.nc").symlink_to(tmp / "pipe")
        return tmp / "link.nc"
    if kind == "link_to_file":
        (tmp / "real.nc").write_bytes(b"previous contents")
        (tmp / "link.nc").symlink_to(tmp / "real.nc")
        return tmp / "link.nc"
    if kind == "dangling_link":
        (tmp / "link.nc").symlink_to(tmp / "gone.nc")
        return tmp / "link.nc"
    if kind == "trailing_sep":
        return Path(str(tmp / "newdir") + os.sep)
    if kind == "long_name":
        return tmp / ("n" * 300 + ".nc")
    raise AssertionError(kind)


def snapshot(tmp: Path) -> dict:
    """Every entry under ``tmp`` with its type and, for regular files, its bytes."""
    out = {}
    for p in sorted(tmp.rglob("*")):
        st_ = os.lstat(p)
        kind = stat.S_IFMT(st_.st_mode)
        out[p.relative_to(tmp).as_posix()] = (kind, p.read_bytes() if stat.S_ISREG(st_.st_mode)
                                              else None)
    return out


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def check_outcome(rc, err, tmp, before, target):
    event(f"exit {rc}")   # --hypothesis-show-statistics: how many examples ran, how many refused
    assert rc in (0, 2), (rc, err)
    assert "Traceback" not in err, err
    if rc == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, err
        assert len(lines[0]) < 1000, lines[0][:200]
        assert snapshot(tmp) == before, "a failed run changed the output folder"
    else:
        assert not [p for p in tmp.rglob("*.part")], "temporary file left behind"
        assert ap.load(target).attrs["model"]


@st.composite
def simulate_case(draw):
    """A valid command with none, one or two fields replaced by hostile values."""
    model = draw(st.sampled_from(sorted(MODELS)))
    fields = {**{f"-p {k}": v for k, v in MODELS[model].items()}, **RUN_FIELDS}
    n_bad = draw(st.integers(0, 2))
    bad = draw(st.lists(st.sampled_from(sorted(fields)), min_size=n_bad, max_size=n_bad,
                        unique=True))
    chosen = {k: draw(st.sampled_from(fields[k][1] if k in bad else fields[k][0]))
              for k in fields}
    path = draw(st.sampled_from(BAD_PATHS if draw(st.booleans()) and draw(st.booleans())
                                else GOOD_PATHS))
    return model, chosen, path


@SETTINGS
@given(simulate_case())
def test_fuzz_simulate(case):
    model, chosen, path_kind = case
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        target = make_target(tmp, path_kind)
        before = snapshot(tmp)
        argv = ["simulate", model, "--out", str(target), "--quiet"]
        for key, value in chosen.items():
            if value is None:
                continue
            if key.startswith("-p "):
                argv += ["-p", f"{key[3:]}={value}"]
            else:
                argv += [f"--{key}", value]
        rc, _, err = run_cli(argv)
        check_outcome(rc, err, tmp, before, target)


GRIDS = (["p=0.6,0.7", "p=0.6:0.7:3"],
         ["p=", "p=abc", "p=0.6:0.7:1e9", "p=nan,1", "L=4,8", "bogus=1,2", "p=0.6:0.7:-2",
          "p=" + LONG, "p=1e308,2", "p=0.7,0.7"])


@st.composite
def sweep_case(draw):
    """A valid sweep with none, one or two fields replaced by hostile values."""
    fields = {"grid": GRIDS, "t-max": RUN_FIELDS["t-max"], "samples": RUN_FIELDS["samples"],
              "times": RUN_FIELDS["times"]}
    n_bad = draw(st.integers(0, 2))
    bad = draw(st.lists(st.sampled_from(sorted(fields)), min_size=n_bad, max_size=n_bad,
                        unique=True))
    chosen = {k: draw(st.sampled_from(fields[k][1] if k in bad else fields[k][0]))
              for k in fields}
    path = draw(st.sampled_from(BAD_PATHS if draw(st.booleans()) and draw(st.booleans())
                                else GOOD_PATHS))
    return chosen, path, draw(st.booleans())


@SETTINGS
@given(sweep_case())
def test_fuzz_sweep(case):
    chosen, path_kind, resume = case
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        target = make_target(tmp, path_kind)
        before = snapshot(tmp)
        argv = ["sweep", "_toy_dp", "-p", "L=8", "--out", str(target), "--workers", "1",
                "--quiet"]
        for key, value in chosen.items():
            if value is not None:
                argv += [f"--{key}", value]
        if resume:
            argv.append("--resume")
        rc, _, err = run_cli(argv)
        check_outcome(rc, err, tmp, before, target)


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "run.nc"
    ds = ap.simulate(ToyDP(L=16, p=0.75), t_max=64, samples=8, seed=1, times="log")
    ap.save(ds, path)
    return path


ATTR_EDITS = ["none", "none", "none", "drop_model", "drop_params", "drop_init", "drop_all",
              "control_batch", "control_t", "control_bogus", "init_bogus", "params_garbage",
              "truncate", "garbage", "empty", "fifo", "dir", "missing", "none", "nan_rho", "drop_t"]


def make_input(tmp: Path, good: Path, edit: str) -> Path:
    import xarray as xr

    path = tmp / "in.nc"
    if edit in ("fifo", "dir", "missing", "garbage", "empty", "truncate"):
        if edit == "fifo":
            os.mkfifo(path)
        elif edit == "dir":
            path.mkdir()
        elif edit == "garbage":
            path.write_bytes(os.urandom(2000))
        elif edit == "empty":
            path.write_bytes(b"")
        elif edit == "truncate":
            data = good.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        return path
    ds = xr.load_dataset(good)
    if edit == "drop_all":
        ds.attrs = {}
    elif edit.startswith("drop_") and edit != "drop_t":
        ds.attrs.pop(edit[5:], None)
    elif edit == "drop_t":
        ds = ds.drop_vars("t")
    elif edit.startswith("control_"):
        ds.attrs["control"] = edit[8:]
    elif edit == "init_bogus":
        ds.attrs["init"] = "bogus"
    elif edit == "params_garbage":
        ds.attrs["params"] = "{not json"
    elif edit == "nan_rho":
        ds["rho"][:] = float("nan")
    ds.to_netcdf(path)
    return path


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(ATTR_EDITS), st.sampled_from(["2", "8", "0", "abc", "1e9", ""]),
       st.sampled_from(SEEDS), st.booleans())
def test_fuzz_analyze(good_file, edit, n_boot, seed, as_json):
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = make_input(tmp, good_file, edit)
        before = snapshot(tmp)
        argv = ["analyze", str(path), "--n-boot", n_boot, "--seed", seed]
        if as_json:
            argv.append("--json")
        rc, _, err = run_cli(argv)
        event(f"exit {rc}")
        assert rc in (0, 2), (rc, err)
        assert "Traceback" not in err, err
        if rc == 2:
            assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
        assert snapshot(tmp) == before, "analyze modified its input"

"""The run directory of a sweep: manifest, one checksummed netCDF file per point, the lock."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from absorbphys._io import notify, save, short
from absorbphys._params import UsageError

if TYPE_CHECKING:  # annotations only: the plan imports this module
    from absorbphys._sweep.plan import Plan

#: Suffix of the run directory next to the output file.
PARTS_SUFFIX = ".parts"
MANIFEST = "manifest.json"
FORMAT = 1
# Attributes written into point files only (stripped when merging).
POINT_ATTRS = ("sweep_config", "sweep_point", "sweep_checksum")


# ============================================================================ files
def check_manifest(run_dir: Path, config: dict):
    path = run_dir / MANIFEST
    if not path.exists():  # killed between mkdir and the manifest: nothing was finished
        return
    try:
        old = json.loads(path.read_text())
        if not isinstance(old, dict):
            raise ValueError
    except (OSError, ValueError):
        raise UsageError(f"out: {str(path)!r} is unreadable; delete the run directory "
                         f"{str(run_dir)!r} to start over") from None
    if old != config:
        diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        raise UsageError(f"out: run directory {str(run_dir)!r} belongs to a different sweep "
                         f"(differs in: {', '.join(diff)}); resume with the same arguments, "
                         "or delete it / choose another output")


def point_path(run_dir: Path, key: str) -> Path:
    return run_dir / f"point-{hashlib.sha256(key.encode()).hexdigest()[:24]}.nc"


def _checksum(ds: xr.Dataset) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.data_vars):
        a = np.asarray(ds[name].values, dtype=np.float64)
        a = np.ascontiguousarray(np.where(np.isnan(a), np.nan, a))  # canonical NaN
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    h.update(np.ascontiguousarray(ds["t"].values).tobytes())
    return h.hexdigest()


def read_point(path: Path, plan: Plan, key: str):
    """Return the point's Dataset, or None if the file is missing, partial or corrupt."""
    if not path.is_file():
        return None
    try:
        ds = xr.load_dataset(path, engine="netcdf4")
    except Exception:
        return None
    a = ds.attrs
    nb = plan.kw["batches"]
    ok = (a.get("sweep_config") == plan.config_hash and a.get("sweep_point") == key
          and "rho" in ds.data_vars and "survival" in ds.data_vars
          and all(ds[v].dims == ("batch", "t") for v in ds.data_vars)
          and ds.sizes.get("batch") == nb and ds.sizes.get("t") == len(plan.times)
          and np.array_equal(ds["t"].values, plan.times))
    if not ok:
        return None
    try:
        if _checksum(ds) != a.get("sweep_checksum"):
            return None
    except Exception:
        return None
    for k in POINT_ATTRS:
        ds.attrs.pop(k, None)
    return ds


def write_point(ds: xr.Dataset, path: Path, plan: Plan, key: str):
    tagged = ds.copy()
    tagged.attrs.update(sweep_config=plan.config_hash, sweep_point=key,
                        sweep_checksum=_checksum(ds))
    save(tagged, path)


class DirLock:
    def __init__(self, run_dir: Path):
        self.path = run_dir / "lock"
        self.fh = None

    def __enter__(self):
        self.fh = open(self.path, "a")
        try:
            import fcntl  # POSIX only: imported where it is used

            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        except OSError:
            self.fh.close()
            raise UsageError(f"out: another sweep is writing to {str(self.path.parent)!r}; "
                             "wait for it or choose another output") from None
        return self

    def __exit__(self, *exc):
        self.fh.close()
        return False


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def finished_output(plan: Plan):
    """Return the existing output of the same configuration, opened lazily, or None."""
    if not (plan.resume and plan.out is not None and plan.out.is_file()
            and not plan.run_dir.exists()):
        return None
    try:
        ds = xr.open_dataset(plan.out, engine="netcdf4")
    except Exception:
        return None
    if ds.attrs.get("sweep_config") != plan.config_hash:
        ds.close()
        return None
    notify(f"{short(plan.out)} is already complete with the same configuration; nothing "
           "to resume")
    return ds

"""Atomic netCDF4 input/output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from absorbphys._params import UsageError


def check_output_path(path) -> Path:
    """Validate an output path before any work starts (its directory must exist).

    Parameters
    ----------
    path : str or os.PathLike
        Target file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    UsageError
        If the directory does not exist or the path is a directory.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"out: directory {str(parent)!r} does not exist; create it first")
    if p.is_dir():
        raise UsageError(f"out: {str(p)!r} is a directory; give a file name such as run.nc")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"out: directory {str(parent)!r} is not writable")
    return p


def save(ds: xr.Dataset, path) -> Path:
    """Write a Dataset to netCDF4 atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset in the absorbphys schema.
    path : str or os.PathLike
        Target file; its directory must exist. An existing file is replaced.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    UsageError
        If the directory is missing.
    """
    p = check_output_path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent or ".")
    except OSError as exc:
        raise UsageError(f"out: cannot write in {str(p.parent)!r}: {exc.strerror}") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
    try:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def load(path) -> xr.Dataset:
    """Read a Dataset written by :func:`save` (fully into memory; the file is closed).

    Parameters
    ----------
    path : str or os.PathLike
        netCDF4 file.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    UsageError
        If the file is missing, not netCDF, or truncated.
    """
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"file {str(p)!r} is a directory; give a netCDF file")
    if not p.is_file():
        raise UsageError(f"file {str(p)!r} does not exist")
    try:
        return xr.load_dataset(p, engine="netcdf4")
    except Exception as exc:  # netCDF4 raises OSError/RuntimeError with C messages
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"file {str(p)!r} is not a readable netCDF file "
                         f"(truncated or another format): {msg}") from None

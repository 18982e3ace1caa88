"""Files: atomic netCDF4/JSON writes, output-path checks, stale partial files, safe loads.

Every file absorbphys writes goes through :func:`atomic_write`: the data go to a hidden
temporary file beside the target (``.NAME.PID-XXXXXXXX.part``), which is flushed to disk and
renamed over the target only when complete. A run killed in between leaves that temporary
file; the next write to the same target removes it (its process id no longer runs) and says
so. Targets that are not regular files (devices, FIFOs, sockets) are refused; a symbolic link
is followed, and its target is replaced atomically.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import xarray as xr

from absorbphys._params import UsageError, first_line, short
from absorbphys._process import NOT_COORDINATES

#: Suffix of temporary files (``.NAME.PID-RANDOM.part``).
PART_SUFFIX = ".part"


class AbsorbphysWarning(UserWarning):
    """A notice from absorbphys, e.g. stale partial files removed (one line on the CLI)."""


def notify(message: str):
    """Issue an :class:`AbsorbphysWarning` (one line on the command line)."""
    warnings.warn(message, AbsorbphysWarning, stacklevel=3)


def _size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return ""  # pragma: no cover


def check_output_path(path, what: str = "out") -> Path:
    """Validate an output path before any work starts and return the file to write.

    Parameters
    ----------
    path : str or os.PathLike
        Target file. A symbolic link is followed (its target is what gets replaced).
    what : str
        Name of the argument, used in messages.

    Returns
    -------
    pathlib.Path
        The regular file that will be written (the link's target for a symbolic link).

    Raises
    ------
    UsageError
        If the path names a folder (or ends with a separator), its folder does not exist or is
        not writable, or it exists and is not a regular file (device, FIFO, socket).
    """
    text = os.fspath(path)
    if not text:
        raise UsageError(f"{what}: empty path; give a file name such as run.nc")
    if text.endswith(("/", os.sep)):
        raise UsageError(f"{what}: {short(text)} ends with a path separator; give a file name "
                         "such as run.nc")
    p = Path(text)
    if p.is_symlink():
        p = Path(os.path.realpath(p))
    if p.is_dir():
        raise UsageError(f"{what}: {short(p)} is a directory; give a file name such as run.nc")
    if p.exists() and not p.is_file():
        raise UsageError(f"{what}: {short(p)} exists and is not a regular file (a device, FIFO "
                         "or socket); absorbphys replaces only regular files")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{what}: directory {short(parent)} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: directory {short(parent)} is not writable")
    return p


def prepare_output(path, what: str = "out") -> Path:
    """Check an output path before work starts and clear its stale partial files.

    :func:`check_output_path`, then :func:`remove_stale_parts` (each removal reported).

    Parameters
    ----------
    path : str or os.PathLike
        Target file.
    what : str
        Argument name for messages.

    Returns
    -------
    pathlib.Path
        The regular file that will be written.
    """
    p = check_output_path(path, what)
    remove_stale_parts(p)
    return p


_PART = re.compile(r"^(\d+)-[A-Za-z0-9_]+$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or a bogus number
        return True
    return True


def remove_stale_parts(path) -> list[Path]:
    """Remove the temporary files that killed runs left beside ``path``.

    A temporary file ``.NAME.PID-XXXXXXXX.part`` is stale when process PID no longer runs.
    Each removal is reported with :func:`notify`.

    Parameters
    ----------
    path : str or os.PathLike
        The target whose leftovers to look for.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    prefix = f".{p.name}."
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(PART_SUFFIX)):
            continue
        m = _PART.match(name[len(prefix):-len(PART_SUFFIX)])
        if m is None or _pid_alive(int(m.group(1))):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            size = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
        notify(f"removed {short(entry.path)} ({_size(size)}), a partial file left by an "
               "interrupted run")
    return removed


def fsync_dir(path: Path):
    """Flush a directory entry to disk (after a rename), where the system allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def umask() -> int:
    """Return the process umask (without changing it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_failure(path, exc: BaseException, what: str = "out") -> UsageError:
    """Return the one-line error for a failed write of ``path`` (full disk named as such).

    Parameters
    ----------
    path : str or os.PathLike
        The file being written.
    exc : BaseException
        What the writer raised (``OSError``; netCDF raises ``RuntimeError("NetCDF: HDF
        error")`` on a full disk).
    what : str
        Argument name for the message.

    Returns
    -------
    UsageError
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        free = None
    if getattr(exc, "errno", None) == errno.ENOSPC or (free is not None and free < 1 << 20):
        reason = "no space left on the device" + (f" ({_size(free)} free)" if free is not None
                                                  else "")
    else:
        reason = getattr(exc, "strerror", None) or first_line(exc)
    return UsageError(f"{what}: could not write {short(p)}: {reason}")


@contextlib.contextmanager
def atomic_write(path, what: str = "out"):
    """Write a file atomically: yield a temporary path beside ``path``, then rename it.

    The temporary file is flushed to disk, given the usual mode (0666 less the umask) and
    renamed over the target when the ``with`` block succeeds; on any failure it is removed
    and the target is left as it was. A write error (full disk included) becomes a one-line
    :class:`UsageError`. Stale temporary files of the same target are removed first.

    Parameters
    ----------
    path : str or os.PathLike
        Target (checked with :func:`check_output_path`).
    what : str
        Argument name for messages.

    Yields
    ------
    pathlib.Path
        The temporary file to write (it exists, empty).
    """
    p = check_output_path(path, what)
    remove_stale_parts(p)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.{os.getpid()}-", suffix=PART_SUFFIX,
                                   dir=p.parent if str(p.parent) else ".")
    except OSError as exc:
        raise write_failure(p, exc, what) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        try:
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~umask())  # mkstemp creates 0600
            os.replace(tmp, p)
        except (OSError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and "netcdf" not in str(exc).lower():
                raise
            raise write_failure(p, exc, what) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(p.parent if str(p.parent) else Path("."))


def write_json(path, obj, what: str = "out", **dump_kw) -> Path:
    """Write ``obj`` as JSON atomically (see :func:`atomic_write`).

    Parameters
    ----------
    path : str or os.PathLike
        Target file.
    obj : object
        JSON-serialisable object.
    what : str
        Argument name for messages.
    **dump_kw
        Passed to :func:`json.dump` (default ``indent=1``).

    Returns
    -------
    pathlib.Path
        The written path.
    """
    dump_kw.setdefault("indent", 1)
    with atomic_write(path, what) as tmp:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, **dump_kw)
    return Path(path)


def save(ds: xr.Dataset, path) -> Path:
    """Write a Dataset to netCDF4 atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset in the absorbphys schema.
    path : str or os.PathLike
        Target file; its directory must exist. An existing regular file is replaced; a
        symbolic link is followed; anything else (device, FIFO) is refused.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    UsageError
        If the target is not writable, or the write fails (e.g. a full disk).
    """
    with atomic_write(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    return Path(path)


def _available_memory() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return None


def _data_bytes(p: Path) -> float | None:
    """Uncompressed size of every variable in a netCDF4 file (None if unreadable)."""
    try:
        import netCDF4  # deferred: read only when a file is checked

        with netCDF4.Dataset(p) as nc:
            total = 0.0
            groups = [nc]
            while groups:
                g = groups.pop()
                groups.extend(g.groups.values())
                for v in g.variables.values():
                    total += float(v.size) * getattr(v.dtype, "itemsize", 8)
            return total
    except Exception:
        return None


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
        If the file is missing, not a regular file, not netCDF, truncated, or holds more
        uncompressed data than the memory available (open those lazily with
        :func:`xarray.open_dataset`).
    """
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"file {short(p)} is a directory; give a netCDF file")
    if not p.exists():
        raise UsageError(f"file {short(p)} does not exist")
    if not p.is_file():
        raise UsageError(f"file {short(p)} is not a regular file (a device, FIFO or socket); "
                         "give a netCDF file")
    need, avail = _data_bytes(p), _available_memory()
    if need is not None and avail is not None and need > 0.8 * avail:
        raise UsageError(f"file {short(p)} holds {_size(need)} of uncompressed data, more than "
                         f"the {_size(avail)} of memory available; open it lazily with "
                         "xarray.open_dataset")
    try:
        ds = xr.load_dataset(p, engine="netcdf4")
    except MemoryError:
        raise UsageError(f"file {short(p)} does not fit in memory; open it lazily with "
                         "xarray.open_dataset") from None
    except Exception as exc:  # netCDF4 raises OSError/RuntimeError with C messages
        raise UsageError(f"file {short(p)} is not a readable netCDF file "
                         f"(truncated or another format): {first_line(exc)}") from None
    return _without_duplicates(ds)


def _without_duplicates(ds: xr.Dataset) -> xr.Dataset:
    """Drop what older files repeat.

    That is the scalar coordinate ``dim`` equal to the global attribute ``dim`` (see
    ``absorbphys._process.NOT_COORDINATES``).
    """
    drop = [k for k in NOT_COORDINATES if k in ds.coords and ds[k].ndim == 0
            and k in ds.attrs and ds[k].item() == ds.attrs[k]]
    return ds.drop_vars(drop) if drop else ds


# ============================================================================ directories
def check_directory_space(path, need_bytes: float, what: str = "out") -> Path:
    """Check, before any work, that an output directory can be created and written.

    Parameters
    ----------
    path : str or os.PathLike
        The output directory (it may not exist yet; its parent must).
    need_bytes : float
        Free space required on its file system.
    what : str
        Argument name for messages.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    UsageError
        If the directory (or, when it does not exist, its parent) is not writable, or the
        file system has less than ``need_bytes`` free.
    """
    p = Path(path)
    where = p if p.is_dir() else p.absolute().parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".absorbphys-probe-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{what}: cannot write in {short(where)}: "
                         f"{exc.strerror or exc}") from None
    free = shutil.disk_usage(where).free
    if free < need_bytes:
        raise UsageError(f"{what}: only {_size(free)} free on the file system of "
                         f"{short(where)}; the outputs need about {_size(need_bytes)}")
    return p


def _owned(listed) -> tuple[set, set]:
    own = {str(Path(f).as_posix()) for f in listed}
    own_dirs = set()
    for f in own:
        parts = f.split("/")[:-1]
        own_dirs.update("/".join(parts[:i + 1]) for i in range(len(parts)))
    return own, own_dirs


def foreign_entries(out: Path, listed, keep=()) -> list[str]:
    """Entries of ``out`` that a tool writing the files ``listed`` did not write.

    Parameters
    ----------
    out : pathlib.Path
        The previous output directory.
    listed : iterable of str
        Relative paths (``/``-separated) the tool wrote there.
    keep : iterable of str
        Top-level names managed separately (e.g. ``.checkpoints``), neither owned nor
        foreign.

    Returns
    -------
    list of str
        Relative paths of foreign files and of folders holding nothing the tool wrote.
    """
    own, own_dirs = _owned(listed)
    keep = set(keep)
    found = []
    for dirpath, dirnames, filenames in os.walk(out):
        rel = Path(dirpath).relative_to(out).as_posix()
        rel = "" if rel == "." else rel + "/"
        for d in list(dirnames):
            r = rel + d
            if (not rel and d in keep) or r not in own_dirs:
                dirnames.remove(d)
                if not (not rel and d in keep):
                    found.append(r)
        found.extend(rel + f for f in filenames
                     if rel + f not in own and not (not rel and f in keep))
    return sorted(found)


def replace_dir(staging: Path, out: Path, listed_before=(), keep=()):
    """Swap a finished staging directory into place without deleting anything foreign.

    What the old ``out`` holds beyond the files its previous run listed
    (``listed_before``) — a user's notes or analyses — moves into the new directory; the
    names in ``keep`` (e.g. ``.checkpoints``) move over as they are. Between the two renames
    the output path briefly does not exist; it never holds a half-written report.

    Parameters
    ----------
    staging : pathlib.Path
        The finished new directory (same file system as ``out``).
    out : pathlib.Path
        Its destination.
    listed_before : iterable of str
        Files the previous run wrote into ``out`` (relative, ``/``-separated).
    keep : iterable of str
        Top-level names carried over unchanged.

    Returns
    -------
    list of str
        The foreign entries carried over.
    """
    carried = []
    old = None
    if out.exists():
        foreign = foreign_entries(out, listed_before, keep)
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
        os.rmdir(old)
        os.replace(out, old)
    os.replace(staging, out)
    if old is None:
        return carried
    moved_all = True
    for name in list(keep) + foreign:
        src = old / name
        if not (src.exists() or src.is_symlink()):
            continue
        dest = out / name
        if dest.exists() or dest.is_symlink():  # the new run wrote a file of that name
            dest = dest.with_name(dest.name + ".user")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        except OSError:
            moved_all = False
            continue
        if name not in keep:
            carried.append(name)
    if moved_all:
        shutil.rmtree(old, ignore_errors=True)
    else:
        notify(f"some files of the previous {short(out)} could not be moved into the new one; "
               f"they are kept in {short(old)}")
    return carried

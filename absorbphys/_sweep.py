"""``sweep``: run one process over a grid of parameters (checkpointed, resumable, distributed).

Layout of a run
---------------
With ``out="run.nc"`` the sweep keeps a run directory ``run.nc.parts/`` next to the output:

``manifest.json``
    The sweep's configuration (model, fixed parameters, grid, ``t_max``, samples, batches,
    init, master seed, backend, output times, absorbphys version), written atomically before
    any work. ``resume=True`` refuses a directory whose manifest differs from the request.
``point-<hash>.nc``
    One netCDF file per finished grid point (the Dataset of :func:`absorbphys.simulate`),
    written atomically (temporary file, fsync, rename, fsync of the directory) as soon as the
    point completes. It carries the configuration hash, the point's key and a SHA-256 of its
    values; on resume a file that cannot be read, or whose hash, key, shape, times or checksum
    do not match, is deleted and recomputed, never merged.
``lock``
    Held (``flock``) while a sweep writes to the directory: two sweeps never share it.

The merged file is written atomically like :func:`absorbphys.save` (temporary file, fsync,
rename), streaming the point files into it one point at a time; the run directory is then
removed (``keep_parts=True`` keeps it). A sweep killed at any moment (even by SIGKILL) and then
resumed gives the Dataset an uninterrupted run gives, apart from the ``created`` attribute.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from absorbphys._backends import BACKENDS, resolve_backend
from absorbphys._io import atomic_write, notify, prepare_output, save, short, write_json
from absorbphys._params import INT_MAX, UsageError, check_int, first_line, unknown_parameter
from absorbphys._process import AbsorbingProcess
from absorbphys._progress import Progress
from absorbphys._simulate import coord_value, make_times, preflight, sample_edges, simulate
from absorbphys._version import __version__

#: Suffix of the run directory next to the output file.
PARTS_SUFFIX = ".parts"
_MANIFEST = "manifest.json"
_FORMAT = 1
# Attributes written into point files only (stripped when merging).
_POINT_ATTRS = ("sweep_config", "sweep_point", "sweep_checksum")


# ============================================================================ seeds
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def point_seed(seed: int, process: AbsorbingProcess) -> int:
    """Return the seed :func:`sweep` gives to the grid point ``process``.

    The seed is a pure function of the master seed, the model name and *all* the process's
    parameter values (not of the grid, its order, or the other points), so adding points,
    reordering the grid or resuming never changes an existing point's result, and
    ``simulate(process, seed=point_seed(seed, process), ...)`` reproduces that point.

    Parameters
    ----------
    seed : int
        Master seed in [0, 2**63 - 1].
    process : AbsorbingProcess
        The grid point.

    Returns
    -------
    int
        A seed in [0, 2**63 - 1]: ``numpy.random.SeedSequence(entropy=seed,
        spawn_key=<SHA-256 of the canonical JSON of {model, params}>)``, first 64-bit word,
        shifted right by one bit.
    """
    seed = check_int("seed", seed, low=0, high=INT_MAX)
    key = _canonical({"model": process.name, "params": process.param_values()})
    words = np.frombuffer(hashlib.sha256(key.encode()).digest(), dtype="<u4")
    ss = np.random.SeedSequence(entropy=seed, spawn_key=tuple(int(w) for w in words))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


# ============================================================================ the plan
@dataclasses.dataclass
class _Plan:
    """Everything a sweep needs, validated before any work starts."""

    cls: type
    names: list            # swept parameter names, in grid order
    values: list           # per name: list of coerced values
    shape: tuple
    processes: list        # one per point, C order over the grid
    seeds: np.ndarray      # per point
    keys: list             # canonical JSON of the point's swept values
    kw: dict               # simulate keyword arguments except process and seed
    times: np.ndarray
    config: dict
    config_hash: str
    out: Path | None
    run_dir: Path | None
    resume: bool
    keep_parts: bool
    progress: object
    workers: int


def _describe_point(names, vals):
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, vals))


def _resolve_model(model, params):
    if isinstance(model, str):
        from absorbphys._registry import get_model

        cls, base = get_model(model), {}
    elif isinstance(model, type) and issubclass(model, AbsorbingProcess):
        cls, base = model, {}
    elif isinstance(model, AbsorbingProcess):
        cls = type(model)
        base = {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}
    else:
        raise TypeError("model must be a registered model name, an AbsorbingProcess subclass "
                        f"or instance, got {model!r}")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict {{name: value}} of fixed parameters, "
                        f"got {params!r}")
    for k in params:
        if k not in cls.params:
            raise unknown_parameter(k, cls, "params: ")
    return cls, base, dict(params)


def _check_grid(cls, grid, explicit):
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty dict {parameter: [values, ...]}, "
                         f"got {grid!r}")
    names, values = [], []
    for name, vals in grid.items():
        if not isinstance(name, str) or name not in cls.params:
            raise unknown_parameter(name, cls, "grid: ")
        if name in explicit:
            raise ValueError(f"grid: parameter {name!r} is both swept and fixed (params); "
                             "give it in one place")
        if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__"):
            raise TypeError(f"grid: {name} must be a list of values, got {vals!r}")
        vals = list(np.asarray(vals, dtype=object).ravel()) if isinstance(vals, np.ndarray) \
            else list(vals)
        if not vals:
            raise ValueError(f"grid: {name} has no values; give at least one")
        spec = cls.params[name]
        try:
            coerced = [spec.check(name, v) for v in vals]
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"grid: {first_line(exc)}") from None
        seen = set()
        for v in coerced:
            cv = coord_value(v)
            if cv in seen:
                raise ValueError(f"grid: {name} has the value {cv!r} twice; grid values must "
                                 "be distinct")
            seen.add(cv)
        names.append(name)
        values.append(coerced)
    return names, values


def _required(cls):
    return [f.name for f in dataclasses.fields(cls) if f.init
            and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def _times_digest(tarr):
    return {"n": int(len(tarr)), "first": tarr[0].item(), "last": tarr[-1].item(),
            "dtype": str(tarr.dtype),
            "sha256": hashlib.sha256(np.ascontiguousarray(tarr).tobytes()).hexdigest()}


def make_plan(model, grid, t_max, samples, init, seed, backend, out, client, times, batches,
          params, resume, progress, workers, keep_parts) -> _Plan:
    cls, base, explicit = _resolve_model(model, params)
    names, values = _check_grid(cls, grid, explicit)
    fixed = {**base, **explicit}
    missing = [k for k in _required(cls) if k not in fixed and k not in names]
    if missing:
        raise ValueError(f"model {cls.name!r} needs the parameter {missing[0]!r} "
                         f"({cls.params[missing[0]].describe()}) in params or grid")
    samples = check_int("samples", samples, low=1)
    batches = min(samples, 100) if batches is None else check_int("batches", batches, low=1,
                                                                     high=samples)
    seed = check_int("seed", seed, low=0, high=INT_MAX)
    if cls.continuous_time:
        try:
            t_max = float(t_max)
        except (TypeError, ValueError):
            raise TypeError(f"t_max must be a number >= 1, got {t_max!r}") from None
    else:
        t_max = check_int("t_max", t_max, low=1)
    if workers is not None:
        workers = check_int("workers", workers, low=1)

    shape = tuple(len(v) for v in values)
    processes, seeds, keys = [], [], []
    tarr = None
    init_v = None
    for combo in itertools.product(*values):
        kwargs = {**fixed, **dict(zip(names, combo))}
        try:
            proc = cls(**kwargs)
        except (ValueError, TypeError) as exc:
            msg = first_line(exc)
            raise type(exc)(f"grid point {_describe_point(names, combo)}: {msg}") from None
        iv = proc._check_init(init)
        ta = make_times(proc, t_max, times)
        if tarr is None:
            tarr, init_v = ta, iv
        elif not np.array_equal(ta, tarr) or iv != init_v:
            raise ValueError(f"grid point {_describe_point(names, combo)}: output times "
                             "differ from the first point's; all points must share one t grid")
        try:
            preflight(proc, ta, samples, batches, iv)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"grid point {_describe_point(names, combo)}: "
                            f"{first_line(exc)}") from None
        processes.append(proc)
        seeds.append(point_seed(seed, proc))
        keys.append(_canonical({n: coord_value(v) for n, v in zip(names, combo)}))

    p0 = processes[0]
    if client is None:
        backend = resolve_backend(backend, p0)
    else:  # resolved where the work runs ('auto' may find a GPU on the workers)
        if backend is None:
            from absorbphys.config import get_option

            backend = get_option("backend")
        if backend not in BACKENDS:
            resolve_backend(backend, p0)  # raises the standard message
        if backend != "auto" and backend not in p0.backends:
            raise UsageError(f"backend {backend!r} is not available for model {p0.name!r}; "
                             f"available: {', '.join(p0.backends)}")
        if not hasattr(client, "submit"):
            raise TypeError(f"client must be a dask.distributed Client, got {client!r}")

    fixed_json = {k: v for k, v in p0.param_values().items() if k not in names}
    config = {
        "format": _FORMAT,
        "model": cls.name,
        "fixed": fixed_json,
        "grid": {n: [coord_value(v) for v in vals] for n, vals in zip(names, values)},
        "t_max": t_max,
        "times": _times_digest(tarr),
        "samples": samples,
        "batches": batches,
        "init": init_v,
        "seed": seed,
        "backend": backend,
        "absorbphys_version": __version__,
    }
    config_hash = hashlib.sha256(_canonical(config).encode()).hexdigest()

    run_dir = None
    if out is not None:
        out = prepare_output(out)
        run_dir = out.with_name(out.name + PARTS_SUFFIX)
        if (run_dir.exists() or run_dir.is_symlink()) and not run_dir.is_dir():
            raise UsageError(f"out: {short(run_dir)} exists and is not a directory; the sweep "
                             "keeps its checkpoints there: move that file away")
        if run_dir.exists() and not resume:
            raise UsageError(f"out: run directory {short(run_dir)} exists (from an earlier "
                             "run); pass resume=True (--resume) to continue it, or delete it")
        if run_dir.exists():
            _check_manifest(run_dir, config)
    elif resume:
        raise UsageError("resume=True needs out=PATH (the checkpoints live next to it)")

    kw = dict(t_max=t_max, samples=samples, init=init_v, backend=backend, times=tarr,
              batches=batches)
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            workers = os.cpu_count() or 1
    return _Plan(cls=cls, names=names, values=values, shape=shape, processes=processes,
                 seeds=np.asarray(seeds, dtype=np.int64), keys=keys, kw=kw, times=tarr,
                 config=config, config_hash=config_hash, out=out, run_dir=run_dir,
                 resume=bool(resume), keep_parts=bool(keep_parts), progress=progress,
                 workers=int(workers))


# ============================================================================ files
def _check_manifest(run_dir: Path, config: dict):
    path = run_dir / _MANIFEST
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


def _point_path(run_dir: Path, key: str) -> Path:
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


def _read_point(path: Path, plan: _Plan, key: str):
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
    for k in _POINT_ATTRS:
        ds.attrs.pop(k, None)
    return ds


def _write_point(ds: xr.Dataset, path: Path, plan: _Plan, key: str):
    tagged = ds.copy()
    tagged.attrs.update(sweep_config=plan.config_hash, sweep_point=key,
                        sweep_checksum=_checksum(ds))
    save(tagged, path)


class _DirLock:
    def __init__(self, run_dir: Path):
        self.path = run_dir / "lock"
        self.fh = None

    def __enter__(self):
        self.fh = open(self.path, "a")
        try:
            import fcntl

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


# ============================================================================ execution
_LAUNCH_LOCK = threading.Lock()


def _run_point(task):
    """Run one grid point (in a worker process, a Dask worker, or in-process)."""
    proc, seed, kw = task
    # Numba's workqueue layer does not allow concurrent kernel launches from threads.
    with _LAUNCH_LOCK:
        return simulate(proc, seed=seed, progress=False, **kw)


def _run_point_dask(task):
    """Dask task: use as many Numba threads as the worker has task threads."""
    try:
        import numba
        from distributed import get_worker

        n = int(get_worker().state.nthreads)
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # pragma: no cover - outside a worker or old distributed
        pass
    return _run_point(task)


def _watch_parent(pid):
    while True:
        time.sleep(1.0)
        if os.getppid() != pid:  # orphaned (the sweep was killed): stop computing
            os._exit(1)


def _init_worker(parent_pid, n_threads):
    import numba

    numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _execute_local(tasks, n_workers, handle, n_threads=1):
    """Run ``tasks`` [(index, task)] on ``n_workers`` processes, at most 2 per worker queued.

    Each worker uses ``n_threads`` Numba threads.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    ex = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(os.getpid(), n_threads))
    it = iter(tasks)
    pending = {}

    def submit_next():
        for i, task in it:
            pending[ex.submit(_run_point, task)] = i
            return

    try:
        for _ in range(2 * n_workers):
            submit_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    ds = fut.result()
                except BrokenProcessPool:
                    raise RuntimeError(
                        "a sweep worker process died; if sweep() is called from a script, "
                        "protect the call with `if __name__ == '__main__':` (workers are "
                        "started with 'spawn'), or pass workers=1") from None
                handle(i, ds)
                submit_next()
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=False)  # every result is in; let the workers exit on their own


def _execute_dask(client, tasks, handle, tag):
    try:
        from distributed import as_completed
    except ImportError:  # pragma: no cover - the client itself needs distributed
        raise UsageError("client= needs dask.distributed: pip install 'absorbphys[dist]'") \
            from None
    try:
        nthreads = sum(client.nthreads().values())
    except Exception:  # pragma: no cover
        nthreads = 1
    limit = max(2, 2 * nthreads)
    it = iter(tasks)
    index = {}
    ac = as_completed()

    def submit_next():
        for i, task in it:
            fut = client.submit(_run_point_dask, task, pure=False,
                                key=f"absorbphys-sweep-{tag}-{i}-{os.urandom(4).hex()}")
            index[fut.key] = i
            ac.add(fut)
            return

    for _ in range(limit):
        submit_next()
    for fut in ac:
        i = index.pop(fut.key)
        ds = fut.result()
        fut.release()
        handle(i, ds)
        submit_next()


# ============================================================================ merge
class _Merger:
    """Collects the points' metadata and, without an output file, their values.

    With an output file nothing but metadata is kept: :meth:`write` streams the values from
    the point files into the final file, one point at a time.
    """

    def __init__(self, plan: _Plan, keep_data: bool):
        self.plan = plan
        self.keep_data = keep_data
        self.arrays: dict[str, np.ndarray] = {}
        self.var_names: list = []
        self.var_attrs: dict[str, dict] = {}
        self.t_attrs = None
        self.attrs: list = [None] * len(plan.processes)
        self.first = None

    def add(self, i: int, ds: xr.Dataset):
        plan = self.plan
        nb, nt = plan.kw["batches"], len(plan.times)
        for name in ds.data_vars:
            if name not in self.var_names:
                self.var_names.append(name)
        if self.keep_data:
            idx = np.unravel_index(i, plan.shape)
            for name in ds.data_vars:
                if name not in self.arrays:
                    self.arrays[name] = np.full(plan.shape + (nb, nt), np.nan)
                self.arrays[name][idx] = ds[name].values
        if self.first is None or i < self.first:  # metadata of the first grid point
            self.first = i
            self.var_attrs.update({v: dict(ds[v].attrs) for v in ds.data_vars})
            self.t_attrs = dict(ds["t"].attrs)
        for v in ds.data_vars:
            self.var_attrs.setdefault(v, dict(ds[v].attrs))
        self.attrs[i] = {k: v for k, v in ds.attrs.items() if k not in _POINT_ATTRS}

    def write(self, path: Path):
        """Write the merged Dataset to ``path`` atomically, streaming from the point files."""
        import netCDF4  # heavy, and only the merge needs it

        plan = self.plan
        dims = tuple(plan.names) + ("batch", "t")
        with atomic_write(path) as tmp:
            self.dataset(data=False).to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
            with netCDF4.Dataset(tmp, "a") as nc:
                out = {}
                for name in self.var_names:
                    out[name] = nc.createVariable(name, "f8", dims, fill_value=np.nan)
                    out[name].setncatts(self.var_attrs[name])
                for i, key in enumerate(plan.keys):
                    ds = _read_point(_point_path(plan.run_dir, key), plan, key)
                    if ds is None:
                        raise RuntimeError(f"the file of grid point {key} became unreadable "
                                           "during the merge; run again with resume=True")
                    idx = np.unravel_index(i, plan.shape)
                    for name in self.var_names:
                        if name in ds.data_vars:
                            out[name][idx] = ds[name].values

    def dataset(self, data=True) -> xr.Dataset:
        """Return the merged Dataset (``data=False``: coordinates and attributes only)."""
        plan = self.plan
        dims = tuple(plan.names)
        coords = {}
        for name, vals in zip(plan.names, plan.values):
            doc = plan.cls.params[name].doc
            coords[name] = (name, np.array([coord_value(v) for v in vals]),
                            {"long_name": doc} if doc else {})
        edges = sample_edges(plan.kw["samples"], plan.kw["batches"])
        coords["t"] = ("t", plan.times, self.t_attrs or {})
        coords["batch"] = ("batch", np.arange(plan.kw["batches"], dtype=np.int64))
        coords["n_samples"] = ("batch", np.diff(edges).astype(np.int64),
                               {"long_name": "samples in batch"})
        for k, v in plan.processes[0].param_values().items():
            if k not in dims:
                coords[k] = ((), coord_value(v))
        coords["point_seed"] = (dims, plan.seeds.reshape(plan.shape),
                                {"long_name": "seed of the grid point (simulate's seed)"})
        attrs = self._merged_attrs(coords)
        data = {name: (dims + ("batch", "t"), self.arrays[name], self.var_attrs[name])
                for name in self.var_names} if data else {}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def _merged_attrs(self, coords) -> dict:
        """Merge per-point attributes (see :func:`sweep`, "Attributes")."""
        plan = self.plan
        keys = list(self.attrs[0])
        merged = {}
        for key in keys:
            vals = [a.get(key) for a in self.attrs]
            if key == "created":
                merged[key] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            elif key == "history":
                merged[key] = (f"absorbphys.sweep over {', '.join(plan.names)}, absorbphys "
                               f"{__version__} (time: 'created')")
            elif key == "source":
                merged[key] = vals[0].replace("simulation", "sweep")
            elif key == "seed":
                merged[key] = int(plan.config["seed"])
            elif key == "params":
                pv = dict(plan.processes[0].param_values())
                for n, vs in zip(plan.names, plan.values):
                    pv[n] = [coord_value(v) for v in vs]
                merged[key] = json.dumps(pv)
            elif all(_same(v, vals[0]) for v in vals):
                merged[key] = vals[0]
            elif key in coords:  # e.g. 'dim' when dim is swept: already a coordinate
                continue
            else:  # e.g. 'size' when L is swept: a coordinate over the dims it varies on
                arr = np.array(vals).reshape(plan.shape)
                dims = list(plan.names)
                for ax in reversed(range(arr.ndim)):
                    first = np.take(arr, [0], axis=ax)
                    if np.all(arr == first):
                        arr = np.take(arr, 0, axis=ax)
                        dims.pop(ax)
                coords[key] = (tuple(dims), arr)
        merged["swept"] = json.dumps(list(plan.names))
        merged["sweep_config"] = plan.config_hash  # lets resume recognise a finished output
        return merged


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


# ============================================================================ public
def sweep(model, grid, t_max, samples=1, init="full", seed=0, backend=None, out=None,
          client=None, times=None, batches=None, params=None, resume=False, progress=None,
          workers=None, keep_parts=False) -> xr.Dataset:
    """Run a process at every point of a parameter grid and return one Dataset.

    Parameters
    ----------
    model : str, type or AbsorbingProcess
        Registry name (``"dp"``), process class, or an instance whose parameters are the
        fixed ones (swept parameters override them).
    grid : dict of str to list
        ``{name: [values, ...]}``: swept parameters, in dimension order; values distinct and
        valid for the model. Every point is validated (by constructing its process) before
        any work starts.
    t_max : int or float
        Number of time steps / layers, or the final time for continuous-time processes.
    samples : int
        Independent realisations per grid point (>= 1).
    init : str or float
        Initial condition, as for :func:`absorbphys.simulate`.
    seed : int
        Master seed in [0, 2**63 - 1]. Each point runs with :func:`point_seed` ``(seed,
        process)``, a function of the master seed and the point's parameters only.
    backend : {"cpu", "cuda", "auto"}, optional
        Where each point runs; default: the option ``backend`` (:func:`~absorbphys.set_options`,
        ``ABSORBPHYS_BACKEND``), itself ``"cpu"`` unless set.
    out : str or os.PathLike, optional
        Output netCDF file. Checkpoints live in ``out + ".parts"`` while the sweep runs.
    client : distributed.Client, optional
        Run the points on this Dask cluster instead of local processes.
    times : None, "log", int or array_like
        Output times (see :func:`absorbphys._simulate.make_times`); shared by all points.
    batches : int, optional
        Batches per point (default ``min(samples, 100)``).
    params : dict, optional
        Fixed (not swept) parameters.
    resume : bool
        Continue an interrupted sweep with the same arguments: finished points in the run
        directory are reused, partial or corrupt ones recomputed. A different configuration
        is refused; with no run directory the sweep simply starts, unless ``out`` already
        holds the finished result of the same configuration, which is returned as it is.
        Without ``resume`` an existing run directory is an error (never overwritten).
    progress : bool, optional
        Progress bar on stderr (points done, ETA); default: the ``progress`` option.
    workers : int, optional
        CPU budget for local execution (default: the usable CPU cores). Points run on
        ``min(workers, points left)`` processes with ``workers // processes`` Numba threads
        each (one thread when there are enough points); one process means in-process, with
        Numba's threads. Ignored with ``client``.
    keep_parts : bool
        Keep the run directory after a successful merge (default: remove it).

    Returns
    -------
    xarray.Dataset
        The variables of :func:`absorbphys.simulate` with dims ``(*grid, "batch", "t")``;
        each swept parameter is a dimension coordinate, the fixed ones scalar coordinates,
        and ``point_seed`` (over the swept dims) holds each point's seed. With ``out`` it is
        opened lazily from the written file (``.load()`` reads it into memory); without, it
        is in memory.

    Raises
    ------
    TypeError, ValueError
        Bad input (one line naming the parameter and its valid range), before any work.

    Notes
    -----
    **Attributes.** Those of :func:`absorbphys.simulate`, merged over the points: a value
    shared by every point is kept; ``seed`` is the master seed; ``params`` is the JSON of
    the first point's parameters with each swept one replaced by its list of grid values;
    ``created`` is the time of the merge; any other attribute that differs between points
    (``size`` when the size parameter is swept) becomes a coordinate over the swept
    dimensions it varies along (or is dropped when it is a swept parameter itself, e.g.
    ``dim``). ``swept`` is the JSON list of swept parameter names.

    **Execution.** Points run on local processes (context 'spawn': a script that calls
    :func:`sweep` must guard the call with ``if __name__ == "__main__":``; a model class
    defined interactively runs in-process) or as tasks on a Dask cluster (one Numba thread
    per Dask task thread; kernel launches within a worker process are serialised, since
    Numba's workqueue layer does not allow concurrent launches).

    **Memory.** At most two points per worker are queued. With ``out`` every finished point
    goes straight to its file, and the merge streams the files into the output one point at
    a time, so memory is bounded by the points in flight whatever the grid size. Without
    ``out`` the result is assembled in memory.

    **Checkpoints.** See the module documentation: one file per point in ``out + ".parts"``,
    validated on resume (configuration hash, point key, shape, times, SHA-256 of the
    values); the directory is removed after the merge unless ``keep_parts``.

    Examples
    --------
    >>> ds = sweep("dp", grid={"p": [0.64, 0.65], "L": [64, 128]}, t_max=100,
    ...            samples=10, out="fss.nc")  # doctest: +SKIP
    """
    plan = make_plan(model, grid, t_max, samples, init, seed, backend, out, client, times,
                 batches, params, resume, progress, workers, keep_parts)
    return execute_plan(plan, client)


def _importable(cls) -> bool:
    import sys

    if cls.__module__ != "__main__":
        return True
    return getattr(sys.modules.get("__main__"), "__file__", None) is not None


def _finished_output(plan: _Plan):
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


def execute_plan(plan: _Plan, client=None) -> xr.Dataset:
    done = _finished_output(plan)
    if done is not None:
        return done
    merger = _Merger(plan, keep_data=plan.out is None)
    n = len(plan.processes)
    todo = list(range(n))
    lock = None
    if plan.run_dir is not None:
        plan.run_dir.mkdir(exist_ok=True)
        lock = _DirLock(plan.run_dir).__enter__()
    try:
        if plan.run_dir is not None:
            write_json(plan.run_dir / _MANIFEST, plan.config, sort_keys=True)
            # temporary files of a killed run (points, manifest, the merged output)
            stale = list(plan.run_dir.glob(".*.part"))
            if plan.resume:
                stale += list(plan.out.parent.glob(f".{plan.out.name}.*.part"))
            for p in stale:
                p.unlink(missing_ok=True)
            todo = []
            for i, key in enumerate(plan.keys):
                path = _point_path(plan.run_dir, key)
                ds = _read_point(path, plan, key) if plan.resume else None
                if ds is None:
                    path.unlink(missing_ok=True)
                    todo.append(i)
                else:
                    merger.add(i, ds)
        n_resumed = n - len(todo)
        desc = f"sweep {plan.cls.name}" + (f" ({n_resumed} resumed)" if n_resumed else "")

        with Progress(total=max(len(todo), 1), desc=desc, enabled=plan.progress,
                      unit="point") as bar:
            def handle(i, ds):
                if plan.run_dir is not None:
                    _write_point(ds, _point_path(plan.run_dir, plan.keys[i]), plan,
                                 plan.keys[i])
                merger.add(i, ds)
                bar.update(1)

            tasks = ((i, (plan.processes[i], int(plan.seeds[i]), plan.kw)) for i in todo)
            if not todo:
                pass
            elif client is not None:
                _execute_dask(client, tasks, handle, plan.config_hash[:12])
            else:
                nw = min(plan.workers, len(todo))
                if nw > 1 and not _importable(plan.cls):
                    nw = 1  # defined in an interactive session: workers could not import it
                if nw <= 1:
                    for i, task in tasks:
                        handle(i, _run_point(task))
                else:  # the worker budget is shared: fewer points, more threads each
                    _execute_local(tasks, nw, handle, max(1, plan.workers // nw))
        if plan.out is None:
            ds = merger.dataset()
        else:
            merger.write(plan.out)
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    if plan.run_dir is not None and not plan.keep_parts:
        shutil.rmtree(plan.run_dir, ignore_errors=True)
    if plan.out is not None:  # lazily: memory stays bounded by the points in flight
        ds = xr.open_dataset(plan.out, engine="netcdf4")
    return ds

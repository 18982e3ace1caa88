"""``simulate``: run one process on one backend and return a Dataset in the absorbphys schema."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import signal
import sys
import threading

import numba
import numpy as np
import xarray as xr

from absorbphys._backends import resolve_backend
from absorbphys._params import INT_MAX, UsageError, check_int
from absorbphys._process import NOT_COORDINATES, STANDARD_OBSERVABLES, AbsorbingProcess
from absorbphys._progress import Progress, compile_notice
from absorbphys._version import __version__
from absorbphys.config import configure_numba

# CF metadata: every observable is dimensionless ("1"); the time coordinate counts steps,
# Monte Carlo sweeps or layers (not UDUNITS units): units "1", axis "T", the kind of time in
# its long_name and in the attribute ``time_unit`` (also global).
_LONG_NAMES = {"rho": "order parameter rho", "rho2": "rho squared",
               "survival": "survival probability", "n_active": "active sites",
               "r2": "mean squared spreading distance (lattice units squared)"}
_TIME_NAMES = {"step": "time step", "MCS": "time (Monte Carlo sweeps)",
               "layer": "layer (depth)"}
_INIT_NAMES = {"full": "fully active start", "seed": "seed start"}


#: Most output times of one run, whatever ``times`` asks for (every step, a count of
#: log-spaced times, an array): each costs one float64 per batch and observable.
_MAX_TIMES = 10**8
#: Counts of log-spaced times up to this go through ``numpy.geomspace`` as before (at most
#: 8 MiB; the grids of earlier versions, so sweep checkpoints keep their time digest);
#: larger counts are built piecewise in memory proportional to the final grid.
_GEOM_DIRECT = 2**20
#: Margin below 1 of the spacing of neighbouring log-spaced points under which every integer
#: between them is hit by rounding (leaves room for the rounding of ``exp``).
_DENSE_MARGIN = 1e-3


def _log_grid_discrete(t_max: int, n: int) -> np.ndarray:
    """Return the distinct integers ``rint(geomspace(1, t_max, n))`` and 0, int64.

    Memory is proportional to the returned grid, never to ``n`` or ``t_max``: where the
    spacing of neighbouring points ``x_i = t_max**(i / (n - 1))`` is below 1 every integer
    is hit, so that part is ``arange``; beyond it the points are at least ``1 - margin``
    apart and few (their number is known before anything is allocated and checked against
    :data:`_MAX_TIMES`).
    """
    if n <= _GEOM_DIRECT:
        grid = np.geomspace(1.0, t_max, n)
        return np.unique(np.concatenate([[0], np.rint(grid).astype(np.int64)]))
    lr = math.log(t_max) / (n - 1) if t_max > 1 else 0.0
    if lr == 0.0:
        return np.array([0, 1], dtype=np.int64)
    # x_i * expm1(lr) <= 1 - margin  <=>  i <= log((1 - margin) / expm1(lr)) / lr
    bound = math.log((1.0 - _DENSE_MARGIN) / math.expm1(lr)) / lr
    i0 = int(min(n - 1, max(0, math.floor(bound))))
    k0 = min(t_max, int(math.floor(math.exp(i0 * lr))))
    size = (k0 + 1) + (n - i0)  # 0..k0, then the points i0..n-1 (an upper bound)
    if size > _MAX_TIMES:
        raise ValueError(f"times: {n} log-spaced times up to t_max={t_max} give about "
                         f"{size:.3g} distinct output times, at most {_MAX_TIMES:.0e}; "
                         "ask for fewer times")
    x = np.arange(i0, n, dtype=np.float64)  # in place from here: few copies of the points
    x *= lr
    np.exp(x, out=x)
    np.rint(x, out=x)
    sparse = x.astype(np.int64)
    del x
    sparse[-1] = t_max
    np.minimum(sparse, t_max, out=sparse)
    # the points increase (neighbours >= 1 - margin apart): drop repeats and those <= k0
    keep = np.empty(sparse.size, dtype=bool)
    keep[0] = sparse[0] > k0
    np.not_equal(sparse[1:], sparse[:-1], out=keep[1:])
    keep[1:] &= sparse[1:] > k0
    out = np.empty(k0 + 1 + int(np.count_nonzero(keep)), dtype=np.int64)
    out[:k0 + 1] = np.arange(0, k0 + 1, dtype=np.int64)
    out[k0 + 1:] = sparse[keep]
    return out


def make_times(process: AbsorbingProcess, t_max, times=None) -> np.ndarray:
    """Return the validated output times for a process.

    Parameters
    ----------
    process : AbsorbingProcess
        Decides discrete (int64) or continuous (float64) time.
    t_max : int or float
        Last time (>= 1).
    times : None, "log", int, or array_like
        ``None``: every integer time 0..t_max. ``"log"``: t = 0 and about 20 log-spaced times
        per decade up to t_max (distinct integers for discrete time). An int ``n``: ``n``
        log-spaced times (for discrete time the distinct integers among them, built in
        memory proportional to their number, never to ``n`` or ``t_max``). An array:
        explicit times in [0, t_max], strictly increasing. At most 1e8 output times in
        all, checked on the final grid before it is allocated.

    Returns
    -------
    numpy.ndarray
    """
    cont = process.continuous_time
    if cont:
        try:
            t_max = float(t_max)
        except (TypeError, ValueError):
            raise TypeError(f"t_max must be a number >= 1, got {t_max!r}") from None
        if not (t_max >= 1) or math.isinf(t_max):
            raise ValueError(f"t_max must be a finite number >= 1, got {t_max!r}")
    else:
        t_max = check_int("t_max", t_max, low=1)
    if times is None:
        if t_max > _MAX_TIMES:
            raise ValueError(f"t_max: times=None records every step, at most {_MAX_TIMES:.0e} "
                             f"of them, got t_max={t_max:g}; use times='log' or a count")
        return np.arange(0, int(math.floor(t_max)) + 1, dtype=np.float64 if cont else np.int64)
    if isinstance(times, str) or isinstance(times, (int, np.integer)):
        if isinstance(times, str) and times != "log":
            raise ValueError(f"times must be None, 'log', an int or an array, got {times!r}")
        n = int(max(2, round(20 * math.log10(max(t_max, 10))))) if isinstance(times, str) \
            else check_int("times", times, low=2)
        if cont:
            if n + 1 > _MAX_TIMES:  # every log-spaced time is distinct in continuous time
                raise ValueError(f"times must be a count in [2, {_MAX_TIMES - 1:.0e}] of "
                                 f"log-spaced times, got {n}")
            return np.concatenate([[0.0], np.geomspace(1.0, t_max, n)])
        return _log_grid_discrete(t_max, n)
    if isinstance(times, (float, np.floating)) or isinstance(times, (set, frozenset, dict)):
        raise TypeError(f"times must be None, 'log', an int count or a 1-d array of times, "
                        f"got {times!r}")
    try:
        arr = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"times must be None, 'log', an int count or a 1-d array of times, "
                        f"got {times!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"times must be a 1-d array of times, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("times must not be empty")
    if arr.size > _MAX_TIMES:
        raise ValueError(f"times must hold at most {_MAX_TIMES:.0e} output times, "
                         f"got {arr.size}")
    if not np.all(np.isfinite(arr)) or arr[0] < 0 or arr[-1] > t_max:
        raise ValueError(f"times must lie in [0, t_max={t_max}], got [{arr.min()}, {arr.max()}]")
    if np.any(np.diff(arr) <= 0):
        raise ValueError("times must be strictly increasing")
    if not cont:
        if not np.all(arr == np.rint(arr)):
            raise ValueError("times must be integers for a discrete-time process")
        return arr.astype(np.int64)
    return arr


def sample_edges(samples: int, batches: int) -> np.ndarray:
    """Split ``samples`` into ``batches`` contiguous, nearly equal groups (int64 edges)."""
    return (np.arange(batches + 1, dtype=np.int64) * samples) // batches


def coord_value(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str, np.integer, np.floating)):
        return v
    return getattr(v, "__name__", repr(v))


def param_coords(process: AbsorbingProcess, skip=()) -> dict:
    """Return the scalar coordinates of ``process``'s parameters, with their descriptions.

    Parameters
    ----------
    process : AbsorbingProcess
        The process whose parameter values are recorded.
    skip : iterable of str
        Further names to leave out (e.g. the swept ones, which are dimension coordinates).

    Returns
    -------
    dict
        ``{name: ((), value, attrs)}`` for every parameter not in :data:`NOT_COORDINATES`
        or ``skip``.
    """
    skip = set(skip) | set(NOT_COORDINATES)
    out = {}
    for k, v in process.param_values().items():
        if k in skip:
            continue
        spec = type(process).params.get(k)
        out[k] = ((), coord_value(v), {"long_name": spec.doc} if spec and spec.doc else {})
    return out


def build_dataset(process: AbsorbingProcess, sums: dict, n_samples: np.ndarray,
                  times: np.ndarray, *, init, seed, backend, t_max, samples) -> xr.Dataset:
    """Normalise per-batch sums and wrap them in the schema of ``docs/schema.md``.

    Parameters
    ----------
    process : AbsorbingProcess
        The process that produced the sums.
    sums : dict of str to numpy.ndarray
        Per-batch sums, shape ``(batches, len(times))`` (see ``AbsorbingProcess._run``).
    n_samples : numpy.ndarray
        Samples in each batch.
    times : numpy.ndarray
        Output times.
    init, seed, backend, t_max, samples
        Recorded as attributes.

    Returns
    -------
    xarray.Dataset
    """
    n = n_samples.astype(np.float64)[:, None]
    data = {}
    for name, s in sums.items():
        s = np.asarray(s, dtype=np.float64)
        if name == "r2":
            na = np.asarray(sums["n_active"], dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.where(na > 0, s / np.where(na > 0, na, 1.0), np.nan)
        else:
            v = s / n
        attrs = {"long_name": _LONG_NAMES.get(name, name), "units": "1"}
        if name in STANDARD_OBSERVABLES:
            attrs["description"] = STANDARD_OBSERVABLES[name]
        data[name] = (("batch", "t"), v, attrs)
    coords = {
        "t": ("t", times, {"units": "1", "axis": "T",
                           "long_name": _TIME_NAMES.get(process.time_unit, "time"),
                           "time_unit": process.time_unit}),
        "batch": ("batch", np.arange(len(n_samples), dtype=np.int64),
                  {"long_name": "batch of samples (error bars: spread over batches)",
                   "units": "1"}),
        "n_samples": ("batch", n_samples.astype(np.int64),
                      {"long_name": "samples in batch", "units": "1"}),
    }
    coords.update(param_coords(process))
    init_s = init if isinstance(init, str) else f"c0={float(init):g}"
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    attrs = {
        "Conventions": "CF-1.10",
        "title": f"absorbphys: {process.name} process, {_INIT_NAMES.get(init_s, init_s)}",
        "source": f"absorbphys {__version__} simulation ({backend} backend)",
        "history": f"absorbphys.simulate, absorbphys {__version__} (time: 'created')",
        "model": process.name,
        "params": process.params_json(),
        "control": process.control,
        "size_param": process.size_param,
        "size": int(process.size),
        "dim": int(process.dim),
        "time_unit": process.time_unit,
        "continuous_time": int(process.continuous_time),
        "init": init_s,
        "samples": int(samples),
        "batches": int(len(n_samples)),
        "t_max": float(t_max) if process.continuous_time else int(t_max),
        "seed": int(seed),
        "backend": backend,
        "absorbphys_version": __version__,
        "created": created,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def simulate(process: AbsorbingProcess, t_max, samples=1, init="full", seed=0,
             backend=None, times=None, batches=None, progress=None) -> xr.Dataset:
    """Run a process and return the observables as an :class:`xarray.Dataset`.

    Parameters
    ----------
    process : AbsorbingProcess
        The model instance, e.g. ``DirectedPercolation(L=1024, p=0.6447)``.
    t_max : int or float
        Number of time steps, layers, or (continuous time) the final time; >= 1.
    samples : int
        Independent realisations (>= 1).
    init : str or float
        ``"full"`` (every site active / uncorrelated replicas), ``"seed"`` (one active site at
        the origin / a small perturbation), or a model-specific value (networks: the initial
        replica correlation ``c0``).
    seed : int
        Master seed in [0, 2**63 - 1]. Each sample's stream is a pure function of
        ``(seed, sample)``: results do not depend on threads, batches or backend.
    backend : {"cpu", "cuda", "auto"}, optional
        Where to run; default: the option ``backend`` (:func:`~absorbphys.set_options`,
        ``ABSORBPHYS_BACKEND``), itself ``"cpu"`` unless set.
    times : None, "log", int or array_like
        Output times (see :func:`make_times`).
    batches : int, optional
        Number of batches the samples are averaged into (the error-bar dimension). Default
        ``min(samples, 100)``; ``batches=samples`` keeps every sample.
    progress : bool, optional
        Progress bar on stderr (default: the ``progress`` option).

    Returns
    -------
    xarray.Dataset
        Dims ``batch`` and ``t``; variables ``rho``, ``rho2``, ``survival`` and, for seed
        runs, ``n_active`` and ``r2``; see ``docs/schema.md``.

    Raises
    ------
    TypeError, ValueError
        On bad input, with a one-line message naming the argument and its valid range;
        also, before any work, when the run cannot fit in memory (the samples running in
        parallel, or the output arrays of the final time grid) or the model's own estimate
        refuses it (e.g. the event count of the contact process, the variance overflow of
        networks with unbounded activations).
    """
    if not isinstance(process, AbsorbingProcess):
        raise TypeError(f"process must be an AbsorbingProcess instance, got {process!r}")
    samples = check_int("samples", samples, low=1)
    batches = min(samples, 100) if batches is None else check_int("batches", batches, low=1,
                                                                     high=samples)
    seed = check_int("seed", seed, low=0, high=INT_MAX)
    init = process._check_init(init)
    tarr = make_times(process, t_max, times)
    backend = resolve_backend(backend, process)

    configure_numba()
    # work and memory are estimated from the final grid before anything runs
    preflight(process, tarr, samples, batches, init)
    edges = sample_edges(samples, batches)
    chunk = _chunk_size(batches)
    parts: dict[str, list] = {}
    with Progress(total=batches, desc=f"{process.name}", enabled=progress,
                  unit="batch") as bar, deferred_interrupt() as interrupted, \
            compile_notice(process.name, enabled=progress):
        for b0 in range(0, batches, chunk):
            b1 = min(batches, b0 + chunk)
            out = process._run(backend, tarr, edges[b0:b1 + 1].copy(), init, seed)
            for k, v in out.items():
                parts.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
            bar.update(b1 - b0)
            interrupted()
    sums = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
    missing = [k for k in ("rho", "survival") if k not in sums]
    if missing:
        raise RuntimeError(f"model {process.name!r} kernel did not return {missing}")
    return build_dataset(process, sums, np.diff(edges), tarr, init=init, seed=seed,
                         backend=backend, t_max=t_max, samples=samples)


#: Set by the ``absorbphys`` command: Ctrl-C during a kernel ends the process at once.
EXIT_ON_INTERRUPT = False


@contextlib.contextmanager
def deferred_interrupt():
    """Hold Ctrl-C (SIGINT) while compiled kernels run; raise it between chunks.

    A ``KeyboardInterrupt`` raised while a parallel Numba kernel returns leaves an exception
    set with a result and crashes the interpreter (segmentation fault). Inside this context
    SIGINT only records the request (one note on stderr); calling the yielded function
    raises ``KeyboardInterrupt`` at a safe point, as does leaving the context after one.
    The command line (:data:`EXIT_ON_INTERRUPT` set) instead restores the system default
    for the duration: Ctrl-C ends the process at once (status 130; nothing is being written
    while kernels run). Does nothing outside the main thread or when SIGINT has a
    non-default handler.

    Yields
    ------
    callable
        Raises ``KeyboardInterrupt`` if an interrupt arrived.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield lambda: None
        return
    if EXIT_ON_INTERRUPT:
        old = signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            yield lambda: None
        finally:
            signal.signal(signal.SIGINT, old)
        return
    hit = []

    def handler(signum, frame):
        if not hit:
            print("absorbphys: interrupt: stopping after the current batches", file=sys.stderr,
                  flush=True)
        hit.append(signum)

    def check():
        if hit:
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, old)
    check()


def _available_memory() -> int | None:
    """Physical memory, capped by the address-space limit (``ulimit -v``); None if unknown."""
    avail = None
    try:
        avail = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource  # POSIX only: imported where it is used

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            avail = soft if avail is None else min(avail, soft)
    except (ImportError, ValueError, OSError):
        pass
    return avail


def preflight(process: AbsorbingProcess, times: np.ndarray, samples: int, batches: int,
              init) -> None:
    """Refuse, before any work, a run that cannot finish (one-line ``ValueError``).

    The process's own check (:meth:`AbsorbingProcess._check_run`: work, arithmetic range),
    the memory of the samples that run in parallel and that of the output arrays. Used by
    :func:`simulate` and, for every grid point before the first one runs, by
    :func:`absorbphys.sweep`.

    Parameters
    ----------
    process : AbsorbingProcess
        The validated process.
    times : numpy.ndarray
        The output times (:func:`make_times`).
    samples, batches : int
        Validated counts.
    init : str or float
        Validated initial condition.
    """
    process._check_run(times[-1].item(), samples, init)
    _check_memory(process, min(_chunk_size(batches), batches))
    _check_output_memory(batches, len(times))


def _check_memory(process: AbsorbingProcess, parallel: int) -> None:
    """Refuse a run whose samples in parallel cannot fit in memory (one-line ValueError)."""
    need = process._state_bytes()
    avail = _available_memory()
    if not need or not avail:
        return
    par = max(1, min(parallel, numba.get_num_threads()))
    if need * par > avail:
        size = process.size_param
        raise ValueError(f"{size}={getattr(process, size)}: {par} sample(s) in parallel need "
                         f"at least {need * par / 2**30:.3g} GiB, more than the "
                         f"{avail / 2**30:.3g} GiB available; use a smaller {size}")


#: Arrays of shape (batches, times) a run holds at once per observable: the kernels' sums,
#: their concatenation over chunks and the normalised Dataset variable.
_OUTPUT_COPIES = 3
#: Observables a kernel may return (rho, rho2, survival, n_active, r2).
_OUTPUT_VARS = 5


def _check_output_memory(batches: int, n_times: int) -> None:
    """Refuse a run whose output arrays (batches x times) cannot fit in memory."""
    avail = _available_memory()
    need = _OUTPUT_COPIES * _OUTPUT_VARS * 8 * int(batches) * int(n_times)
    if avail and need > avail:
        raise ValueError(f"times: {n_times} output times x {batches} batches need about "
                         f"{need / 2**30:.3g} GiB for the results, more than the "
                         f"{avail / 2**30:.3g} GiB available; record fewer times "
                         "(times='log' or a count) or use fewer batches")


def _chunk_size(batches: int) -> int:
    threads = max(1, numba.get_num_threads())
    target = max(threads, int(math.ceil(batches / 20)))
    return int(math.ceil(target / threads) * threads)


def params_from_attrs(ds: xr.Dataset) -> dict:
    """Return the model parameters recorded in a Dataset's ``params`` attribute."""
    try:
        return json.loads(ds.attrs["params"])
    except (KeyError, ValueError):
        raise UsageError("dataset has no valid 'params' attribute; "
                         "was it written by absorbphys?") from None

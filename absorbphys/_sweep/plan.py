"""The plan of a sweep: the validated grid, one process and seed per point, the config hash."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from absorbphys._backends import BACKENDS, resolve_backend
from absorbphys._io import prepare_output, short
from absorbphys._params import INT_MAX, UsageError, check_int, first_line, unknown_parameter
from absorbphys._process import AbsorbingProcess
from absorbphys._registry import get_model
from absorbphys._simulate import coord_value, make_times, preflight
from absorbphys._sweep.store import FORMAT, PARTS_SUFFIX, check_manifest
from absorbphys._version import __version__
from absorbphys.config import get_option


# ============================================================================ seeds
def canonical(obj) -> str:
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
    key = canonical({"model": process.name, "params": process.param_values()})
    words = np.frombuffer(hashlib.sha256(key.encode()).digest(), dtype="<u4")
    ss = np.random.SeedSequence(entropy=seed, spawn_key=tuple(int(w) for w in words))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


# ============================================================================ the plan
@dataclasses.dataclass
class Plan:
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
          params, resume, progress, workers, keep_parts) -> Plan:
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
        keys.append(canonical({n: coord_value(v) for n, v in zip(names, combo)}))

    p0 = processes[0]
    if client is None:
        backend = resolve_backend(backend, p0)
    else:  # resolved where the work runs ('auto' may find a GPU on the workers)
        if backend is None:

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
        "format": FORMAT,
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
    config_hash = hashlib.sha256(canonical(config).encode()).hexdigest()

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
            check_manifest(run_dir, config)
    elif resume:
        raise UsageError("resume=True needs out=PATH (the checkpoints live next to it)")

    kw = dict(t_max=t_max, samples=samples, init=init_v, backend=backend, times=tarr,
              batches=batches)
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            workers = os.cpu_count() or 1
    return Plan(cls=cls, names=names, values=values, shape=shape, processes=processes,
                 seeds=np.asarray(seeds, dtype=np.int64), keys=keys, kw=kw, times=tarr,
                 config=config, config_hash=config_hash, out=out, run_dir=run_dir,
                 resume=bool(resume), keep_parts=bool(keep_parts), progress=progress,
                 workers=int(workers))

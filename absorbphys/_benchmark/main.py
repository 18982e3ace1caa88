"""``absorbphys.benchmark``: deep networks against reference absorbing-state models.

For every process of the configuration (:mod:`absorbphys._benchmark.config`) the benchmark
locates the critical point from a sweep, measures the decay exponent there, the seed-spreading
exponents, finite-size scaling and the order-parameter exponent where configured, compares
each group of measurements with the universality catalog, and writes the results (netCDF),
a report (Markdown and HTML with embedded figures), PNG figures and a JSON summary.

The verdict is the one rule of :func:`absorbphys.analysis.decide` (the same as
:func:`absorbphys.analysis.classify` and ``absorbphys classify``): it combines the
*independent* groups of measurements (decay, spreading, finite-size scaling, stationary
density): a class is a ``match`` only if every group is consistent with it (chi-square
p >= 0.01 per group), at least two groups *resolve* it (they have catalog values for it and
are precise enough that a 20 % deviation would be a 2-sigma effect), and the runner-up is
excluded; ``inconclusive`` when fewer than two groups resolve the best class or the data
cannot separate it from the runner-up; ``no match`` when some group is inconsistent with
every class. One matching exponent, or one group, is never enough.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from absorbphys._backends import resolve_backend
from absorbphys._benchmark.config import MODES, Entry, default_config, load_config
from absorbphys._benchmark.measure import EntryFailed, EntryMeasurement
from absorbphys._benchmark.report import text_table, write_outputs
from absorbphys._benchmark.run import Runner
from absorbphys._io import check_directory_space
from absorbphys._params import INT_MAX, UsageError, check_int, first_line, short, unknown_parameter
from absorbphys._registry import get_model
from absorbphys._simulate import make_times
from absorbphys._version import __version__
from absorbphys.analysis import Estimate, class_exponents, decide, fss_exponents
from absorbphys.config import show_progress

_MARKER = "results.json"


@dataclass
class BenchmarkResult:
    """What :func:`benchmark` returns.

    Attributes
    ----------
    mode : str
        ``"quick"`` or ``"full"``.
    seed : int
        Master seed.
    out : pathlib.Path or None
        Output directory.
    rows : list of dict
        One row per process (see :meth:`to_dict` for the fields).
    datasets : dict
        ``{process: {stage: xarray.Dataset}}``: the simulated data.
    wall_s : float
        Total wall-clock time.
    """

    mode: str
    seed: int
    out: Path | None
    rows: list = field(default_factory=list)
    datasets: dict = field(default_factory=dict)
    analyses: dict = field(default_factory=dict)
    wall_s: float = 0.0
    figures: dict = field(default_factory=dict)
    config: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the summary as a JSON-serialisable dict (every estimate ``{value, error}``)."""
        return {"absorbphys_benchmark": 1, "absorbphys_version": __version__,
                "mode": self.mode, "seed": self.seed, "wall_s": round(self.wall_s, 2),
                "processes": [_jsonable_row(r) for r in self.rows]}

    def to_json(self, indent=None) -> str:
        """Return :meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def table(self) -> str:
        """Return the plain-text table printed by the command line."""
        return text_table(self)

    def __str__(self):
        return self.table()


def _jsonable_row(row):
    out = {}
    for k, v in row.items():
        if isinstance(v, Estimate):
            out[k] = v.to_dict()
        elif isinstance(v, dict):
            out[k] = _jsonable_row(v)
        elif isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        elif isinstance(v, (np.floating, np.integer)):
            out[k] = v.item()
        else:
            out[k] = v
    return out


# ============================================================================ validation
#: Free space the outputs need, checked before the first simulation (the quick benchmark
#: writes about 11 MB, checkpoints excluded; the full one keeps every sweep as a checkpoint).
FREE_SPACE = {"quick": 200e6, "full": 2e9}


def _check_out(out, mode) -> Path:
    p = Path(out)
    if (p.exists() or p.is_symlink()) and not p.is_dir():
        raise UsageError(f"out: {short(p)} is a file, not a directory; give a directory for "
                         "the benchmark outputs")
    parent = p.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"out: directory {short(parent)} does not exist; create it first")
    if p.is_dir() and any(p.iterdir()) and not (p / _MARKER).is_file() \
            and not (p / ".checkpoints").is_dir():
        raise UsageError(f"out: {short(p)} exists, is not empty and was not written by the "
                         "benchmark; choose a new or empty directory")
    check_directory_space(p, FREE_SPACE.get(mode, FREE_SPACE["full"]))
    return p


def select_entries(config, processes):
    names = [e.name for e in config]
    if processes is None:
        return list(config)
    if isinstance(processes, str):
        processes = [processes]
    processes = list(processes)
    if not processes:
        raise ValueError("processes must name at least one process")
    for p in processes:
        if p not in names:
            raise UsageError(f"unknown process {p!r}; valid: {', '.join(names)}")
    return [e for e in config if e.name in processes]


def _check_entry(e: Entry, backend=None):
    """Validate an entry against its model before any work (one-line errors).

    The fields themselves are checked by :class:`Entry`; here: the model, its parameters,
    the control parameter and the window, every configured size (sweep, coarse level,
    spreading with its extra parameters, FSS, beta) and last time, the mean-field guess and
    the backend.
    """
    pre = f"entry {e.name!r}: "
    try:
        cls = get_model(e.model)
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(pre + first_line(exc)) from None
    bad = [k for k in e.params if k not in cls.params]
    if bad:
        raise unknown_parameter(bad[0], cls, pre)
    if e.control not in cls.params:
        raise UsageError(f"{pre}control {e.control!r} is not a parameter of "
                         f"model {e.model!r}")
    spec = cls.params[e.control]
    if e.control == cls.size_param or spec.kind != "float":
        raise UsageError(f"{pre}control {e.control!r} of model {e.model!r} is not a real-valued "
                         "parameter that can be swept")
    for v in e.window:
        try:
            spec.check(f"window ({e.control})", v)
        except (ValueError, TypeError) as exc:
            raise UsageError(pre + first_line(exc)) from None
    size = cls.size_param

    def make(what, **kw):
        try:
            return cls(**{**e.params, size: e.size, e.control: e.window[0], **kw})
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{pre}{what}: {first_line(exc)}") from None

    try:
        proc = cls(**{**e.params, size: e.size, e.control: e.window[0]})
        cls(**{**e.params, size: e.size, e.control: e.window[1]})
    except (ValueError, TypeError) as exc:
        raise UsageError(pre + first_line(exc)) from None
    if e.coarse_size:
        make("coarse_size", **{size: e.coarse_size})
    if e.beta_offsets and e.beta_size:
        make("beta_size", **{size: e.beta_size})
    for n in e.fss_sizes:
        make("fss_sizes", **{size: n})
    sp = e.spreading
    if sp is not None:
        bad = [k for k in sp.get("params", {}) if k not in cls.params]
        if bad:
            raise unknown_parameter(bad[0], cls, f"{pre}spreading.params: ")
        make("spreading", **{**sp.get("params", {}), size: sp["size"]})
    try:
        proc._check_init("seed" if e.locate_init == "seed" else "full")
        if sp is not None:
            proc._check_init("seed")
    except (ValueError, TypeError) as exc:
        raise UsageError(pre + first_line(exc)) from None
    # Every last time the stages will use (rounded as the runner does for discrete time).
    times = [("t_max", e.t_max), ("decay_t_max", e.decay_t_max)]
    if e.refine > 0:
        times.append(("coarse_t_frac * t_max", e.coarse_t_frac * e.t_max))
    if sp is not None:
        times.append(("spreading.t_max", sp["t_max"]))
    if e.beta_offsets:
        times.append(("beta_t_max", e.beta_t_max))
    for n in e.fss_sizes:
        times.append((f"fss_t_factor * n**fss_t_power (n = {n})",
                      max(8.0, e.fss_t_factor * float(n) ** e.fss_t_power)))
    for what, t in times:
        try:
            make_times(proc, t if proc.continuous_time else int(round(t)), "log")
        except (ValueError, TypeError, OverflowError) as exc:
            msg = first_line(exc)
            msg = what + msg[len("t_max"):] if msg.startswith("t_max ") else f"{what}: {msg}"
            raise UsageError(pre + msg) from None
    if e.guess == "meanfield":
        try:
            # deferred: absorbphys.models (its kernels) loads only for network rows
            from absorbphys.models.meanfield import critical_sigma_w

            float(critical_sigma_w(e.params["sigma_b"], e.params.get("activation", "tanh")))
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{pre}guess 'meanfield': {first_line(exc)}") from None
    try:
        resolve_backend(backend, proc)
    except (ValueError, TypeError) as exc:
        raise UsageError(pre + first_line(exc)) from None


# ============================================================================ classification
#: Benchmark estimate key -> exponent name of the catalog.
_CATALOG_NAME = {"delta": "delta", "delta_prime": "delta_prime", "theta": "theta",
                 "z_spreading": "z", "fss_a": "a", "fss_b": "b", "beta": "beta"}


def classify_groups(estimates: dict, dim: int | None = None, size_kind=None) -> dict:
    """Decide a row's verdict with :func:`absorbphys.analysis.decide`.

    Parameters
    ----------
    estimates : dict of str to Estimate
        Measured exponents of one process (benchmark keys, e.g. ``z_spreading``, ``fss_a``).
    dim : int, optional
        Spatial dimension of the process (0: fully connected), passed to the catalog.
    size_kind : {"L", "N"}, optional
        What the size of the finite-size-scaling exponents counts.

    Returns
    -------
    dict
        :func:`~absorbphys.analysis.decide`'s result, its ``groups`` and ``reason`` in the
        benchmark's keys, without the comparison table.
    """
    meas = {_CATALOG_NAME[k]: v for k, v in estimates.items() if k in _CATALOG_NAME}
    d = decide(meas, dim=dim, size_kind=size_kind,
               labels={v: k for k, v in _CATALOG_NAME.items()})
    d.pop("table", None)
    return d


# ============================================================================ the job
def benchmark(mode="quick", out="benchmark-out", processes=None, seed=0, progress=None,
              config=None, backend=None, resume=None, workers=None):
    r"""Benchmark deep networks against reference absorbing-state models; write a report.

    For each process: critical point from a coarse-to-fine sweep of the control parameter,
    decay exponent :math:`\delta` at criticality, seed-spreading exponents
    (:math:`\delta'`, :math:`\theta`, :math:`z`), finite-size scaling
    :math:`\rho(t; n) = n^{-a} F(t/n^{b})` over the system size (width for networks) and
    :math:`\beta` from the stationary density where configured; every group of measurements
    is compared with the universality catalog and the verdict combines them.

    Parameters
    ----------
    mode : {"quick", "full"}
        ``"quick"`` (default): about 10 minutes on a 2-core machine. ``"full"``:
        publication-grade sizes (hours), resumable through checkpoints kept in
        ``out/.checkpoints``.
    out : str or os.PathLike or None
        Output directory (created; its parent must exist). An existing non-empty directory
        is used only if it holds a previous benchmark: the files that run wrote are
        replaced, anything else in it (your notes, analyses) is kept. Its file system must
        have room for the outputs (:data:`FREE_SPACE`), checked before any work. If writing
        fails at the end, the outputs go to a fresh folder in the system's temporary
        directory, named in the error. ``None``: write nothing.
    processes : list of str, optional
        Subset of the configuration by name (default: all).
    seed : int
        Master seed; every stage derives its own seed from it.
    progress : bool, optional
        Progress lines on stderr (default: when stderr is a terminal).
    config : list of Entry or str, optional
        A custom configuration, or a JSON file of entries
        (:func:`~absorbphys._benchmark.config.load_config`); default
        :func:`~absorbphys._benchmark.config.default_config` of ``mode``.
    backend : {"cpu", "cuda", "auto"}, optional
        Where every simulation runs; default: the option ``backend``
        (:func:`~absorbphys.set_options`, ``ABSORBPHYS_BACKEND``), itself ``"cpu"`` unless set.
    resume : bool, optional
        Reuse finished stages from ``out/.checkpoints`` (default: True for ``"full"``).
    workers : int, optional
        Local worker processes for sweeps (default: 1 in quick mode, where grids are short
        and Numba's threads are used; every core in full mode).

    Returns
    -------
    BenchmarkResult

    Raises
    ------
    ValueError, TypeError
        Bad input (unknown mode, process or backend, a configuration entry with a field of
        the wrong type or out of its range, ``out`` is a file, bad seed), before any work.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of 'quick', 'full', got {mode!r}")
    seed = check_int("seed", seed, low=0, high=INT_MAX)
    if config is None:
        cfg = default_config(mode)
    elif isinstance(config, (str, os.PathLike)):

        cfg = load_config(config)
    else:
        cfg = list(config)
    if not cfg:
        raise ValueError("config must hold at least one entry")
    seen = set()
    for e in cfg:
        if not isinstance(e, Entry):
            raise TypeError(f"config must be a list of Entry or a JSON file, got {e!r}")
        if e.name in seen:
            raise ValueError(f"config: duplicate entry name {e.name!r}")
        seen.add(e.name)
    # The backend before anything else runs: an unknown name, a bad ABSORBPHYS_BACKEND or
    # 'cuda' without a GPU is a usage error, not a process without measurement.
    resolve_backend(backend)
    entries = select_entries(cfg, processes)
    for e in entries:
        _check_entry(e, backend)
    if workers is not None:
        workers = check_int("workers", workers, low=1)
    outp = _check_out(out, mode) if out is not None else None
    if resume is None:
        resume = mode == "full"
    if workers is None:
        # Quick runs are many short grids: spawning worker processes (each importing the
        # package) costs more than it gains on two cores; full runs use every core.
        workers = 1 if mode == "quick" else None

    verbose = show_progress() if progress is None else bool(progress)
    t_start = time.perf_counter()

    def log(msg):
        if verbose:
            print(f"[benchmark {time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr,
                  flush=True)

    result = BenchmarkResult(mode=mode, seed=seed, out=outp,
                             config=[e.to_dict() for e in entries])
    ckpt_root = None
    if outp is not None and resume:
        outp.mkdir(exist_ok=True)
        ckpt_root = outp / ".checkpoints"
    log(f"mode={mode} seed={seed} processes={', '.join(e.name for e in entries)}")
    for e in entries:
        result.rows.append(_run_entry(e, seed, backend, ckpt_root, log, workers, result))
    result.wall_s = time.perf_counter() - t_start
    if outp is not None:

        write_outputs(result, outp, log)
    return result


def _run_entry(e: Entry, seed, backend, ckpt_root, log, workers, result):
    t0 = time.perf_counter()
    def elog(m):
        log(f"{e.name}: {m}")

    runner = Runner(e, seed, backend=backend,
                    ckpt_dir=(ckpt_root / e.name) if ckpt_root is not None else None,
                    log=elog, workers=workers)
    m = EntryMeasurement(e, runner, log=elog)
    fatal, crashed = None, False
    try:
        m.run_all()
    except (EntryFailed, ValueError) as exc:
        fatal = first_line(exc)
        elog(f"failed: {fatal}")
    except Exception as exc:  # a broken model must not sink the other processes' results
        fatal, crashed = f"{type(exc).__name__}: {first_line(exc)}", True
        elog(f"error: {fatal}")
    wall = time.perf_counter() - t0
    result.datasets[e.name] = dict(runner.datasets)
    result.analyses[e.name] = {"results": dict(m.results), "measurement": m}
    dim = _process_dim(runner, e)
    size_kind = "N" if dim == 0 else "L"
    drift = m.results.get("drift")
    if fatal is None and drift is not None and int(drift["drifts"]):
        # analysis.critical_drift's rule: the located value is a pseudo-critical point
        cls = {"verdict": "no transition", "reason": drift.attrs["reason"], "best": "",
               "runner_up": "", "score": float("nan"), "groups": {}, "ranking": []}
    elif fatal is None:
        cls = classify_groups(m.estimates, dim=dim, size_kind=size_kind)
    else:
        cls = {"verdict": "error" if crashed else "inconclusive",
               "reason": f"{'crashed' if crashed else 'no measurement'}: {fatal}", "best": "",
               "runner_up": "", "score": float("nan"), "groups": {}, "ranking": []}
    row = {"name": e.name, "label": e.label, "model": e.model, "control": e.control,
           "size_param": runner.size_param, "size": e.size, "dim": dim, "notes": e.notes}
    row.update(m.estimates)
    kap = m.results.get("kappa")
    if kap is not None and e.model in ("mlp", "cnn") and "kappa" in kap:

        row["kappa"] = Estimate(float(kap["kappa"]), float(kap["kappa_error"]))
    # catalogue values of the classes the report shows: best, runner-up, and the closest one
    # when no class is resolved
    closest = cls["ranking"][0][0] if cls["ranking"] else ""
    row["reference"] = _reference_values(
        list(dict.fromkeys(c for c in (cls["best"], cls["runner_up"], closest) if c)),
        m.estimates, dim, size_kind)
    row["calibration"] = calibration_line(e, result.mode, cls["verdict"], cls["best"])
    row.update(verdict=cls["verdict"], best=cls["best"], runner_up=cls["runner_up"],
               family=cls.get("family", ""),
               score=cls["score"], reason=cls["reason"],
               ranking=[list(r) for r in cls["ranking"][:5]],
               ranking_all=[list(r) for r in cls["ranking"]],
               windows=[list(w) for w in m.window_used],
               stage_errors=dict(m.errors), time_s=round(wall, 1),
               error_parts={k: {kk: round(float(vv), 6) for kk, vv in v.items()}
                            for k, v in m.error_parts.items()},
               budget_s=float(e.budget_s),
               stage_times={k: round(v, 2) for k, v in runner.timings.items()})
    elog(f"{cls['verdict']}: best {cls['best'] or '-'}, runner-up {cls['runner_up'] or '-'} "
         f"({wall:.1f} s of {e.budget_s:g} s budget)")
    return row


#: Verdict frequencies of the built-in configuration over master seeds, measured by
#: ``benchmarks/calibrate.py --verdicts`` (machine, date and command inside the file).
VERDICT_FREQUENCIES = Path(__file__).resolve().parent.parent / "verdict_frequencies.json"


def calibration_line(entry: Entry, mode: str, verdict: str, best: str) -> str:
    """How often this verdict came out for this entry over master seeds in calibration.

    Parameters
    ----------
    entry : Entry
        The configuration entry (a calibration applies only to the recorded configuration).
    mode : str
        Benchmark mode.
    verdict, best : str
        This run's verdict and best class.

    Returns
    -------
    str
        One sentence, or "" when no calibration of this entry is recorded.
    """
    try:
        data = json.loads(VERDICT_FREQUENCIES.read_text())
    except (OSError, ValueError):
        return ""
    rec = data.get(mode, {}).get("rows", {}).get(entry.name)
    if not rec or rec.get("config") != json.loads(json.dumps(entry.to_dict())):
        return ""  # no record, or one of another configuration
    counts, n = rec["counts"], rec["seeds"]
    key = f"{verdict} {best}".strip()
    k = counts.get(key, 0)
    others = ", ".join(f"{c} ({v})" for c, v in sorted(counts.items(), key=lambda x: -x[1])
                       if c != key)
    meta = data[mode]
    return (f"this verdict ({key}) came out in {k} of {n} master seeds in calibration"
            + (f"; the others: {others}" if others else "")
            + f" ({meta.get('machine', '?')}, {meta.get('date', '?')}).")


def _reference_values(classes, estimates, dim, size_kind) -> dict:
    """Catalog values of the measured quantities for some classes (for the report)."""
    out = {}
    for c in classes:
        try:
            ex = dict(class_exponents(c))
            if any(k in estimates for k in ("fss_a", "fss_b")):
                ex.update(fss_exponents(c, size_kind, dim))
        except Exception:  # noqa: BLE001 - the report shows '-' instead
            continue
        out[c] = {k: ex[name].to_dict() for k, name in _CATALOG_NAME.items()
                  if k in estimates and name in ex}
    return out


def _process_dim(runner, e):
    try:
        defaults = runner.cls.defaults()
        kw = {**defaults, **e.params}
        size = {runner.size_param: 4 if runner.size_param != "N" else 16}
        ctrl = {e.control: float(np.mean(e.window))}
        return int(runner.cls(**{**kw, **size, **ctrl}).dim)
    except Exception:
        return None

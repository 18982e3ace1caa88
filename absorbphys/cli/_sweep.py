"""``absorbphys sweep MODEL --grid p=0.64:0.65:11 --grid L=256,512 ... --out FILE.nc``."""

from __future__ import annotations

import numpy as np

from absorbphys._params import UsageError, first_line, unknown_parameter
from absorbphys._registry import get_model
from absorbphys._sweep import execute_plan, make_plan
from absorbphys.cli import parse_assignment
from absorbphys.cli._simulate import parse_init


def register(sub):
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser("sweep", help="run a model over a parameter grid (checkpointed, "
                                     "resumable, local processes or Dask)")
    p.add_argument("model", help="registered model name (see 'absorbphys models')")
    p.add_argument("--grid", "-g", action="append", default=[], metavar="NAME=SPEC",
                   help="swept parameter, repeatable, in dimension order: START:STOP:NUM "
                        "(NUM values from START to STOP inclusive) or V1,V2,...")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="fixed model parameter (repeatable)")
    p.add_argument("--t-max", required=True, help="time steps / layers / final time")
    p.add_argument("--samples", default="1", help="realisations per grid point (default 1)")
    p.add_argument("--batches", default=None, help="batches per point for error bars "
                                                   "(default min(samples, 100))")
    p.add_argument("--init", default="full", help="full, seed, or a number (networks: c0)")
    p.add_argument("--seed", default="0", help="master seed (default 0); each point's seed "
                                               "derives from it and the point's parameters")
    p.add_argument("--backend", default=None,
                   help="cpu, cuda or auto (default: $ABSORBPHYS_BACKEND, else cpu)")
    p.add_argument("--times", default=None, help="'log' (or a count) for log-spaced times")
    p.add_argument("--out", required=True, help="output netCDF file (checkpoints in "
                                                "OUT.parts/ while running)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep with the same arguments")
    p.add_argument("--keep-parts", action="store_true",
                   help="keep the per-point files (OUT.parts/) after the merge")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (needs absorbphys[dist])")
    p.add_argument("--workers", default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


_MAX_GRID = 10**6  # grid points of one sweep


def _number(text, name, spec):
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"--grid {spec}: {name!r} is not a number") from None
    if not np.isfinite(v):
        raise ValueError(f"--grid {spec}: {name} must be finite, got {text!r}")
    return v


def parse_grid_spec(text: str, cls) -> tuple[str, list]:
    """Parse one ``--grid`` value into ``(name, values)``.

    Parameters
    ----------
    text : str
        ``NAME=START:STOP:NUM`` (``NUM`` values from ``START`` to ``STOP`` inclusive, rounded
        to 12 significant digits so that ``0.640:0.650:11`` gives exactly 0.643; integers
        for integer parameters) or ``NAME=V1,V2,...``.
    cls : type
        The process class (for the parameter's kind).

    Returns
    -------
    tuple of (str, list)
        Name and values (numbers for ranges, strings for lists: the model validates them).

    Raises
    ------
    ValueError
        Malformed spec, unknown parameter, ``START > STOP``, ``NUM < 1``, empty values.
    """
    name, value = parse_assignment(text, what="--grid")
    if name not in cls.params:
        raise unknown_parameter(name, cls, "--grid: ")
    if not value:
        raise ValueError(f"--grid {text}: no values; give START:STOP:NUM or V1,V2,...")
    spec = cls.params[name]
    if ":" in value:
        parts = value.split(":")
        if len(parts) != 3:
            raise ValueError(f"--grid {text}: a range is START:STOP:NUM (three fields)")
        if spec.kind not in ("int", "float"):
            raise ValueError(f"--grid {text}: {name} is {spec.describe()}; "
                             "give a comma list V1,V2,...")
        start = _number(parts[0], "START", text)
        stop = _number(parts[1], "STOP", text)
        try:
            num = int(parts[2])
        except ValueError:
            raise ValueError(f"--grid {text}: NUM must be an integer >= 1, "
                             f"got {parts[2]!r}") from None
        if not 1 <= num <= _MAX_GRID:
            raise ValueError(f"--grid {text}: NUM must be an integer in [1, {_MAX_GRID}], "
                             f"got {num}")
        if start > stop:
            raise ValueError(f"--grid {text}: START must be <= STOP, got {start:g} > {stop:g}")
        if num > 1 and start == stop:
            raise ValueError(f"--grid {text}: START == STOP gives {num} equal values; "
                             "use NUM=1")
        raw = np.linspace(start, stop, num)
        if spec.kind == "int":
            if not (start.is_integer() and stop.is_integer()):
                raise ValueError(f"--grid {text}: {name} is an integer parameter; START and "
                                 "STOP must be integers")
            vals = [int(v) for v in np.rint(raw)]
            if len(set(vals)) != len(vals):
                raise ValueError(f"--grid {text}: {num} integer values do not fit between "
                                 f"{int(start)} and {int(stop)}; use a smaller NUM")
            return name, vals
        return name, [float(f"{v:.12g}") for v in raw]
    items = [s.strip() for s in value.split(",")]
    if any(not s for s in items):
        raise ValueError(f"--grid {text}: empty value in the list")
    return name, items


def build_grid(model: str, specs, assignments):
    """Return ``(cls, grid, params)`` from ``--grid`` and ``--param`` strings."""
    cls = get_model(model)
    if not specs:
        raise ValueError("sweep needs at least one --grid NAME=SPEC")
    grid = {}
    for text in specs:
        name, vals = parse_grid_spec(text, cls)
        if name in grid:
            raise ValueError(f"--grid: parameter {name!r} given twice")
        grid[name] = vals
    total = int(np.prod([len(v) for v in grid.values()], dtype=float))
    if total > _MAX_GRID:
        raise ValueError(f"--grid: {total} grid points; at most {_MAX_GRID} per sweep")
    params = {}
    for a in assignments:
        name, value = parse_assignment(a)
        if name not in cls.params:
            raise unknown_parameter(name, cls)
        if name in grid:
            raise ValueError(f"parameter {name!r} is given both as --grid and --param")
        if name in params:
            raise ValueError(f"--param: parameter {name!r} given twice")
        params[name] = value
    return cls, grid, params


def _connect(address):
    try:  # optional (the 'dist' extra), needed only for --scheduler
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: "
                         "pip install 'absorbphys[dist]'") from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        msg = first_line(exc)
        raise UsageError(f"--scheduler: cannot connect to {address!r}: {msg}") from None


class _PendingClient:
    """Stands in for the Dask client while the sweep is validated (before connecting)."""

    submit = None


def run(args) -> int:
    """Validate everything, run the sweep, write ``--out``, print a summary."""
    cls, grid, params = build_grid(args.model, args.grid, args.param)
    times = args.times
    if times is not None and times.strip().isdigit():
        times = int(times)
    # With --scheduler the backend is resolved on the workers; validate before connecting.
    marker = _PendingClient() if args.scheduler else None
    plan = make_plan(cls.name, grid, args.t_max, args.samples, parse_init(args.init), args.seed,
                 args.backend, args.out, marker, times, args.batches, params, args.resume,
                 False if args.quiet else None, args.workers, args.keep_parts)
    if args.scheduler:
        client = _connect(args.scheduler)
        try:
            ds = execute_plan(plan, client)
        finally:
            client.close()
    else:
        ds = execute_plan(plan, None)
    print(f"{ds.attrs['model']}: {len(plan.processes)} points over "
          + " x ".join(f"{n}[{len(v)}]" for n, v in zip(plan.names, plan.values))
          + f", samples={ds.attrs['samples']} t_max={ds.attrs['t_max']} "
            f"seed={ds.attrs['seed']}")
    print(f"wrote {args.out}")
    return 0

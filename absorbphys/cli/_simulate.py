"""``absorbphys simulate MODEL --param NAME=VALUE ...``."""

from __future__ import annotations

import json

import numpy as np

import absorbphys as ap
from absorbphys._io import prepare_output
from absorbphys._params import Param, unknown_parameter
from absorbphys._registry import get_model
from absorbphys.cli import parse_assignment


def register(sub):
    """Add the ``simulate`` subcommand."""
    p = sub.add_parser("simulate", help="run one model and write a netCDF file")
    p.add_argument("model", help="registered model name (see 'absorbphys models')")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="model parameter (repeatable)")
    p.add_argument("--t-max", required=True, help="time steps / layers / final time")
    p.add_argument("--samples", default="1", help="independent realisations (default 1)")
    p.add_argument("--batches", default=None, help="batches for error bars "
                                                   "(default min(samples, 100))")
    p.add_argument("--init", default="full", help="full, seed, or a number (networks: c0)")
    p.add_argument("--seed", default="0", help="master seed (default 0)")
    p.add_argument("--backend", default=None,
                   help="cpu, cuda or auto (default: $ABSORBPHYS_BACKEND, else cpu)")
    p.add_argument("--times", default=None,
                   help="'log' (about 20 log-spaced times per decade) or a count N of "
                        "log-spaced times (default: every step)")
    p.add_argument("--out", default=None, help="output netCDF file")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object (final rho and survival with "
                        "errors)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def make_process(model: str, assignments):
    """Build a process from ``NAME=VALUE`` strings, validating names and values."""
    cls = get_model(model)
    kwargs = {}
    for a in assignments:
        name, value = parse_assignment(a)
        if name not in cls.params:
            raise unknown_parameter(name, cls)
        if name in kwargs:
            raise ValueError(f"--param: parameter {name!r} given twice")
        kwargs[name] = value
    defaults = cls.defaults()
    missing = [k for k in cls.params if k not in defaults and k not in kwargs]
    if missing:
        raise ValueError(f"model {model!r} needs --param {missing[0]}=VALUE "
                         f"({cls.params[missing[0]].describe()})")
    return cls(**kwargs)


def parse_times(text):
    """Return ``--times``: None, ``"log"`` or an int count of log-spaced times."""
    if text is not None and text.strip().isdigit():
        return int(text)
    return text


def parse_init(text: str):
    """Return ``text`` as a float if it is a number, else unchanged."""
    try:
        return float(text)
    except ValueError:
        return text


def run(args) -> int:
    """Run the simulation, save it, print a summary."""
    proc = make_process(args.model, args.param)
    if args.out is not None:
        prepare_output(args.out)
    t_max = (Param("float", 0.0, low_open=True).check("--t-max", args.t_max)
             if proc.continuous_time else args.t_max)
    ds = ap.simulate(proc, t_max=t_max, samples=args.samples, init=parse_init(args.init),
                     seed=args.seed, backend=args.backend, times=parse_times(args.times),
                     batches=args.batches, progress=False if args.quiet else None)
    if args.out is not None:
        ap.save(ds, args.out)
    if args.json:

        print(json.dumps({**summary_values(ds), "file": args.out}))
        return 0
    print(summary(ds))
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


def summary_values(ds) -> dict:
    """Return the run's description and its final rho and survival, each with its error.

    Errors are standard errors over batches (``None`` with a single batch).
    """
    w = ds["n_samples"].values.astype(float) if "n_samples" in ds else None

    def mean_err(x):
        x = np.asarray(x, dtype=float)
        ww = np.ones_like(x) if w is None else w
        m = float(np.average(x, weights=ww))
        if len(x) < 2:
            return m, None
        return m, float(np.std(x, ddof=1) / np.sqrt(len(x)))

    r, re = mean_err(ds["rho"].isel(t=-1).values)
    s, se = mean_err(ds["survival"].isel(t=-1).values)
    return {"model": ds.attrs["model"], "params": json.loads(ds.attrs["params"]),
            "samples": int(ds.attrs["samples"]), "init": ds.attrs["init"],
            "seed": int(ds.attrs["seed"]), "backend": ds.attrs["backend"],
            "t": float(ds["t"].values[-1]), "rho": r, "rho_error": re,
            "survival": s, "survival_error": se}


def summary(ds) -> str:
    """Return a short summary: model, parameters, final rho and survival with errors."""
    v = summary_values(ds)

    def err(e, fmt):
        return "nan" if e is None else format(e, fmt)

    return (f"{ds.attrs['model']} {ds.attrs['params']}\n"
            f"samples={v['samples']} init={v['init']} seed={v['seed']} "
            f"backend={v['backend']}\n"
            f"t={v['t']:g}: rho = {v['rho']:.6g} +- {err(v['rho_error'], '.2g')}   "
            f"survival = {v['survival']:.4g} +- {err(v['survival_error'], '.2g')}")

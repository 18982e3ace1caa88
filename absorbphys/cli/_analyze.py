"""``absorbphys analyze FILE.nc [--json]``: measure what a run or sweep allows."""

from __future__ import annotations

import json

from absorbphys._io import load
from absorbphys._params import Param, check_int
from absorbphys.analysis import N_BOOT_MAX, analyze


def add_common(p):
    """Options shared by ``analyze`` and ``classify``."""
    p.add_argument("--json", action="store_true",
                   help="print one JSON object; estimates as {value, error}")
    p.add_argument("--n-boot", default="100", metavar="N",
                   help="bootstrap resamples of finite-size collapses, 2 to 100000 "
                        "(default 100)")
    p.add_argument("--seed", default="0", help="bootstrap seed, an integer >= 0 (default 0)")


def register(sub):
    """Add the ``analyze`` subcommand."""
    p = sub.add_parser("analyze", help="critical point, exponents and metric factors of a "
                                       "netCDF file written by simulate/sweep")
    p.add_argument("file", help="netCDF file (absorbphys schema)")
    add_common(p)
    p.add_argument("--t-min", default=None, metavar="T",
                   help="fit window: first time used by every estimator (default: each "
                        "estimator's own choice)")
    p.add_argument("--t-max", default=None, metavar="T",
                   help="fit window: last time used (default: the last time of the run)")
    p.set_defaults(func=run)


def options(args):
    """Return the validated ``(n_boot, seed)`` of the parsed arguments."""
    return (check_int("--n-boot", args.n_boot, low=2, high=N_BOOT_MAX),
            check_int("--seed", args.seed, low=0))


def window(args):
    """Return the validated ``(t_min, t_max)`` fit window (``None`` where not given)."""
    spec = Param("float", 0.0)
    t_min = None if args.t_min is None else spec.check("--t-min", args.t_min)
    t_max = None if args.t_max is None else spec.check("--t-max", args.t_max)
    if t_min is not None and t_max is not None and t_max <= t_min:
        raise ValueError(f"--t-max must be above --t-min ({t_min:g}), got {t_max:g}")
    return t_min, t_max


def run(args) -> int:
    """Analyse one file and print the estimates."""
    n_boot, seed = options(args)
    t_min, t_max = window(args)
    ds = load(args.file)
    r = analyze(ds, n_boot=n_boot, seed=seed, t_min=t_min, t_max=t_max)
    if args.json:
        print(json.dumps({"file": str(args.file), "kind": r["kind"], "dim": r["dim"],
                          "estimates": {k: v.to_dict() for k, v in r["estimates"].items()},
                          "notes": r["notes"]}))
        return 0
    print(f"{args.file}: {r['kind']}")
    for k, v in r["estimates"].items():
        print(f"  {k} = {v}")
    for n in r["notes"]:
        print(f"  note: {n}")
    return 0

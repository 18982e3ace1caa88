"""``absorbphys classify FILE.nc [FILE.nc ...] [--json]``: universality-class verdict."""

from __future__ import annotations

import json
import os

from absorbphys._io import load
from absorbphys._params import Param
from absorbphys.analysis import classify
from absorbphys.cli._analyze import add_common, options


def register(sub):
    """Add the ``classify`` subcommand."""
    p = sub.add_parser("classify", help="compare measured exponents with the universality-"
                                        "class catalog (several files may be combined)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="netCDF files: a decay sweep, seed runs, a size sweep, ...")
    p.add_argument("--alpha", default="0.01",
                   help="a class is rejected below this p-value (default 0.01)")
    add_common(p)
    p.set_defaults(func=run)


def _check_distinct(files):
    """Refuse a file given twice (its exponents would be counted twice)."""
    seen = []
    for f in files:
        for g in seen:
            same = os.path.realpath(f) == os.path.realpath(g)
            if not same and os.path.exists(f) and os.path.exists(g):
                try:
                    same = os.path.samefile(f, g)
                except OSError:
                    same = False
            if same:
                raise ValueError(f"FILE: {f!r} is given twice (as {g!r}); give each file once "
                                 "(it would be counted twice)")
        seen.append(f)


def run(args) -> int:
    """Classify and print the verdict."""
    n_boot, seed = options(args)

    alpha = Param("float", low=0.0, high=1.0, low_open=True, high_open=True).check(
        "--alpha", args.alpha)
    _check_distinct(args.files)
    data = [load(f) for f in args.files]
    v = classify(*data, alpha=alpha, n_boot=n_boot, seed=seed)
    if args.json:
        print(json.dumps({"files": [str(f) for f in args.files], **v.to_dict()}))
        return 0
    print(v)
    t = v.table
    print("  ranking:")
    for i, c in enumerate(t["class"].values):
        p = float(t["p_value"].values[i])
        print(f"    {i + 1}. {c:22s} chi2 = {float(t['chi2'].values[i]):9.3g}  "
              f"ndof = {int(t['ndof'].values[i])}  p = {p:.3g}")
    return 0

"""``absorbphys benchmark [--quick|--full] [--out DIR] [--json] [--only NAME ...]``."""

from __future__ import annotations

import json
import os

from absorbphys._benchmark.config import default_config, load_config
from absorbphys._benchmark.main import benchmark, select_entries


def register(sub):
    """Add the ``benchmark`` subcommand."""
    names = ", ".join(e.name for e in default_config("quick"))
    p = sub.add_parser(
        "benchmark",
        help="deep networks against reference DP models: critical points, exponents, "
             "classes, report",
        description="Locate the critical point of every process of the configuration, "
                    "measure its exponents (decay, spreading, finite-size scaling), compare "
                    "them with the universality catalog and write a report "
                    "(report.md, report.html, figures, netCDF data) into --out. "
                    f"Processes: {names}.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="about 10 minutes on 2 cores (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full",
                   help="publication-grade sizes (hours); resumable: rerun the same command "
                        "to continue after an interruption")
    p.set_defaults(mode="quick")
    p.add_argument("--out", default="benchmark-out", metavar="DIR",
                   help="output directory (default: benchmark-out)")
    p.add_argument("--json", action="store_true",
                   help="print the table as one JSON object on stdout")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help=f"run only these processes ({names})")
    p.add_argument("--seed", default="0", help="master seed (default 0)")
    p.add_argument("--config", default=None, metavar="FILE.json",
                   help="custom configuration: a JSON list of entries, each with the fields "
                        "of absorbphys.BenchmarkEntry (docs: guide/benchmark, "
                        "'Configuration files'), instead of the built-in one")
    p.add_argument("--print-config", action="store_true",
                   help="print the configuration (built-in for --quick/--full, or --config) "
                        "as JSON and exit, e.g. to edit it")
    p.add_argument("--backend", default=None,
                   help="cpu, cuda or auto (default: $ABSORBPHYS_BACKEND, else cpu)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run the benchmark and print the table (or JSON)."""
    if args.print_config:
        entries = load_config(args.config) if args.config else default_config(args.mode)
        entries = select_entries(entries, args.only)  # --only: just those entries
        print(json.dumps([e.to_dict() for e in entries], indent=1))
        return 0
    # Progress lines go to stderr (never into the table or the JSON on stdout): on by
    # default for this long-running command unless --quiet or ABSORBPHYS_PROGRESS says no.
    progress = False if args.quiet else (None if "ABSORBPHYS_PROGRESS" in os.environ
                                         else True)
    result = benchmark(mode=args.mode, out=args.out, processes=args.only, seed=args.seed,
                       progress=progress, backend=args.backend, config=args.config)
    if args.json:
        print(result.to_json())
    else:
        print(result.table())
    return 0

"""Command-line interface ``absorbphys``.

Each subcommand lives in ``absorbphys/cli/_<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed arguments, returns the exit
status). Bad input raises ``ValueError``/``TypeError`` (or :class:`absorbphys.UsageError`):
printed as one line, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings

# (not bound as `_simulate`: importing the subcommand module absorbphys.cli._simulate sets
# that name on this package and would shadow the core module)
from absorbphys import __version__
from absorbphys import _simulate as simulate_core
from absorbphys._io import AbsorbphysWarning, short
from absorbphys._params import UsageError, first_line

#: Subcommands in the order ``absorbphys --help`` lists them.
SUBCOMMANDS = ("benchmark", "simulate", "sweep", "analyze", "classify", "models", "train")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand."""
    parser = _Parser(prog="absorbphys",
                     description="Absorbing phase transitions: DP-family models, random deep "
                                 "networks as absorbing processes, scaling analysis.")
    parser.add_argument("--version", action="version", version=f"absorbphys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"absorbphys.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"absorbphys.cli._{name}":
                continue
            raise
        mod.register(sub)
    return parser


def parse_assignment(text: str, what="--param"):
    """Split ``NAME=VALUE`` (one-line error otherwise)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"{what} expects NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    text = str(message).splitlines()[0] if str(message) else ""
    if text.startswith("absorbphys: "):
        text = text[len("absorbphys: "):]
    kind = "" if issubclass(category, AbsorbphysWarning) else f"{category.__name__}: "
    print(f"absorbphys: {kind}{text}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    """Return the first line of an error message, long quoted inputs cut short."""
    msg = first_line(exc)
    return re.sub(r"'[^']{100,}'", lambda m: f"{m.group(0)[:60]}...' "
                  f"({len(m.group(0)) - 2} characters)", msg)


def _interrupted_hint(args) -> str:
    """Return what to do after Ctrl-C (commands with checkpoints say how to continue)."""
    if args.command == "sweep" and getattr(args, "out", None):
        return (f"; the finished points are kept in {args.out}.parts/: run the same command "
                "with --resume to continue")
    if args.command == "benchmark":
        return "; run the same command again to continue from its checkpoints"
    return ""


def main(argv=None) -> int:
    """Entry point of the ``absorbphys`` command.

    Bad input, files that cannot be written and interrupts end with one line on stderr and
    exit status 2 (130 for Ctrl-C); anything else is a bug, reported on one line with exit
    status 1 (``ABSORBPHYS_TRACEBACK=1`` shows the traceback).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2

    simulate_core.EXIT_ON_INTERRUPT = True  # Ctrl-C during a kernel: exit at once (status 130)
    where = f"absorbphys {args.command}: error:"
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            return int(args.func(args) or 0)
        except (UsageError, ValueError, TypeError) as exc:
            print(f"{where} {_one_line(exc)}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # e.g. piped into `head`: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except KeyboardInterrupt:
            print(f"absorbphys: interrupted{_interrupted_hint(args)}", file=sys.stderr)
            return 130
        except OSError as exc:  # after BrokenPipeError, a subclass; e.g. an unwritable folder

            name = f" {short(exc.filename)}" if getattr(exc, "filename", None) else ""
            print(f"{where} {exc.strerror or exc}{name}", file=sys.stderr)
            return 2
        except MemoryError:
            print(f"{where} out of memory; use smaller sizes or fewer samples per batch",
                  file=sys.stderr)
            return 2
        except RecursionError:
            print(f"{where} input nested too deeply", file=sys.stderr)
            return 2
        except Exception as exc:
            if os.environ.get("ABSORBPHYS_TRACEBACK", "").strip() not in ("", "0"):
                raise
            print(f"absorbphys {args.command}: internal error: {type(exc).__name__}: "
                  f"{_one_line(exc)} "
                  "(a bug: please report it with the command; ABSORBPHYS_TRACEBACK=1 shows "
                  "the traceback)", file=sys.stderr)
            return 1

"""Command-line interface ``absorbphys``.

Each subcommand lives in ``absorbphys/_cli_<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed arguments, returns the exit
status). Bad input raises ``ValueError``/``TypeError`` (or :class:`absorbphys.UsageError`):
printed as one line, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommands in the order ``absorbphys --help`` lists them.
SUBCOMMANDS = ("benchmark", "simulate", "sweep", "analyze", "classify", "models", "train")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand."""
    from absorbphys import __version__

    parser = _Parser(prog="absorbphys",
                     description="Absorbing phase transitions: DP-family models, random deep "
                                 "networks as absorbing processes, scaling analysis.")
    parser.add_argument("--version", action="version", version=f"absorbphys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"absorbphys._cli_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"absorbphys._cli_{name}":
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


def main(argv=None) -> int:
    """Entry point of the ``absorbphys`` command."""
    from absorbphys._params import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from absorbphys import _simulate

    _simulate.EXIT_ON_INTERRUPT = True  # Ctrl-C during a kernel: exit at once (status 130)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, TypeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"absorbphys {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("absorbphys: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # after BrokenPipeError, a subclass; e.g. an unwritable folder
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"absorbphys {args.command}: error: {exc.strerror or exc}{where}",
              file=sys.stderr)
        return 2
    except MemoryError:
        print(f"absorbphys {args.command}: error: out of memory; use smaller sizes or "
              "fewer samples per batch", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

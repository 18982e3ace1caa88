"""Parameter specifications: types, valid ranges and the one-line errors users see."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from typing import Any


class UsageError(ValueError):
    """Bad user input. The CLI prints the message on one line and exits with status 2."""


def short(text, limit: int = 120) -> str:
    """Return ``repr(text)`` on one line, cut to ``limit`` characters.

    The one way a bad value is echoed in a one-line message: long user input is not echoed
    whole, and multi-line representations (arrays, Datasets) are joined into one line.

    Parameters
    ----------
    text : object
        The value, usually user-supplied (a path is shown as its string).
    limit : int
        Longest representation shown.

    Returns
    -------
    str
    """
    if isinstance(text, os.PathLike):
        text = os.fspath(text)
    r = " ".join(repr(text).split())
    return r if len(r) <= limit else f"{r[:limit - 4]}... ({len(r)} characters)"


def number_text(x) -> str:
    """Return a bound or value for a message: ``1e+06``, ``0.5``, ``inf``, ``3``, ``'x'``.

    Parameters
    ----------
    x : float, int or str
        The number (strings are quoted with :func:`short`).

    Returns
    -------
    str
    """
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return short(x) if isinstance(x, str) else f"{x:g}" if isinstance(x, float) else str(x)


#: Largest value of an int64 (seeds, integer parameters): what kernels and NumPy accept.
INT_MAX = 2**63 - 1


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message (its type name when empty).

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unknown_parameter(name, cls, where: str = "") -> UsageError:
    """Return the one error for a parameter name that a model does not have.

    Parameters
    ----------
    name : str
        The unknown name.
    cls : type
        The process class (its ``name`` and ``params`` are listed).
    where : str
        Prefix naming the argument, e.g. ``"--grid: "``.

    Returns
    -------
    UsageError
    """
    return UsageError(f"{where}unknown parameter {short(name)} for model {cls.name!r}; valid: "
                      f"{', '.join(cls.params)}")


@dataclass(frozen=True)
class Param:
    """Specification of one model parameter.

    Parameters
    ----------
    kind : {"float", "int", "str", "bool", "callable"}
        Value type. ``"int"`` accepts integral floats (``256.0``) but not ``2.5``.
    low, high : float, optional
        Inclusive bounds (use ``low_open``/``high_open`` for open ones).
    choices : tuple, optional
        Allowed values (strings).
    doc : str
        One-line description shown by ``absorbphys models``.
    default : object, optional
        Default value (``None`` means the parameter is required).
    low_open, high_open : bool
        Whether the bound is excluded.
    or_zero : bool
        Also accept 0, the "not set" value of a field whose range excludes it (e.g. a
        benchmark entry's ``final_samples = 0``: as many as ``sweep_samples``).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    doc: str = ""
    default: Any = None
    low_open: bool = False
    high_open: bool = False
    or_zero: bool = False

    def describe(self) -> str:
        """Return the valid range as text, e.g. ``"[0, 1]"`` or ``"one of 'bond', 'site'"``."""
        text = self._range()
        return f"0 or {text}" if self.or_zero else text

    def _range(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(number_text(c) for c in self.choices)
        if self.kind in ("float", "int") and (self.low is not None or self.high is not None):
            lo = "-inf" if self.low is None else number_text(self.low)
            hi = "inf" if self.high is None else number_text(self.high)
            lb = "(" if self.low_open or self.low is None else "["
            rb = ")" if self.high_open or self.high is None else "]"
            what = "an integer in " if self.kind == "int" else "in "
            return f"{what}{lb}{lo}, {hi}{rb}"
        return {"float": "a real number", "int": "an integer", "str": "a string",
                "bool": "true or false", "callable": "a function"}.get(self.kind, self.kind)

    def check(self, name: str, value, *, text: bool = True):
        """Validate and coerce ``value``; raise a one-line ``ValueError``/``TypeError``.

        Parameters
        ----------
        name : str
            Parameter name, used in the message.
        value : object
            Value to check.
        text : bool
            Accept text for numbers and booleans (``"0.5"``, ``"true"``), as command-line
            values come. ``False`` where values have their own types (a JSON file, Python
            code): then a number must be a number and a boolean ``true``/``false``.

        Returns
        -------
        object
            The coerced value (``int``, ``float``, ``str``, ``bool`` or the callable).
        """
        rng = self.describe()
        if self.kind == "callable":
            if isinstance(value, str) or callable(value):
                if isinstance(value, str) and self.choices is not None \
                        and value not in self.choices:
                    raise ValueError(f"{name} must be {rng} or a Numba-compilable function, "
                                     f"got {short(value)}")
                return value
            raise TypeError(f"{name} must be {rng} or a function, got {short(value)}")
        if self.kind == "bool":
            if getattr(value, "dtype", None) == "bool" and getattr(value, "ndim", 1) == 0:
                value = bool(value)  # numpy's boolean scalar
            if not text and not isinstance(value, bool):
                raise TypeError(f"{name} must be true or false, got {short(value)}")
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0",
                                                            "no"):
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, (bool, numbers.Integral)) and int(value) in (0, 1):
                return bool(value)
            raise TypeError(f"{name} must be true or false, got {short(value)}")
        if self.kind == "str":
            if not isinstance(value, str):
                raise TypeError(f"{name} must be {rng}, got {short(value)}")
            if self.choices is not None and value not in self.choices:
                raise ValueError(f"{name} must be {rng}, got {short(value)}")
            return value
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)) \
                or (not text and isinstance(value, str)):
            raise TypeError(f"{name} must be {rng}, got {short(value)}")
        if isinstance(value, str):
            try:
                value = int(value) if self.kind == "int" and value.strip().lstrip("+-").isdigit() \
                    else float(value)
            except ValueError:
                raise TypeError(f"{name} must be {rng}, got {short(value)}") from None
        given = value  # echoed as the user wrote it (1e+18, not its integer digits)
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{name} must be {rng}, got nan")
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise TypeError(f"{name} must be {rng}, got {value:g}")
                value = int(value)
            if abs(value) > INT_MAX:  # kernels and numpy use int64
                raise ValueError(f"{name} must be {rng} and below 2**63, got {float(value):.3g}")
        else:
            value = float(value)
        if self.or_zero and value == 0:
            return value
        lo, hi = self.low, self.high
        bad = ((lo is not None and (value < lo or (self.low_open and value == lo)))
               or (hi is not None and (value > hi or (self.high_open and value == hi))))
        if bad:
            raise ValueError(f"{name} must be {rng}, got "
                             f"{number_text(value if isinstance(given, str) else given)}")
        if self.kind == "float" and math.isinf(value) and self.high is None:
            raise ValueError(f"{name} must be {rng} and finite, got {number_text(value)}")
        return value


def check_int(name, value, low=None, high=None):
    """Validate an integer argument (not a model parameter), e.g. ``t_max`` or ``samples``.

    Parameters
    ----------
    name : str
        Argument name for the message.
    value : object
        Value to check.
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int
    """
    return Param("int", low=low, high=high).check(name, value)

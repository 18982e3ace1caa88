"""Formatting shared by the report and its figures: numbers, class names, catalog values."""

from __future__ import annotations

import math
from functools import lru_cache

from absorbphys.analysis import (
    Estimate,
    catalog,
)

#: Sizes and their symbols in formulas and figures (networks: the width is a number N).
SIZE_SYMBOL = {"L": "L", "N": "N", "width": "N"}


# ============================================================================ formatting
def fmt(v) -> str:
    """Format an estimate (digits set by its error), a float, a string or ``None`` for a table."""
    if isinstance(v, Estimate):
        if v.error == 0:
            return f"{v.value:.6g}"
        if not math.isfinite(v.error) or v.error <= 0:
            return f"{v.value:.4g}"
        digits = max(0, 1 - int(math.floor(math.log10(v.error))))
        digits = min(digits, 8)
        return f"{v.value:.{digits}f} ± {v.error:.{digits}f}"
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.3g}"
    return str(v)


def fmt_catalog(v: Estimate) -> str:
    """Format a catalogue value: 4 digits when its error is negligible, else with it."""
    if v.error == 0 or v.error < 1e-3 * max(abs(v.value), 1.0):
        return f"{v.value:.4g}"
    return fmt(v)


@lru_cache(maxsize=None)
def _class_names() -> dict:
    cat = catalog()
    return {str(c): str(n) for c, n in zip(cat["class"].values, cat["name"].values)}


def class_title(cls: str) -> str:
    """Return a catalogue class id with its short name, e.g. ``dp_1d (directed percolation 1+1)``.

    Parameters
    ----------
    cls : str
        Class id of :func:`absorbphys.analysis.catalog`.

    Returns
    -------
    str
        The id followed by the catalogue name up to its first parenthesis; the id alone for
        an unknown class.
    """
    name = _class_names().get(cls, "")
    name = name.split(" (")[0].strip()
    return f"{cls} ({name})" if name else cls


def shown_class(row) -> tuple:
    """Return the class a row's score and catalogue values refer to, and whether it is resolved.

    Parameters
    ----------
    row : dict
        A row of :class:`~absorbphys._benchmark.BenchmarkResult`.

    Returns
    -------
    (str, bool)
        The best class and True; or, when no measurement resolves any class, the class
        ranked first (the one the score belongs to) and False; ``("", False)`` without a
        ranking.
    """
    if row.get("best"):
        return row["best"], True
    ranking = row.get("ranking") or []
    return (str(ranking[0][0]), False) if ranking else ("", False)


def catalog_value(row, key, cls=None):
    """Return the catalogue value of one measured quantity of a row, or None.

    Parameters
    ----------
    row : dict
        A benchmark row; its ``reference`` holds the catalogue values of the best class and
        the runner-up (:func:`absorbphys.analysis.class_exponents`,
        :func:`~absorbphys.analysis.fss_exponents` with the row's size kind).
    key : str
        Row key of the quantity (``delta``, ``fss_a``...).
    cls : str, optional
        Class id (default: :func:`shown_class`).

    Returns
    -------
    Estimate or None
    """
    cls = cls if cls is not None else shown_class(row)[0]
    if not cls:
        return None
    x = ((row.get("reference") or {}).get(cls) or {}).get(key)
    if not x:
        return None
    return Estimate(float(x["value"]), float(x["error"]))


def time_unit(ds) -> str:
    """Return the kind of time ("step", "MCS", "layer"): ``time_unit``, else ``units``."""
    if ds is None or "t" not in ds.coords:
        return ""
    a = ds["t"].attrs
    return a.get("time_unit") or (a.get("units", "") if a.get("units") != "1" else "")


def entry_of(result, name) -> dict:
    """Return the configuration of the row ``name`` recorded in the result (a dict)."""
    return next((e for e in result.config if e.get("name") == name), {})

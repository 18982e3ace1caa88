"""``Estimate``: a value with its standard error, and conversions from result Datasets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from absorbphys._params import short


@dataclass(frozen=True)
class Estimate:
    """A measured value with its standard error (one sigma).

    Parameters
    ----------
    value : float
        The estimate.
    error : float
        Its standard error (>= 0); ``0`` means exact.

    Examples
    --------
    >>> e = Estimate(0.1595, 0.0012)
    >>> e.to_dict()
    {'value': 0.1595, 'error': 0.0012}
    """

    value: float
    error: float

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "error", float(self.error))
        if not math.isfinite(self.value):
            raise ValueError(f"Estimate value must be finite, got {self.value}")
        if not (self.error >= 0) or math.isnan(self.error):
            raise ValueError(f"Estimate error must be >= 0, got {self.error}")

    def to_dict(self) -> dict:
        """Return ``{"value": ..., "error": ...}`` (JSON-able)."""
        return {"value": self.value, "error": self.error}

    def deviation(self, other: Estimate) -> float:
        """Difference to ``other`` in combined standard errors ``sqrt(e1^2 + e2^2)``."""
        other = as_estimate(other)
        comb = math.hypot(self.error, other.error)
        if comb == 0:
            return 0.0 if self.value == other.value else math.copysign(math.inf,
                                                                       self.value - other.value)
        return (self.value - other.value) / comb

    def __str__(self):
        if self.error == 0:
            return f"{self.value:.6g} (exact)"
        digits = max(0, 1 - int(math.floor(math.log10(self.error)))) if self.error > 0 else 4
        return f"{self.value:.{digits}f} ± {self.error:.{digits}f}"

    def __iter__(self):
        yield self.value
        yield self.error


def _number(v, name, what) -> float:
    """``v`` as a float: a real number or a 0-d numeric array (not a bool or a string)."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: the {what} must be a number, got {v!r}")
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if getattr(v, "ndim", None) == 0 and np.issubdtype(np.asarray(v).dtype, np.number) \
            and not np.issubdtype(np.asarray(v).dtype, np.complexfloating):
        return float(np.asarray(v))
    raise TypeError(f"{name}: the {what} must be a number, got {short(v, 60)}")


def as_estimate(x, name="estimate") -> Estimate:
    """Convert ``Estimate``, ``(value, error)``, ``{"value", "error"}`` or a number (exact).

    Parameters
    ----------
    x : Estimate, tuple, dict or float
        What to convert.
    name : str
        Used in the error message.

    Returns
    -------
    Estimate
    """
    if isinstance(x, Estimate):
        return x
    if isinstance(x, dict):
        if "value" not in x or "error" not in x:
            raise ValueError(f"{name} must have keys 'value' and 'error', got "
                             f"{sorted(map(str, x))}")
        value, error = x["value"], x["error"]
    elif isinstance(x, (tuple, list)) and len(x) == 2:
        value, error = x
    elif isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        value, error = x, 0.0
    else:
        raise TypeError(f"{name} must be an Estimate, a (value, error) pair or a number, "
                        f"got {short(x, 60)}")
    value, error = _number(value, name, "value"), _number(error, name, "error")
    if not math.isfinite(value):
        raise ValueError(f"{name}: the value must be finite, got {value}")
    if not (error >= 0) or math.isinf(error):
        raise ValueError(f"{name}: the error must be a finite number >= 0, got {error}")
    return Estimate(value, error)


def estimates(result: xr.Dataset) -> dict:
    """Collect the scalar estimates of a result Dataset as :class:`Estimate` objects.

    Every 0-d variable ``q`` that has a partner ``q_error`` becomes ``Estimate(q, q_error)``.

    Parameters
    ----------
    result : xarray.Dataset
        A result of the analysis functions (e.g. :func:`fit_power_law` on a single run).

    Returns
    -------
    dict of str to Estimate
    """
    if not isinstance(result, xr.Dataset):
        raise TypeError(f"result must be an xarray Dataset returned by an analysis function, "
                        f"got {type(result).__name__}")
    out = {}
    for name, var in result.data_vars.items():
        err = f"{name}_error"
        if name.endswith("_error") or err not in result or var.ndim != 0:
            continue
        v, e = float(var), float(result[err])
        if math.isfinite(v) and math.isfinite(e):
            out[name] = Estimate(v, e)
    return out


def pack(values: dict, errors: dict, dims=(), coords=None, attrs=None) -> xr.Dataset:
    """Build a result Dataset with ``q`` and ``q_error`` variables.

    Parameters
    ----------
    values, errors : dict of str to array_like
        Same keys; arrays of the shape given by ``dims``.
    dims : tuple of str
        Dimensions of every variable.
    coords : dict, optional
        Coordinates.
    attrs : dict, optional
        Attributes (netCDF-safe).

    Returns
    -------
    xarray.Dataset
    """
    data = {}
    for k, v in values.items():
        data[k] = (dims, np.asarray(v, dtype=np.float64))
        data[f"{k}_error"] = (dims, np.asarray(errors[k], dtype=np.float64))
    return xr.Dataset(data, coords=coords or {}, attrs=attrs or {})


def critical_value(critical, control="x") -> Estimate:
    """Normalise a critical value to an :class:`Estimate`.

    Accepts an Estimate, ``(value, error)``, a number (exact), or a Dataset from
    :func:`critical_point`.

    Parameters
    ----------
    critical : Estimate, tuple, float or xarray.Dataset
        The critical value.
    control : str
        Control name (used to read ``{control}_c`` from a Dataset).

    Returns
    -------
    Estimate
    """
    if isinstance(critical, xr.Dataset):
        key = f"{control}_c"
        if key not in critical:
            raise ValueError(f"critical: dataset has no variable {key!r}")
        if f"{key}_error" not in critical or critical[key].ndim != 0:
            raise ValueError(f"critical: dataset must hold a scalar {key!r} with "
                             f"{key + '_error'!r} (a critical_point result)")
        return as_estimate((float(critical[key]), float(critical[f"{key}_error"])),
                           "critical")
    return as_estimate(critical, "critical")

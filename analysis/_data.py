"""Validation and extraction: Dataset/DataArray in the absorbphys schema -> NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

#: Schema variables that cannot be negative (densities, probabilities, counts, squares).
NONNEGATIVE = ("rho", "rho2", "survival", "n_active", "r2")


def check_values(vals, name):
    """Raise a one-line error for infinite values, no finite value, or negative schema data."""
    fin = np.isfinite(vals)
    if np.any(np.isinf(vals)):
        raise ValueError(f"{name}: {int(np.isinf(vals).sum())} infinite value(s); the data must "
                         "be finite (NaN marks missing points)")
    if not np.any(fin):
        raise ValueError(f"{name}: no finite data (every value is NaN)")
    if name in NONNEGATIVE and np.any(vals[fin] < 0):
        raise ValueError(f"{name}: negative values (minimum {float(np.min(vals[fin])):g}); "
                         f"{name} must be >= 0")


def check_dims(dim, sample_dim):
    """``dim`` and ``sample_dim`` must be two different dimension names."""
    for what, d in (("dim", dim), ("sample_dim", sample_dim)):
        if not isinstance(d, str):
            raise TypeError(f"{what} must be a dimension name (str), got {d!r}")
    if dim == sample_dim:
        raise ValueError(f"dim and sample_dim must differ (time and batch dimensions), both "
                         f"are {dim!r}")


@dataclass
class Curves:
    """A variable as arrays: ``values`` has shape ``(batch, *extra, t)``."""

    name: str
    values: np.ndarray
    t: np.ndarray
    weights: np.ndarray
    extra_dims: tuple
    extra_coords: dict
    attrs: dict
    dim: str
    sample_dim: str


def get_var(obj, var: str) -> xr.DataArray:
    """Return ``obj[var]`` for a Dataset, ``obj`` for a DataArray (one-line errors)."""
    if isinstance(obj, xr.Dataset):
        if not isinstance(var, str):
            raise TypeError(f"var must be a variable name (str), got {var!r}")
        if var not in obj.data_vars:
            raise ValueError(f"var: dataset has no variable {var!r} "
                             f"(has: {', '.join(map(str, obj.data_vars)) or 'none'})")
        # a new DataArray (copied attrs, shared data) carrying the dataset's attributes: the
        # input, its variables and their attrs are never modified
        da = obj[var].copy(deep=False)
        da.attrs = {**obj.attrs, **da.attrs}
        return da
    if isinstance(obj, xr.DataArray):
        return obj
    raise TypeError(f"expected an xarray Dataset or DataArray, got {type(obj).__name__}")


def curves(obj, var="rho", dim="t", sample_dim="batch", min_batches=2) -> Curves:
    """Validate ``obj[var]`` and return it as arrays with the batch axis first.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data in the absorbphys schema.
    var : str
        Variable name (Datasets only).
    dim : str
        Time dimension.
    sample_dim : str
        Batch dimension used for error bars.
    min_batches : int
        Minimum number of batches.

    Returns
    -------
    Curves
    """
    check_dims(dim, sample_dim)
    da = get_var(obj, var)
    name = da.name if da.name is not None else var
    if dim not in da.dims:
        raise ValueError(f"dim: {name!r} has no dimension {dim!r} (dims: {da.dims})")
    if sample_dim not in da.dims:
        raise ValueError(f"sample_dim: {name!r} has no dimension {sample_dim!r} for error "
                         f"bars (dims: {da.dims}); simulate with batches >= 2")
    nb = da.sizes[sample_dim]
    if nb < min_batches:
        raise ValueError(f"sample_dim: need at least {min_batches} batches along "
                         f"{sample_dim!r} for error bars, got {nb}")
    if dim not in da.coords:
        raise ValueError(f"dim: {name!r} has no coordinate {dim!r}")
    t = np.asarray(da[dim].values)
    if not np.issubdtype(t.dtype, np.number):
        raise ValueError(f"dim: coordinate {dim!r} must be numeric, got dtype {t.dtype}")
    t = t.astype(np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"dim: coordinate {dim!r} has non-finite values")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError(f"dim: coordinate {dim!r} must be strictly increasing "
                         "(mismatched or unsorted coordinates; use .sortby)")
    if "n_samples" in da.coords and da["n_samples"].dims == (sample_dim,):
        w = np.asarray(da["n_samples"].values, dtype=np.float64)
        if np.any(~np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("n_samples: every batch needs a positive sample count")
    else:
        w = np.ones(nb)
    extra = tuple(d for d in da.dims if d not in (dim, sample_dim))
    da = da.transpose(sample_dim, *extra, dim)
    try:
        vals = np.asarray(da.values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: values must be numeric, got dtype {da.dtype}") from None
    check_values(vals, str(name))
    coords = {d: da[d].values for d in extra if d in da.coords}
    for d in extra:
        coords.setdefault(d, np.arange(da.sizes[d]))
    return Curves(str(name), vals, t, w, extra, coords, dict(da.attrs), dim, sample_dim)


def window_mask(t, t_min=None, t_max=None, min_points=2, what="fit window"):
    """Mask of positive times in ``[t_min, t_max]``; at least ``min_points`` of them.

    Defaults: ``t_max`` the last time, ``t_min = sqrt(t_first * t_max)`` (the upper half of
    the logarithmic range of positive times).

    Parameters
    ----------
    t : numpy.ndarray
        Times.
    t_min, t_max : float, optional
        Window bounds.
    min_points : int
        Points required.
    what : str
        Used in the error message.

    Returns
    -------
    mask : numpy.ndarray
    t_min, t_max : float
    """
    pos = t > 0
    if pos.sum() < min_points:
        raise ValueError(f"{what}: need at least {min_points} positive times, "
                         f"got {int(pos.sum())}")
    tp = t[pos]
    hi = float(tp[-1]) if t_max is None else float(t_max)
    lo = float(np.sqrt(tp[0] * hi)) if t_min is None else float(t_min)
    if not (lo < hi):
        raise ValueError(f"t_min must be < t_max, got t_min={lo:g}, t_max={hi:g}")
    m = pos & (t >= lo * (1 - 1e-12)) & (t <= hi * (1 + 1e-12))
    if m.sum() < min_points:
        raise ValueError(f"{what}: need at least {min_points} times in [{lo:g}, {hi:g}], "
                         f"got {int(m.sum())}; widen t_min/t_max or record more times")
    return m, lo, hi


def safe_log(x, name="rho"):
    """``ln x`` with NaN where ``x <= 0``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def require_positive(full, name, where="in the fit window"):
    """Raise if the full-sample mean has no positive finite value (everything absorbed)."""
    if not np.any(np.isfinite(full) & (full > 0)):
        if np.all(~np.isfinite(full)):
            raise ValueError(f"{name}: no finite value {where}")
        if np.any(full < 0):
            raise ValueError(f"{name}: negative values {where}; the data must be >= 0")
        raise ValueError(f"{name}: zero at every time {where} "
                         "(every sample absorbed); nothing to fit")


def as_control_dim(obj, control=None):
    """Return the control dimension name: ``control`` or the ``control`` attribute."""
    if control is None:
        control = obj.attrs.get("control")
        if control is None and isinstance(obj, xr.DataArray):
            control = None
    if control is None:
        raise ValueError("control: give the swept control dimension (e.g. control='p'); "
                         "the data have no 'control' attribute")
    if not isinstance(control, str):
        raise ValueError(f"control: must be the name of the swept dimension, got {control!r}")
    if control not in obj.dims:
        raise ValueError(f"control: {control!r} is not a dimension of the data "
                         f"(dims: {tuple(obj.dims)}); sweep over it first")
    return control


def check_control_values(x, control):
    """Raise a one-line error unless the control coordinate ``x`` is finite (NaN-free)."""
    fin = np.isfinite(x)
    if not np.any(fin):
        raise ValueError(f"control: coordinate {control!r} has no finite values (all NaN or "
                         "inf); give the swept parameter values")
    if not np.all(fin):
        raise ValueError(f"control: coordinate {control!r} has {int((~fin).sum())} non-finite "
                         "value(s); drop those points (ds.where / ds.sel) or give the values")


@dataclass
class Curve:
    """One curve of a collapse or width analysis.

    Its label (size or control value), times, batch values and batch weights.
    """

    label: float
    t: np.ndarray          # times in the window, (n,)
    values: np.ndarray     # batch values, (nb, n)
    weights: np.ndarray    # (nb,)


def split_curves(obj, var, curve_dim, dim, sample_dim):
    """Return the :class:`Curve` list of ``obj`` along ``curve_dim`` (or ``obj`` as one)."""
    check_dims(dim, sample_dim)
    da = get_var(obj, var)
    for d in (dim, sample_dim):
        if d not in da.dims:
            raise ValueError(f"{var}: missing dimension {d!r} (dims: {da.dims})")
    if curve_dim in da.dims:
        items = [da.isel({curve_dim: i}) for i in range(da.sizes[curve_dim])]
    else:
        items = [da]
    out = []
    for it in items:
        if curve_dim not in it.coords or it[curve_dim].ndim != 0:
            raise ValueError(f"{curve_dim}: every curve needs a scalar coordinate "
                             f"{curve_dim!r} (its size or control value)")
        # a length-1 dimension (e.g. the control value of a one-point sweep, as the
        # benchmark's size runs are saved) is just that value: keep it as a scalar coordinate
        it = it.isel({d: 0 for d in it.dims if d not in (dim, sample_dim) and it.sizes[d] == 1})
        other = [d for d in it.dims if d not in (dim, sample_dim)]
        if other:
            raise ValueError(f"{var}: unexpected dimension(s) {other}; select one value first")
        it = it.transpose(sample_dim, dim)
        t = np.asarray(it[dim].values, dtype=np.float64)
        if t.size > 1 and np.any(np.diff(t) <= 0):
            raise ValueError(f"dim: coordinate {dim!r} must be strictly increasing")
        v = np.asarray(it.values, dtype=np.float64)
        lab = it[curve_dim].values
        if np.any(np.isfinite(v)):  # an all-NaN curve is reported by _gather if all are
            try:
                check_values(v, str(var))
            except ValueError as exc:
                raise ValueError(f"{exc} (curve {curve_dim}={lab})") from None
        elif np.any(np.isinf(v)):
            check_values(v, str(var))
        keep = np.any(np.isfinite(v), axis=0)  # drop NaN padding of ragged grids
        if "n_samples" in it.coords and it["n_samples"].dims == (sample_dim,):
            w = np.asarray(it["n_samples"].values, dtype=np.float64)
        else:
            w = np.ones(v.shape[0])
        if v.shape[0] < 2:
            raise ValueError(f"sample_dim: need at least 2 batches per curve for bootstrap "
                             f"errors, got {v.shape[0]}")
        if not np.issubdtype(np.asarray(lab).dtype, np.number):
            raise ValueError(f"{curve_dim}: coordinate must be numeric, got {lab!r}")
        out.append(Curve(float(lab), t[keep], v[:, keep], w))
    return out

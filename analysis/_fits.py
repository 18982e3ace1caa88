"""Shared pieces of the estimators on time series.

Used by :mod:`._decay`, :mod:`._critical` and :mod:`._off_critical`: replicate (full +
jackknife) means of a curve, the result Dataset, straight-line fits in ``ln t`` with the drift
across the window, the power law with a correction to scaling, and the extraction of a sweep
over one control parameter.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import _core
from ._data import (
    as_control_dim,
    check_control_values,
    curves,
)


def replicates(c, mask=None, weights=None):
    """Replicate means (full + jackknife) of ``c.values`` restricted to the times ``mask``."""
    v = c.values if mask is None else c.values[..., mask]
    w = c.weights.reshape((-1,) + (1,) * (v.ndim - 1)) if weights is None else weights
    return _core.replicate_means(v, w)


def result_coords(c, with_t=None):
    coords = {d: (d, np.asarray(c.extra_coords[d])) for d in c.extra_dims}
    if with_t is not None:
        coords[c.dim] = (c.dim, with_t)
    return coords


def result_dataset(values, errors, c, attrs, with_t=None):
    dims = c.extra_dims + ((c.dim,) if with_t is not None else ())
    data = {}
    for k in values:
        data[k] = (dims, np.asarray(values[k], dtype=np.float64))
        data[f"{k}_error"] = (dims, np.asarray(errors[k], dtype=np.float64))
    return xr.Dataset(data, coords=result_coords(c, with_t), attrs=attrs)


def no_spread(val, err):
    """Where a fitted quantity has no spread over the jackknife replicates.

    That happens only when every batch gives the same fit (identical data, or data constant in
    time such as a survival of 1 throughout): there is no error bar, and the value is not a
    measurement (e.g. a slope of exactly 0 from a curve where nothing happens).
    """
    val, err = np.asarray(val, dtype=np.float64), np.asarray(err, dtype=np.float64)
    return np.isfinite(val) & np.isfinite(err) & (err <= 1e-10 * np.maximum(np.abs(val), 1.0))


def drop_unmeasured(values, errors, key, what, notes, flat=None):
    """Set every quantity to NaN where ``values[key]`` has no spread; note it in ``notes``.

    ``flat`` overrides the mask (e.g. when ``key`` is a function of the fitted slope).
    """
    if flat is None:
        flat = no_spread(values[key], errors[key])
    if flat.any():
        for k in values:
            values[k] = np.where(flat, np.nan, values[k])
            errors[k] = np.where(flat, np.nan, errors[k])
        where = "" if flat.ndim == 0 else f" at {int(flat.sum())} of {flat.size} points"
        notes.append(f"{key} not measured{where}: {what} is the same in every batch (no "
                     "spread, e.g. constant in time), so the fit has no error bar")
    return flat


def fit_lines(lnt, lny):
    """Decade-weighted straight-line fits; returns (slope, intercept at ln t = 0)."""
    mu = lnt.mean()
    coef = _core.polyfit_rows(lnt - mu, lny, _core.log_weights(lnt), 1)
    return coef[..., 1], coef[..., 0] - coef[..., 1] * mu


def window_drift(lnt, lny, transform=None):
    """Systematic error of a log-log slope from its drift across the fit window.

    The slope is refitted on the two halves of the (logarithmic) window; their difference
    ``d`` is the drift of the effective exponent over the window (corrections to scaling, an
    off-critical bend). For a correction ``t^-omega`` the full window's remaining bias is
    ``d / (R^(omega/4) - R^(-omega/4))`` (``R`` = t_max / t_min), about ``d`` for
    ``omega = 1/2`` over 1.5 decades and less for faster corrections, so ``d`` itself is the
    systematic. Its own statistical noise (jackknife error of the difference) is subtracted
    in quadrature, so that pure noise adds nothing: ``sqrt(max(0, d^2 - sigma_d^2))``.

    Parameters
    ----------
    lnt : numpy.ndarray
        ``ln t`` in the window, shape ``(n,)``.
    lny : numpy.ndarray
        Replicate rows of ``ln y`` (full estimate first), shape ``(R + 1, ..., n)``.
    transform : callable, optional
        Maps a slope array to the reported quantity (e.g. ``2 / s`` for ``z``).

    Returns
    -------
    numpy.ndarray
        The systematic error, shape ``(...)`` (0 where a half has fewer than 3 points).
    """
    mid = 0.5 * (lnt[0] + lnt[-1])
    lo, hi = lnt <= mid, lnt >= mid
    if lo.sum() < 3 or hi.sum() < 3:
        return np.zeros(lny.shape[1:-1])
    f = transform or (lambda x: x)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = f(fit_lines(lnt[hi], lny[..., hi])[0]) - f(fit_lines(lnt[lo], lny[..., lo])[0])
    shift, noise = np.abs(d[0]), _core.jackknife_error(d)
    out = np.sqrt(np.maximum(0.0, shift ** 2 - noise ** 2))
    return np.where(np.isfinite(out), out, 0.0)


def corrected_fit(lnt, lny, p0, omega):
    """Fit ``ln y = lnA - delta ln t + ln(1 + a t^-omega)`` (omega free if None)."""
    from scipy.optimize import least_squares  # deferred: scipy.optimize is slow to import

    ok = np.isfinite(lny)
    npar = 3 if omega is not None else 4
    if ok.sum() < npar + 1:
        return np.full(4, np.nan)
    x, y = lnt[ok], lny[ok]
    sw = np.sqrt(_core.log_weights(x))

    def model(q):
        om = omega if omega is not None else q[3]
        corr = np.maximum(1.0 + q[2] * np.exp(-om * x), 1e-12)
        return q[0] - q[1] * x + np.log(corr)

    def resid(q):
        return sw * (model(q) - y)

    if omega is None:
        lo, hi = [-np.inf, -np.inf, -50.0, 0.05], [np.inf, np.inf, 50.0, 5.0]
    else:
        lo, hi = [-np.inf, -np.inf, -50.0], [np.inf, np.inf, 50.0]
    q0 = np.clip(np.asarray(p0[:npar], dtype=float), np.array(lo) + 1e-9,
                 np.array(hi) - 1e-9)
    try:
        res = least_squares(resid, q0, bounds=(lo, hi), method="trf", x_scale="jac")
    except ValueError:
        return np.full(4, np.nan)
    q = res.x
    return np.array([q[0], q[1], q[2], omega if omega is not None else q[3]])


def control_curves(obj, var, control, dim, sample_dim):
    if not isinstance(obj, (xr.Dataset, xr.DataArray)):
        raise TypeError(f"expected an xarray Dataset or DataArray, got {type(obj).__name__}")
    control = as_control_dim(obj, control)
    if control in (dim, sample_dim):
        what = "time" if control == dim else "batch"
        raise ValueError(f"control: {control!r} is the {what} dimension, not a swept "
                         "parameter; give the swept dimension (e.g. control='p')")
    obj = obj.sortby(control)
    c = curves(obj, var, dim, sample_dim)
    if c.extra_dims != (control,):
        other = [d for d in c.extra_dims if d != control]
        raise ValueError(f"control: the data must be swept over {control!r} only; select one "
                         f"value of {other} first (e.g. ds.sel({other[0]}=...))")
    try:
        x = np.asarray(c.extra_coords[control], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"control: coordinate {control!r} must be numeric") from None
    check_control_values(x, control)
    if x.size < 2:
        raise ValueError(f"control: need at least 2 values of {control!r}, got {x.size}")
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"control: values of {control!r} must be distinct")
    return c, control, x

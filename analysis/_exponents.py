"""Exponents from time series (xarray layer on the NumPy core).

Effective exponents, power-law fits, critical point, off-critical exponents, spreading,
metric factors.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from . import _core
from ._data import (
    as_control_dim,
    check_control_values,
    curves,
    require_positive,
    safe_log,
    split_curves,
    window_mask,
)
from ._estimate import as_estimate, critical_value


def _reps(c, mask=None, weights=None):
    """Replicate means (full + jackknife) of ``c.values`` restricted to the times ``mask``."""
    v = c.values if mask is None else c.values[..., mask]
    w = c.weights.reshape((-1,) + (1,) * (v.ndim - 1)) if weights is None else weights
    return _core.replicate_means(v, w)


def _coords(c, with_t=None):
    coords = {d: (d, np.asarray(c.extra_coords[d])) for d in c.extra_dims}
    if with_t is not None:
        coords[c.dim] = (c.dim, with_t)
    return coords


def _result(values, errors, c, attrs, with_t=None):
    dims = c.extra_dims + ((c.dim,) if with_t is not None else ())
    data = {}
    for k in values:
        data[k] = (dims, np.asarray(values[k], dtype=np.float64))
        data[f"{k}_error"] = (dims, np.asarray(errors[k], dtype=np.float64))
    return xr.Dataset(data, coords=_coords(c, with_t), attrs=attrs)


def _no_spread(val, err):
    """Where a fitted quantity has no spread over the jackknife replicates.

    That happens only when every batch gives the same fit (identical data, or data constant in
    time such as a survival of 1 throughout): there is no error bar, and the value is not a
    measurement (e.g. a slope of exactly 0 from a curve where nothing happens).
    """
    val, err = np.asarray(val, dtype=np.float64), np.asarray(err, dtype=np.float64)
    return np.isfinite(val) & np.isfinite(err) & (err <= 1e-10 * np.maximum(np.abs(val), 1.0))


def _drop_unmeasured(values, errors, key, what, notes, flat=None):
    """Set every quantity to NaN where ``values[key]`` has no spread; note it in ``notes``.

    ``flat`` overrides the mask (e.g. when ``key`` is a function of the fitted slope).
    """
    if flat is None:
        flat = _no_spread(values[key], errors[key])
    if flat.any():
        for k in values:
            values[k] = np.where(flat, np.nan, values[k])
            errors[k] = np.where(flat, np.nan, errors[k])
        where = "" if flat.ndim == 0 else f" at {int(flat.sum())} of {flat.size} points"
        notes.append(f"{key} not measured{where}: {what} is the same in every batch (no "
                     "spread, e.g. constant in time), so the fit has no error bar")
    return flat


def _check_b(b):
    try:
        b = float(b)
    except (TypeError, ValueError):
        raise TypeError(f"b must be a number > 1, got {b!r}") from None
    if not (b > 1) or math.isinf(b):
        raise ValueError(f"b must be a finite number > 1, got {b}")
    return b


def local_slope(obj, var="rho", b=4.0, dim="t", sample_dim="batch"):
    r"""Local slope ``d ln y / d ln t`` between ``t / b`` and ``t`` with jackknife errors.

    .. math:: s(t) = \frac{\ln y(t) - \ln y(t/b)}{\ln b}

    ``y(t / b)`` is interpolated in ``ln t``, so any increasing time grid works.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data with dims ``dim`` and ``sample_dim`` (plus any swept dims).
    var : str
        Variable (Datasets only).
    b : float
        Time factor (> 1).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``slope`` and ``slope_error`` over the swept dims and the times ``t >= b t_1``;
        NaN where the batch mean is 0 (every sample absorbed).

    Raises
    ------
    ValueError
        Fewer than 2 batches or positive times, all values zero/NaN, unsorted times.
    """
    b = _check_b(b)
    c = curves(obj, var, dim, sample_dim)
    pos = c.t > 0
    if pos.sum() < 2:
        raise ValueError(f"{c.name}: need at least 2 positive times for a local slope, "
                         f"got {int(pos.sum())}")
    reps = _reps(c, pos)
    require_positive(reps[0], c.name, "at t > 0")
    lnt = np.log(c.t[pos])
    keep, s = _core.local_slope(lnt, safe_log(reps), b)
    if not keep.any():
        raise ValueError(f"b={b:g} is larger than the time range t_last/t_first="
                         f"{c.t[pos][-1] / c.t[pos][0]:g}")
    val, err = s[0], _core.jackknife_error(s)
    if not np.any(np.isfinite(val)):
        raise ValueError(f"{c.name}: no finite local slope (zero or NaN at every time)")
    return _result({"slope": val}, {"slope": err}, c,
                   {"var": c.name, "b": b, "long_name": f"d ln {c.name} / d ln t"},
                   with_t=c.t[pos][keep])


def effective_exponent(obj, var="rho", b=4.0, dim="t", sample_dim="batch"):
    r"""Effective decay exponent ``delta_eff(t) = -d ln rho / d ln t`` with jackknife errors.

    .. math:: \delta_\mathrm{eff}(t) = -\frac{\ln[\rho(t)/\rho(t/b)]}{\ln b}

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data with dims ``dim`` and ``sample_dim``.
    var : str
        Variable.
    b : float
        Time factor (> 1).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``delta_eff`` and ``delta_eff_error`` (see :func:`local_slope`).
    """
    r = local_slope(obj, var, b, dim, sample_dim)
    out = xr.Dataset({"delta_eff": -r["slope"], "delta_eff_error": r["slope_error"]},
                     attrs={**r.attrs, "long_name": f"-d ln {r.attrs['var']} / d ln t"})
    return out


def _fit_lines(lnt, lny):
    """Decade-weighted straight-line fits; returns (slope, intercept at ln t = 0)."""
    mu = lnt.mean()
    coef = _core.polyfit_rows(lnt - mu, lny, _core.log_weights(lnt), 1)
    return coef[..., 1], coef[..., 0] - coef[..., 1] * mu


def _window_drift(lnt, lny, transform=None):
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
        d = f(_fit_lines(lnt[hi], lny[..., hi])[0]) - f(_fit_lines(lnt[lo], lny[..., lo])[0])
    shift, noise = np.abs(d[0]), _core.jackknife_error(d)
    out = np.sqrt(np.maximum(0.0, shift ** 2 - noise ** 2))
    return np.where(np.isfinite(out), out, 0.0)


def _corrected_fit(lnt, lny, p0, omega):
    """Fit ``ln y = lnA - delta ln t + ln(1 + a t^-omega)`` (omega free if None)."""
    from scipy.optimize import least_squares

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


def fit_power_law(obj, var="rho", t_min=None, t_max=None, correction=False, omega=None,
                  dim="t", sample_dim="batch"):
    r"""Fit ``y = A t^-delta`` (optionally ``(1 + a t^-omega)``) over a time window.

    .. math:: y(t) = A\, t^{-\delta} \left(1 + a\, t^{-\omega}\right)

    The fit is least squares on ``ln y`` against ``ln t`` with every decade weighted equally
    (independent of the time grid); errors are jackknife errors over batches. Without the
    correction term the error also holds the drift of the exponent across the window (the
    difference between the fits on the two halves of the logarithmic window, less its own
    noise), reported alone as ``delta_window_syst``: one run at a critical point then
    carries its corrections to scaling in its error bar.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data with dims ``dim`` and ``sample_dim`` (plus any swept dims).
    var : str
        Variable.
    t_min, t_max : float, optional
        Window (default: the upper half of the logarithmic range of positive times).
    correction : bool
        Include the correction to scaling ``(1 + a t^-omega)``.
    omega : float, optional
        Fixed correction exponent (``None``: fitted, in [0.05, 5]). Implies ``correction``.
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``delta``, ``amplitude`` (and ``a``, ``omega`` with the correction) with ``*_error``
        over the swept dims, and ``delta_window_syst`` (the window part of ``delta_error``,
        without the correction term). A growing quantity gives a negative ``delta``. Where every
        batch gives the same fit (no spread, e.g. constant data) nothing is measured: NaN,
        explained in the ``not_measured`` attribute (an error if that holds everywhere).
    """
    c = curves(obj, var, dim, sample_dim)
    npar = 2 if not (correction or omega is not None) else (3 if omega is not None else 4)
    m, lo, hi = window_mask(c.t, t_min, t_max, min_points=npar + 1)
    reps = _reps(c, m)
    require_positive(reps[0], c.name)
    lnt, lny = np.log(c.t[m]), safe_log(reps)
    slope, lnA = _fit_lines(lnt, lny)
    vals = {"delta": -slope, "amplitude": np.exp(lnA)}
    attrs = {"var": c.name, "t_min": lo, "t_max": hi, "correction": int(npar > 2)}
    if npar > 2:
        om = None if omega is None else float(omega)
        if om is not None and not (om > 0):
            raise ValueError(f"omega must be > 0, got {om}")
        flat = lny.reshape(-1, lny.shape[-1])
        p0 = np.stack([lnA.ravel(), -slope.ravel(), np.zeros(flat.shape[0]),
                       np.full(flat.shape[0], 1.0 if om is None else om)], axis=1)
        q = np.array([_corrected_fit(lnt, flat[i], p0[i], om) for i in range(flat.shape[0])])
        q = q.reshape(lny.shape[:-1] + (4,))
        vals = {"delta": q[..., 1], "amplitude": np.exp(q[..., 0]), "a": q[..., 2]}
        if om is None:
            vals["omega"] = q[..., 3]
        else:
            attrs["omega"] = om
    values = {k: v[0] for k, v in vals.items()}
    errors = {k: _core.jackknife_error(v) for k, v in vals.items()}
    syst = None
    if npar == 2:
        syst = _window_drift(lnt, lny)
        errors["delta"] = np.hypot(errors["delta"], syst)
    notes = []
    flat = _drop_unmeasured(values, errors, "delta", f"the slope of ln {c.name}", notes)
    if not np.any(np.isfinite(values["delta"])):
        if np.all(flat):
            raise ValueError(f"{c.name}: every batch gives the same fit in t = [{lo:g}, "
                             f"{hi:g}] (no spread, e.g. constant data): delta has no error bar "
                             "and is not measured")
        raise ValueError(f"{c.name}: the power-law fit failed (too few positive values "
                         f"in [{lo:g}, {hi:g}])")
    if notes:
        attrs["not_measured"] = "; ".join(notes)
    out = _result(values, errors, c, attrs)
    if syst is not None:
        out["delta_window_syst"] = (c.extra_dims, np.where(np.isfinite(values["delta"]), syst,
                                                           np.nan))
    return out


def _control_curves(obj, var, control, dim, sample_dim):
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


def critical_point(obj, control=None, var="rho", t_min=None, t_max=None, n_fit=2,
                   dim="t", sample_dim="batch"):
    """Critical value of a control-parameter sweep: where ``ln rho`` is straight in ``ln t``.

    At each control value a quadratic in ``ln t`` is fitted to ``ln rho`` over the late-time
    window; its curvature ``d^2 ln rho / d (ln t)^2`` is negative in the absorbing phase and
    positive in the active phase (and decays back towards 0 deep in the active phase, where rho
    saturates early: the curvature is not monotonic, so only values near the sign change are
    used). Linear interpolation between the two control values that bracket the sign change
    (``n_fit=2``), a weighted straight line through the 3 nearest values (``n_fit=3``) or a
    weighted quadratic through the ``n_fit >= 4`` nearest values (the curvature is steep on the
    absorbing side and flattens on the active side: a straight line through 4 or more values
    places the zero on the active side, by about one error bar for 1+1 DP with 4 values) gives
    the zero, the critical value (attribute ``zero_fit``); the decay exponent ``delta``
    (straight-line fit in the same window) is interpolated there in the same way. Every step is repeated on the
    leave-one-batch-out means (jackknife errors). With ``n_fit=2`` the curvature is far from
    linear inside the bracket and the secant's zero is a ratio of noisy values, so the grid
    resolution (step / sqrt(12)) is added in quadrature (attribute ``resolution_error``, carried
    over to ``delta`` through its slope in the control; on 40 seeds of a 1+1 DP sweep it matches
    the estimate's measured spread). The whole estimate is repeated on the later half of the
    window (in ``ln t``) between the same control values with the same batches; the part of each
    shift (critical value, ``delta``) beyond its own noise, ``sqrt(max(0, shift^2 - err^2))``
    with ``err`` the jackknife error of the paired difference, is added in quadrature as a
    systematic error from corrections to scaling (attribute ``window_error``). With several sign
    changes (noise, or the curvature's return to ~0 deep in the active phase) only changes from
    negative (absorbing side: the end of the sweep with the lower late-time ``rho``) to positive
    count, and the one that best splits the sweep into significant negative and positive
    curvatures is used (attribute ``crossings``: all of them); when that change is not
    significant (a bracketing curvature within 2 errors of 0), the RMS distance to the other
    such changes in the same direction is added in quadrature (attribute ``ambiguity_error``,
    carried over to ``delta``).

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Sweep with dims ``sample_dim``, ``dim`` and the control dimension only.
    control : str, optional
        Control dimension (default: the ``control`` attribute).
    var : str
        Order parameter (``"survival"`` for seed runs gives ``delta'``).
    t_min, t_max : float, optional
        Late-time window (default: upper half of the logarithmic time range).
    n_fit : int
        Control values used around the sign change (>= 2; 2 = the bracketing pair).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        Scalars ``{control}_c`` and ``delta`` with ``*_error``; per control value
        ``curvature`` and ``delta_window`` with errors.

    Raises
    ------
    ValueError
        No sign change of the curvature inside the sweep, too few batches/times, etc.
    """
    c, control, x = _control_curves(obj, var, control, dim, sample_dim)
    n_fit = int(n_fit)
    if n_fit < 2:
        raise ValueError(f"n_fit must be >= 2, got {n_fit}")
    m, lo, hi = window_mask(c.t, t_min, t_max, min_points=4)
    est = _critical_estimate(c, control, x, m, lo, hi, n_fit)
    xc_reps, d_reps = est["xc_reps"], est["d_reps"]
    xc_err, d_err = est["xc_err"], est["d_err"]
    window = 0.0
    # Corrections to scaling move the zero with the fit window: redo it on the later half of
    # the window (in ln t) with the same batches. The part of the shift beyond its own noise
    # (jackknife error of the paired difference) is added in quadrature as a systematic error.
    try:
        m2, _, _ = window_mask(c.t, float(np.sqrt(lo * hi)), hi, min_points=4)
        late = _critical_estimate(c, control, x, m2, lo, hi, n_fit, near=est["near"])
    except ValueError:
        late = None
    if late is not None:
        dx = late["xc_reps"] - xc_reps
        dd = late["d_reps"] - d_reps
        with np.errstate(invalid="ignore"):
            window = _excess(dx)
            xc_err = float(np.hypot(xc_err, window))
            d_err = float(np.hypot(d_err, _excess(dd)))
    key = f"{control}_c"
    cv, ce, dv, de = est["cv"], est["ce"], est["dv"], est["de"]
    ds = xr.Dataset(
        {key: ((), xc_reps[0]), f"{key}_error": ((), xc_err),
         "delta": ((), d_reps[0]), "delta_error": ((), d_err),
         "curvature": ((control,), cv), "curvature_error": ((control,), ce),
         "delta_window": ((control,), dv), "delta_window_error": ((control,), de)},
        coords={control: (control, x)},
        attrs={"var": c.name, "control": control, "t_min": lo, "t_max": hi,
               "n_fit": n_fit, "fit_values": [float(v) for v in est["xs"]],
               "zero_fit": ("secant" if len(est["xs"]) == 2 else
                            "line" if est["deg"] == 1 else "quadratic"),
               "resolution_error": est["resolution"], "window_error": window,
               "ambiguity_error": est["ambiguity"],
               "crossings": [float(v) for v in sorted(est["cross"].values())],
               "method": "zero of the late-time curvature of ln rho vs ln t"})
    return ds


#: :func:`critical_drift`: a located critical value *drifts* when the slope of its logarithm
#: against the logarithm of the observation time is this many standard errors from 0 and
#: the value changes by at least the factor ``DRIFT_FACTOR`` across the windows.
DRIFT_SIGMAS = 3.0
DRIFT_FACTOR = 2.0


def critical_drift(obj, control=None, var="rho", ratio=8.0, n_windows=3, dim="t",
                   sample_dim="batch"):
    r"""How the located critical value moves with the observation time.

    :func:`critical_point` is repeated in ``n_windows`` disjoint time windows
    ``[T / ratio, T]``, ``T`` = the last time, ``T / ratio``, ... At a true transition the
    values converge as ``T`` grows (finite-time shifts are corrections); a *crossover* whose
    apparent critical point moves steadily towards the edge of the control range has none:
    its "critical point" measures the depth (observation time), not the process. The drift
    is the weighted fit ``ln x_c = A + s ln T``; the critical value *drifts* when ``|s|`` is
    at least :data:`DRIFT_SIGMAS` standard errors and ``x_c`` changes by at least the factor
    :data:`DRIFT_FACTOR` across the windows (a correction to scaling of a true critical
    point moves it by far less). Example: the residual MLP, whose pseudo-critical
    ``sigma_w`` falls as ``T^-0.7`` towards 0 (``docs/physics.md``).

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Sweep over the control dimension whose grid spans the critical values of every
        window (a geometric grid for a drift over decades).
    control : str, optional
        Control dimension (default: the ``control`` attribute).
    var : str
        Order parameter.
    ratio : float
        Length of each window (``T_max / T_min``), > 1.
    n_windows : int
        Number of windows, >= 2.
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        Over ``window_end`` (the ``T`` of each window): ``{control}_c`` and its error (NaN
        where the window has no sign change); scalars ``slope``, ``slope_error``,
        ``change`` (``x_c`` of the longest over the shortest window) and ``drifts`` (1 or 0);
        attribute ``reason`` (one sentence with the numbers).
    """
    ratio = float(ratio)
    if not (ratio > 1.0 and math.isfinite(ratio)):
        raise ValueError(f"ratio must be a number > 1, got {ratio}")
    n_windows = int(n_windows)
    if n_windows < 2:
        raise ValueError(f"n_windows must be >= 2, got {n_windows}")
    c, control, x = _control_curves(obj, var, control, dim, sample_dim)
    tpos = c.t[c.t > 0]
    if tpos.size < 4:
        raise ValueError(f"{dim}: fewer than 4 positive times")
    ends = [float(tpos[-1]) / ratio ** k for k in range(n_windows)][::-1]
    if ends[0] / ratio < tpos[0]:
        raise ValueError(f"n_windows: {n_windows} windows of ratio {ratio:g} need times from "
                         f"{ends[0] / ratio:g}, the data start at {tpos[0]:g}")
    key = f"{control}_c"
    xc, xe, notes = [], [], []
    for T in ends:
        try:
            r = critical_point(obj, control=control, var=var, t_min=T / ratio, t_max=T,
                               dim=dim, sample_dim=sample_dim)
            xc.append(float(r[key]))
            xe.append(float(r[f"{key}_error"]))
        except ValueError as exc:
            xc.append(np.nan)
            xe.append(np.nan)
            notes.append(f"T = {T:g}: {str(exc).splitlines()[0]}")
    xc, xe, ends = np.array(xc), np.array(xe), np.array(ends)
    ok = np.isfinite(xc) & np.isfinite(xe) & (xe > 0) & (xc > 0)
    slope = slope_err = change = np.nan
    drifts = 0
    if ok.sum() >= 2:
        lx, lt = np.log(xc[ok]), np.log(ends[ok])
        w = (xc[ok] / xe[ok]) ** 2            # errors of ln x_c: x_c error / x_c
        wm = w.sum()
        tb = (w * lt).sum() / wm
        sxx = (w * (lt - tb) ** 2).sum()
        slope = float((w * (lt - tb) * (lx - (w * lx).sum() / wm)).sum() / sxx)
        slope_err = float(1.0 / math.sqrt(sxx))
        if ok.sum() > 2:                      # a misfit beyond the errors widens the error
            resid = lx - ((w * lx).sum() / wm + slope * (lt - tb))
            chi2_dof = float((w * resid ** 2).sum() / (ok.sum() - 2))
            slope_err *= math.sqrt(max(1.0, chi2_dof))
        change = float(xc[ok][-1] / xc[ok][0])
        drifts = int(abs(slope) >= DRIFT_SIGMAS * slope_err
                     and max(change, 1.0 / change) >= DRIFT_FACTOR)
    where = ", ".join(f"{v:.4g} ± {e:.2g} (T = {T:g})" for v, e, T in zip(xc, xe, ends)
                      if np.isfinite(v))
    if not np.isfinite(slope):
        reason = (f"the critical value could be located in fewer than 2 windows "
                  f"({'; '.join(notes) or where})")
    elif drifts:
        reason = (f"the located {key} drifts with the observation time as T^{slope:.2f} "
                  f"(± {slope_err:.2f}; {where}): a pseudo-critical point moving towards "
                  f"{'0' if slope < 0 else 'larger values'}, not a transition")
    else:
        reason = (f"the located {key} is stable in time within the drift criterion "
                  f"(slope {slope:.2g} ± {slope_err:.2g}, change x{change:.3g}; {where})")
    return xr.Dataset(
        {key: (("window_end",), xc), f"{key}_error": (("window_end",), xe),
         "slope": ((), slope), "slope_error": ((), slope_err), "change": ((), change),
         "drifts": ((), drifts)},
        coords={"window_end": ("window_end", ends, {"long_name": "end of the time window",
                                                      "units": "1"})},
        attrs={"var": c.name, "control": control, "ratio": ratio, "reason": reason,
               "not_located": "; ".join(notes)})


def _excess(diff_reps):
    """Systematic part of a paired shift: ``sqrt(max(0, shift^2 - err^2))``."""
    shift = float(diff_reps[0])
    err = float(_core.jackknife_error(diff_reps))
    if not np.isfinite(shift):
        return 0.0
    if not np.isfinite(err):  # no error for the difference: the whole shift counts
        return abs(shift)
    return float(np.sqrt(max(0.0, shift * shift - err * err)))


def _curvature_rows(c, m):
    """Replicate means in the window ``m``, ``ln t``, ``ln y`` and the curvature.

    The curvature is ``d^2 ln y / d (ln t)^2`` of a quadratic fit (every decade weighted
    equally).
    """
    reps = _reps(c, m)
    lnt = np.log(c.t[m])
    lny = safe_log(reps)
    quad = _core.polyfit_rows(lnt - lnt.mean(), lny, _core.log_weights(lnt), 2)
    return reps, lnt, lny, 2.0 * quad[..., 2]


def late_curvature(obj, control=None, var="rho", t_min=None, t_max=None, dim="t",
                   sample_dim="batch"):
    """Late-time curvature of ``ln rho`` vs ``ln t`` at every control value of a sweep.

    The quantity whose sign change :func:`critical_point` locates: a quadratic in ``ln t``
    fitted over the late-time window (every decade weighted equally) bends down
    (curvature < 0) on the absorbing side and up on the active side. Use it to see on which
    side of the transition each value of a sweep lies before locating it.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Sweep with dims ``sample_dim``, ``dim`` and the control dimension only.
    control : str, optional
        Control dimension (default: the ``control`` attribute).
    var : str
        Order parameter.
    t_min, t_max : float, optional
        Late-time window (default: upper half of the logarithmic time range).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        Over the control dimension: ``curvature`` and ``curvature_error`` (jackknife over
        batches; NaN where the mean reaches 0 inside the window) and ``positive`` (whether
        the mean stays above 0 throughout the window: a curve absorbed inside it bends
        down). Attributes ``t_min``, ``t_max``.
    """
    c, control, x = _control_curves(obj, var, control, dim, sample_dim)
    m, lo, hi = window_mask(c.t, t_min, t_max, min_points=4)
    reps, _, _, curv = _curvature_rows(c, m)
    with np.errstate(invalid="ignore"):
        positive = np.all(reps[0] > 0, axis=-1)
    err = _core.jackknife_error(curv)
    cv = np.where(positive, curv[0], np.nan)
    return xr.Dataset(
        {"curvature": ((control,), cv, {"long_name": "late-time curvature of ln rho vs ln t",
                                        "units": "1"}),
         "curvature_error": ((control,), np.where(positive, err, np.nan), {"units": "1"}),
         "positive": ((control,), positive)},
        coords={control: (control, x)},
        attrs={"var": c.name, "control": control, "t_min": lo, "t_max": hi})


#: :func:`critical_point` fits a quadratic in the control (rather than a straight line) to the
#: curvatures of at least this many control values.
QUADRATIC_FROM = 4


def _critical_estimate(c, control, x, m, lo, hi, n_fit, near=None):
    """Zero of the late-time curvature in the time window ``m`` (see critical_point).

    ``near`` (indices into ``x``) fixes the control values to interpolate between instead of
    locating the crossing: the window check measures how the zero moves within one bracket.
    """
    reps, lnt, lny, curv = _curvature_rows(c, m)
    require_positive(reps[0], c.name)
    slope, _ = _fit_lines(lnt, lny)
    dwin = -slope
    cv, ce = curv[0], _core.jackknife_error(curv)
    dv, de = dwin[0], _core.jackknife_error(dwin)
    good = np.isfinite(cv) & np.isfinite(ce)
    if good.sum() < 2:
        raise ValueError(f"{c.name}: fewer than 2 control values with a usable late-time "
                         f"curvature in [{lo:g}, {hi:g}]")
    if np.all(_no_spread(cv[good], ce[good])):
        raise ValueError(f"{c.name}: every batch gives the same curve in t = [{lo:g}, {hi:g}] "
                         "at every control value (no spread, e.g. constant data such as a "
                         "survival of 1 throughout): no critical point can be measured")
    cross = {}
    ambiguity = 0.0
    if near is None:
        xi, ci = x[good], cv[good]
        sgn = np.sign(ci)
        change = np.nonzero(sgn[:-1] * sgn[1:] <= 0)[0]
        if change.size == 0:
            phase = "absorbing (curves bend down)" if ci[0] < 0 else "active (curves bend up)"
            raise ValueError(f"control: no sign change of the late-time curvature in "
                             f"{control} in [{xi[0]:g}, {xi[-1]:g}]: every value looks {phase}; "
                             f"extend the sweep")
        for i in change:
            d = ci[i + 1] - ci[i]
            cross[int(i)] = xi[i] if d == 0 else xi[i] - ci[i] * (xi[i + 1] - xi[i]) / d
        # Deep in the active phase the curvature decays back to ~0 and noise can flip its sign:
        # keep the crossings from bending down (absorbing side: the lower late-time rho) to
        # bending up, and among them take the best step: the split with the most significant
        # negative curvature on the absorbing side and positive on the active side.
        with np.errstate(invalid="ignore"):
            late = np.nanmean(reps[0][good], axis=-1)
        orient = -1.0 if late[-1] < late[0] else 1.0
        z = np.clip(ci / np.maximum(ce[good], 1e-300), -10.0, 10.0)
        cand = [i for i in cross if orient * ci[i] < 0.0 <= orient * ci[i + 1]] or list(cross)
        score = {i: float(orient * (z[i + 1:].sum() - z[:i + 1].sum())) for i in cand}
        mid = max(cand, key=lambda i: (score[i], -i))
        x0 = float(cross[mid])
        # A change of sign that is not significant on both sides is no better placed than
        # any other such change in the same direction: count the distance to those.
        weak = [i for i in cand if min(abs(z[i]), abs(z[i + 1])) < 2.0]
        if mid in weak and len(weak) > 1:
            ambiguity = float(np.sqrt(np.mean([(cross[i] - x0) ** 2 for i in weak])))
        idx_good = np.nonzero(good)[0]
        if n_fit == 2:  # linear interpolation between the bracketing values
            near = idx_good[[mid, mid + 1]]
        else:
            near = np.sort(idx_good[np.argsort(np.abs(xi - x0), kind="stable")[:n_fit]])
    floor = 1e-12 + 1e-6 * np.nanmedian(ce[good])
    wc = 1.0 / np.maximum(ce[near], floor) ** 2
    xs = x[near]
    scale = max(float(np.ptp(xs)), 1e-300)
    x0s = xs.mean()
    u = (xs - x0s) / scale
    # Across more than three grid values the curvature is visibly not linear in the control
    # (steep on the absorbing side, flattening on the active side): a straight line through
    # them puts the zero on the active side (1+1 DP, 4 values: +1.1 errors on average).
    deg = 2 if len(near) >= QUADRATIC_FROM else 1
    xc_reps = _core.poly_zero(u, curv[:, near], wc, deg) * scale + x0s
    if not np.isfinite(xc_reps[0]):
        raise ValueError("control: the curvature does not change linearly near the crossing; "
                         "use a finer sweep or a larger n_fit")
    wd = 1.0 / np.maximum(de[near], 1e-12 + 1e-6 * np.nanmedian(de[good])) ** 2
    d_reps = _core.poly_eval(u, dwin[:, near], wd, (xc_reps - x0s) / scale, deg)
    xc_err = float(_core.jackknife_error(xc_reps))
    d_err = float(_core.jackknife_error(d_reps))
    resolution = 0.0
    if n_fit == 2 and cross:
        # Inside the bracket the curvature is far from linear (it rises from 0 at the
        # critical point and turns over deeper in the active phase), and the zero of the
        # secant is a ratio of noisy values: its jackknife error is smallest exactly when a
        # bracketing value has fluctuated away from 0. The grid resolution (uniform over the
        # step) is a floor that matches the measured spread of the estimate.
        resolution = float(np.ptp(xs)) / np.sqrt(12.0)
    placement = float(np.hypot(resolution, ambiguity))
    if placement > 0.0:
        xc_err = float(np.hypot(xc_err, placement))
        # delta is read off at the critical value: its uncertainty carries over
        ddx = (dv[near[-1]] - dv[near[0]]) / (xs[-1] - xs[0])
        if np.isfinite(ddx):
            d_err = float(np.hypot(d_err, ddx * placement))
    if not (np.isfinite(xc_err) and np.isfinite(d_err)):
        raise ValueError("control: jackknife failed (a leave-one-out replicate has no "
                         "crossing); record more batches or a narrower sweep")
    return {"xc_reps": xc_reps, "d_reps": d_reps, "xc_err": xc_err, "d_err": d_err,
            "cv": cv, "ce": ce, "dv": dv, "de": de, "xs": xs, "cross": cross,
            "resolution": resolution, "ambiguity": ambiguity, "near": near, "deg": deg}


def stationary_density(obj, var="rho", t_min=None, dim="t", sample_dim="batch"):
    """Stationary (late-time average) value of ``var`` with jackknife errors.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data with dims ``dim`` and ``sample_dim`` (plus swept dims).
    var : str
        Variable.
    t_min : float, optional
        Start of the averaging window (default: half the last time).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``rho_s`` and ``rho_s_error`` over the swept dims.
    """
    c = curves(obj, var, dim, sample_dim)
    lo = 0.5 * c.t[-1] if t_min is None else float(t_min)
    m = (c.t >= lo) & (c.t > 0)
    if not m.any():
        raise ValueError(f"t_min={lo:g} is after the last time {c.t[-1]:g}")
    reps = _reps(c, m)
    if not np.any(np.isfinite(reps[0])):
        raise ValueError(f"{c.name}: every value is NaN in the averaging window")
    avg = _nanmean_last(reps)
    return _result({"rho_s": avg[0]}, {"rho_s": _core.jackknife_error(avg)}, c,
                   {"var": c.name, "t_min": lo})


def _fit_loglog(x, reps, err, what, omega=None):
    """Fit ``ln y = c0 + s ln x (+ c x^omega)`` on replicate rows, inverse-variance weights.

    Returns the slopes, the amplitudes ``exp(c0)`` and the chi-square of the full-data fit
    (NaN without degrees of freedom).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = err / reps[0]
    w = np.where(np.isfinite(rel) & (rel > 0), 1.0 / np.maximum(rel, 1e-12) ** 2, 0.0)
    if np.count_nonzero(w) < 3:
        raise ValueError(f"{what}: need at least 3 usable control values, "
                         f"got {np.count_nonzero(w)}")
    lx = np.log(x)
    mu = lx.mean()
    cols = [np.ones_like(lx), lx - mu]
    if omega is not None:
        xo = x ** omega
        cols.append(xo / xo.max())
    V = np.stack(cols, axis=-1)
    lny = safe_log(reps)
    coef = _core.lstsq_rows(V, lny, w)
    dof = np.count_nonzero(w) - V.shape[1]
    chi2 = float(np.nansum(w * (lny[0] - V @ coef[0]) ** 2)) if dof > 0 else np.nan
    return coef[..., 1], np.exp(coef[..., 0] - coef[..., 1] * mu), chi2


def _off_critical(x, reps, xc, side, delta_min, delta_max, what):
    d = side * (x - xc)
    sel = (d > delta_min) & np.isfinite(reps[0]) & (reps[0] > 0)
    if delta_max is not None:
        sel &= d <= delta_max
    return d, sel


def _nanmean_last(a):
    ok = np.isfinite(a)
    n = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, a, 0.0).sum(axis=-1) / n, np.nan)


def _mean_or(v, default):
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else default


def _pair_slope(x, reps, idx):
    """Log-log slope between the first and last of the points ``idx`` (replicate rows)."""
    i, j = idx[0], idx[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (safe_log(reps[:, j]) - safe_log(reps[:, i])) / np.log(x[j] / x[i])


#: Correction exponents spanned for the model systematic of :func:`fit_beta`.
_OMEGAS = (0.5, 1.0, 1.5)


def fit_beta(obj, critical, control=None, var="rho", t_min=None, delta_min=None,
             delta_max=None, stationary_tol=0.05, correction=None, dim="t",
             sample_dim="batch"):
    r"""Order-parameter exponent from the stationary density, ``rho_s = A Delta^beta``.

    .. math:: \rho_s = A\, \Delta^{\beta}\, e^{c \Delta^{\omega}}

    At the distances a simulation can afford the effective exponent still drifts with
    ``Delta`` (1+1 DP: 0.254 at ``Delta`` = 2-4 %, against 0.2765): with four or more
    stationary points the fit includes the correction ``exp(c Delta^omega)`` (to first order
    ``1 + c Delta^omega``) with ``omega = 1`` (analytic corrections), and the spread of
    ``beta`` over ``omega`` in [0.5, 1.5] is a model systematic (``beta_model_syst``).
    With three points (or ``correction=False``) the pure power law is fitted and the model
    systematic is the drift of the local exponent between the nearer and the farther
    points, less its noise.
    The active side is the one with the larger stationary density. Errors: jackknife over
    batches, the shift of ``beta`` when the critical value moves by its error, scaled by
    ``sqrt(chi2/dof)`` when the fit misses the points by more than their errors, and the
    model systematic, in quadrature.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Sweep over the control dimension.
    critical : Estimate, tuple, float or xarray.Dataset
        Critical value (e.g. the result of :func:`critical_point`).
    control : str, optional
        Control dimension (default: the ``control`` attribute).
    var : str
        Order parameter.
    t_min : float, optional
        Start of the stationary window (default: half the last time).
    delta_min, delta_max : float, optional
        Range of distances ``Delta = |x - x_c|`` used (default: ``Delta > 3 sigma(x_c)``,
        no upper limit).
    stationary_tol : float
        A curve counts as stationary when its slope ``s = d ln rho / d ln t`` in the window
        satisfies ``|s| + 2 sigma_s <= stationary_tol``; the others are left out (their
        ``rho_s`` is NaN in the output).
    correction : bool, optional
        Fit the correction to scaling (default: when at least 4 points are usable).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``beta``, ``amplitude`` with errors, ``beta_model_syst``; per control value
        ``rho_s`` with errors; attributes ``correction``, ``chi2`` and ``dof`` of the fit.
    """
    c, control, x, xc, delta_min = _off_critical_setup(obj, var, control, critical, delta_min,
                                                       dim, sample_dim)
    lo = 0.5 * c.t[-1] if t_min is None else float(t_min)
    m = (c.t >= lo) & (c.t > 0)
    if not m.any():
        raise ValueError(f"t_min={lo:g} is after the last time {c.t[-1]:g}")
    win = _reps(c, m)
    reps = _nanmean_last(win)
    err = _core.jackknife_error(reps)
    if m.sum() >= 2:  # keep only stationary curves: flat ln rho vs ln t in the window
        sl, _ = _fit_lines(np.log(c.t[m]), safe_log(win))
        sle = _core.jackknife_error(sl)
        moving = ~(np.abs(sl[0]) + 2 * sle <= stationary_tol)
        reps = np.where(moving[None], np.nan, reps)
    above, below = x > xc.value, x < xc.value
    ma = _mean_or(reps[0][above], -np.inf)
    mb = _mean_or(reps[0][below], -np.inf)
    side = 1.0 if ma >= mb else -1.0

    n_use = int(np.sum(_off_critical(x, reps, xc.value, side, delta_min, delta_max,
                                     "beta")[1]))
    if correction is None:
        correction = n_use >= 4
    if correction and n_use < 4:
        raise ValueError(f"beta: the corrected fit needs at least 4 stationary control values "
                         f"on the active side, got {n_use}; pass correction=False")
    fits = {}

    def run(xcv, omega=1.0 if correction else None):
        d, sel = _off_critical(x, reps, xcv, side, delta_min, delta_max, "beta")
        if sel.sum() < 3:
            raise ValueError(f"beta: need at least 3 control values on the active side with "
                             f"a stationary rho_s > 0, got {int(sel.sum())}")
        s_, amp_, chi2 = _fit_loglog(d[sel], reps[:, sel], err[sel], "beta", omega)
        fits.setdefault(xcv, (chi2, int(sel.sum()) - (3 if omega is not None else 2)))
        return s_, amp_

    s, amp, beta_err = _fit_shifted(run, xc)
    chi2, dof = fits[xc.value]
    attrs = {"correction": int(bool(correction)), "chi2": chi2, "dof": dof}
    if np.isfinite(chi2) and dof > 0 and chi2 / dof > 1:
        # lack of fit beyond the errors of rho_s: scale like a reduced chi-square (PDG rule)
        beta_err *= math.sqrt(chi2 / dof)
    model = 0.0
    if correction:
        # the correction exponent is not known: the spread of beta over omega in [0.5, 1.5]
        alt = [float(run(xc.value, om)[0][0]) for om in _OMEGAS]
        model = 0.5 * (max(alt) - min(alt))
    else:
        # a pure power law cannot show its own bias: the drift of the local exponent between
        # the nearer and the farther points (less its noise) bounds it, as for a decay fit
        d, sel = _off_critical(x, reps, xc.value, side, delta_min, delta_max, "beta")
        order = np.flatnonzero(sel)[np.argsort(d[sel])]
        half = (len(order) + 1) // 2
        near, far = order[:half], order[len(order) - half:]
        if len(near) >= 2 and len(far) >= 2 and not np.array_equal(near, far):
            diff = (_fit_loglog(d[far], reps[:, far], err[far], "beta")[0]
                    - _fit_loglog(d[near], reps[:, near], err[near], "beta")[0]
                    if half >= 3 else
                    _pair_slope(d, reps, far) - _pair_slope(d, reps, near))
            model = float(np.sqrt(max(0.0, diff[0] ** 2
                                      - float(_core.jackknife_error(diff)) ** 2)))
            if not np.isfinite(model):
                model = 0.0
    beta_err = math.hypot(beta_err, model)
    amp_err = float(_core.jackknife_error(amp))
    return xr.Dataset({"beta": ((), s[0]), "beta_error": ((), beta_err),
                       "beta_model_syst": ((), model),
                       "amplitude": ((), amp[0]), "amplitude_error": ((), amp_err),
                       "rho_s": ((control,), reps[0]), "rho_s_error": ((control,), err)},
                      coords={control: (control, x)},
                      attrs={"var": c.name, "control": control, "critical": xc.value,
                             "t_min": lo, "side": int(side), **attrs})


def _check_decay(decay):
    """Validate the relaxation criterion ``decay`` (a fraction in (0, 1))."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float, np.integer, np.floating)):
        raise TypeError(f"decay must be a number in (0, 1), got {decay!r}")
    decay = float(decay)
    if not (0.0 < decay < 1.0):
        raise ValueError(f"decay must be in (0, 1) (a fraction of the maximum of t*y), "
                         f"got {decay}")
    return decay


def _relaxed(full, t, decay):
    """Curves whose integrand ``t y(t)`` has fallen below ``decay`` of its maximum."""
    ty = np.nan_to_num(full, nan=0.0) * t
    return ty[..., -1] <= decay * np.max(ty, axis=-1)


def _off_critical_setup(obj, var, control, critical, delta_min, dim, sample_dim):
    """Curves over the control dim, the critical value and ``delta_min`` (default ``3 sigma``)."""
    c, control, x = _control_curves(obj, var, control, dim, sample_dim)
    xc = critical_value(critical, control)
    delta_min = 3 * xc.error if delta_min is None else float(delta_min)
    return c, control, x, xc, delta_min


def _tau_reps(c, decay, positive=False):
    """Replicas of ``tau = int t y dt / int y dt``, NaN where a curve has not relaxed.

    Not relaxed: see :func:`_relaxed`; with ``positive``, also ``int y dt <= 0``.
    """
    reps = _reps(c)
    relaxed = _relaxed(reps[0], c.t, decay)
    y = np.nan_to_num(reps, nan=0.0)
    num = np.trapezoid(y * c.t, c.t, axis=-1)
    den = np.trapezoid(y, c.t, axis=-1)
    if positive:
        relaxed = relaxed & (den > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(relaxed, num / den, np.nan)


def _fit_shifted(run, xc):
    """Return ``run(x_c)`` = ``(slopes, amplitudes)`` and the error of the slope.

    The error is the jackknife one plus, in quadrature, half the shift of the slope when
    ``x_c`` moves by its error.
    """
    s, amp = run(xc.value)
    err = float(_core.jackknife_error(s))
    if xc.error > 0:
        sp, _ = run(xc.value + xc.error)
        sm, _ = run(xc.value - xc.error)
        err = math.hypot(err, 0.5 * abs(sp[0] - sm[0]))
    return s, amp, err


def relaxation_time(obj, var="rho", decay=0.01, dim="t", sample_dim="batch"):
    """Relaxation time ``tau = int t y dt / int y dt`` of curves that decay to zero.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data (sweep over the absorbing side).
    var : str
        Variable.
    decay : float
        A curve counts as relaxed when ``t y(t)`` at the last time is below ``decay`` times
        its maximum (the integral has converged); ``tau`` is NaN for the others. In (0, 1).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``tau`` and ``tau_error`` over the swept dims.
    """
    decay = _check_decay(decay)
    c = curves(obj, var, dim, sample_dim)
    if c.t.size < 3:
        raise ValueError(f"{c.name}: need at least 3 times for a relaxation time")
    tau = _tau_reps(c, decay, positive=True)
    if not np.any(np.isfinite(tau[0])):
        raise ValueError(f"{c.name}: no curve relaxes (t*{c.name} below {decay:g} of its "
                         f"maximum) by t={c.t[-1]:g}; simulate longer or sweep further into the "
                         "absorbing phase")
    return _result({"tau": tau[0]}, {"tau": _core.jackknife_error(tau)}, c,
                   {"var": c.name, "decay": decay})


def fit_nu_par(obj, critical, control=None, var="rho", decay=0.01, delta_min=None,
               delta_max=None, dim="t", sample_dim="batch"):
    """Temporal correlation exponent from relaxation times, ``tau = A |Delta|^-nu_par``.

    Uses the control values whose curves relax to zero (the absorbing side), see
    :func:`relaxation_time`.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Sweep over the control dimension.
    critical : Estimate, tuple, float or xarray.Dataset
        Critical value.
    control : str, optional
        Control dimension (default: the ``control`` attribute).
    var : str
        Order parameter.
    decay : float
        Relaxation criterion, in (0, 1) (see :func:`relaxation_time`).
    delta_min, delta_max : float, optional
        Range of distances used (default: ``Delta > 3 sigma(x_c)``, no upper limit).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``nu_par``, ``amplitude`` with errors; per control value ``tau`` with errors.
    """
    decay = _check_decay(decay)
    c, control, x, xc, delta_min = _off_critical_setup(obj, var, control, critical, delta_min,
                                                       dim, sample_dim)
    tau = _tau_reps(c, decay)
    err = _core.jackknife_error(tau)
    fin = np.isfinite(tau[0])
    if not fin.any():
        raise ValueError(f"{c.name}: no curve relaxes (t*{c.name} below {decay:g} of its "
                         "maximum); "
                         "simulate longer or sweep further into the absorbing phase")
    side = 1.0 if _mean_or(x[fin], xc.value) > xc.value else -1.0

    def run(xcv):
        d, sel = _off_critical(x, tau, xcv, side, delta_min, delta_max, "nu_par")
        if sel.sum() < 3:
            raise ValueError(f"nu_par: need at least 3 relaxed control values, got "
                             f"{int(sel.sum())}")
        return _fit_loglog(d[sel], tau[:, sel], err[sel], "nu_par")[:2]

    s, amp, nu_err = _fit_shifted(run, xc)
    return xr.Dataset({"nu_par": ((), -s[0]), "nu_par_error": ((), nu_err),
                       "amplitude": ((), amp[0]),
                       "amplitude_error": ((), float(_core.jackknife_error(amp))),
                       "tau": ((control,), tau[0]), "tau_error": ((control,), err)},
                      coords={control: (control, x)},
                      attrs={"var": c.name, "control": control, "critical": xc.value,
                             "decay": decay})


def spreading(obj, t_min=None, t_max=None, dim="t", sample_dim="batch"):
    """Spreading exponents of seed runs: ``P ~ t^-delta'``, ``N ~ t^theta``, ``R^2 ~ t^(2/z)``.

    ``P`` is ``survival``, ``N`` is ``n_active``, ``R^2`` is ``r2`` pooled over batches with
    weights ``n_samples * n_active`` (the ratio of sums of the schema). Jackknife errors,
    plus the drift of each exponent across the window (as in :func:`fit_power_law`);
    ``z`` is computed on every replicate.

    Parameters
    ----------
    obj : xarray.Dataset
        Seed run(s) with ``survival`` and ``n_active`` (``r2`` optional).
    t_min, t_max : float, optional
        Window (default: upper half of the logarithmic time range).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``delta_prime``, ``theta`` and, with ``r2``, ``z`` with ``*_error``. An exponent
        whose fit is the same in every batch (e.g. ``survival`` 1 throughout: nothing dies)
        has no error bar and is not measured: NaN, explained in the ``not_measured``
        attribute.
    """
    if not isinstance(obj, xr.Dataset):
        raise TypeError("spreading needs a Dataset with survival and n_active")
    for v in ("survival", "n_active"):
        if v not in obj:
            raise ValueError(f"spreading: dataset has no {v!r} (seed runs record survival, "
                             "n_active and r2)")
    vals, errs, notes = {}, {}, []
    cs = curves(obj, "survival", dim, sample_dim)
    m, lo, hi = window_mask(cs.t, t_min, t_max, min_points=3)
    for v, key, sign in (("survival", "delta_prime", -1.0), ("n_active", "theta", 1.0)):
        c = curves(obj, v, dim, sample_dim)
        reps = _reps(c, m)
        require_positive(reps[0], v)
        s, _ = _fit_lines(np.log(c.t[m]), safe_log(reps))
        drift = _window_drift(np.log(c.t[m]), safe_log(reps))
        one = {key: sign * s[0]}, {key: np.hypot(_core.jackknife_error(sign * s), drift)}
        _drop_unmeasured(*one, key, f"the slope of ln {v}", notes)
        vals[key], errs[key] = one[0][key], one[1][key]
    if "r2" in obj:
        c = curves(obj, "r2", dim, sample_dim)
        na = curves(obj, "n_active", dim, sample_dim).values[..., m]
        w = c.weights.reshape((-1,) + (1,) * (na.ndim - 1)) * np.nan_to_num(na)
        reps = _core.replicate_means(c.values[..., m], w)
        require_positive(reps[0], "r2")
        s, _ = _fit_lines(np.log(c.t[m]), safe_log(reps))
        with np.errstate(invalid="ignore", divide="ignore"):
            z = 2.0 / s
        drift = _window_drift(np.log(c.t[m]), safe_log(reps), lambda x: 2.0 / x)
        one = {"z": z[0]}, {"z": np.hypot(_core.jackknife_error(z), drift)}
        _drop_unmeasured(*one, "z", "the slope of ln r2", notes,
                         flat=_no_spread(s[0], _core.jackknife_error(s)))
        vals["z"], errs["z"] = one[0]["z"], one[1]["z"]
    attrs = {"t_min": lo, "t_max": hi}
    if notes:
        attrs["not_measured"] = "; ".join(notes)
    return _result(vals, errs, cs, attrs)


def _kappa_rows(t, reps, delta, correction):
    """``kappa`` per replicate row from ``z = rho^(-1/delta) / t`` over the times ``t``."""
    wt = _core.log_weights(np.log(t))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(reps > 0, reps, np.nan) ** (-1.0 / delta) / t
    if not correction:
        # decay-weighted average of ln z
        lz = np.log(z)
        ok = np.isfinite(lz)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.exp(np.sum(np.where(ok, lz * wt, 0), -1) / np.sum(np.where(ok, wt, 0), -1))
    V = np.stack([np.ones_like(t), np.log(t) / t, 1.0 / t], axis=-1)
    return _core.lstsq_rows(V, z, wt / np.where(np.isfinite(z[0]), z[0], 1.0) ** 2)[..., 0]


def kappa(obj, var="rho", t_min=None, t_max=None, delta=1.0, correction=True, dim="t",
          sample_dim="batch"):
    r"""Metric factor ``kappa`` of the critical decay ``rho ~ 1 / (kappa t)^delta``.

    .. math:: \frac{\rho(t)^{-1/\delta}}{t} = \kappa + \frac{A \ln t + B}{t}

    With the default ``delta = 1`` (mean field) this is ``rho = 1 / (kappa t)``. A marginal
    (mean-field) decay approaches its asymptote slowly: ``1 / (rho t)`` is still 5 % below
    ``kappa`` at ``t = 100`` and 1.2 % at ``t = 1000`` (the MLP's infinite-width map), the
    ``ln t / t`` and ``1 / t`` terms of the expansion of ``1/rho``. With ``correction`` (the
    default) they are fitted; without, ``kappa`` is the decay-weighted average of
    ``1 / (rho t)`` (biased low by those terms). Errors: jackknife over batches, plus the
    shift of ``kappa`` when the window starts a third of its logarithmic range later, less
    its own noise (``kappa_window_syst``).

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Runs at the critical point.
    var : str
        Order parameter.
    t_min, t_max : float, optional
        Window (default: upper half of the logarithmic time range).
    delta : float
        Decay exponent held fixed (> 0).
    correction : bool
        Fit the ``(A ln t + B) / t`` corrections (needs 4 or more times in the window).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``kappa`` and ``kappa_error`` over the swept dims (NaN where every batch is the same,
        see the ``not_measured`` attribute), and ``kappa_window_syst``.
    """
    delta = float(delta)
    if not (delta > 0):
        raise ValueError(f"delta must be > 0, got {delta}")
    c = curves(obj, var, dim, sample_dim)
    m, lo, hi = window_mask(c.t, t_min, t_max, min_points=4 if correction else 2)
    reps = _reps(c, m)
    require_positive(reps[0], c.name)
    t = c.t[m]
    k = _kappa_rows(t, reps, delta, correction)
    err = _core.jackknife_error(k)
    late = np.log(t) >= np.log(t[0]) + (np.log(t[-1]) - np.log(t[0])) / 3.0
    syst = np.zeros_like(err)
    if late.sum() >= (4 if correction else 2):
        d = _kappa_rows(t[late], reps[..., late], delta, correction) - k
        syst = np.sqrt(np.maximum(0.0, d[0] ** 2 - _core.jackknife_error(d) ** 2))
        syst = np.where(np.isfinite(syst), syst, 0.0)
    values, errors, notes = {"kappa": k[0]}, {"kappa": np.hypot(err, syst)}, []
    _drop_unmeasured(values, errors, "kappa", c.name, notes,
                     flat=_no_spread(k[0], err))
    attrs = {"var": c.name, "t_min": lo, "t_max": hi, "delta": delta,
             "correction": int(bool(correction))}
    if notes:
        attrs["not_measured"] = "; ".join(notes)
    out = _result(values, errors, c, attrs)
    out["kappa_window_syst"] = (c.extra_dims, np.where(np.isfinite(values["kappa"]), syst,
                                                       np.nan))
    return out


def width_cost(data, kappa, var="rho", size_dim=None, tail=0.05, dim="t", sample_dim="batch"):
    r"""Width cost ``mu`` of the finite-width crossover of a critical mean-field network.

    At its critical point an infinitely wide network decays as :math:`\rho_\infty(t) =
    1/(\kappa t)`; at width ``N`` finite-width noise takes over after a number of layers
    proportional to ``N``, :math:`\rho(t; N) \simeq N^{-1} f(t/N)`. The metric factor

    .. math:: \mu_N = \frac{1}{N} \int_0^\infty \frac{\rho(t; N)}{\rho_\infty(t)}\,dt
              = \frac{\kappa}{N} \int_0^\infty t\, \rho(t; N)\, dt

    is the number of layers, per unit of width, over which the width-``N`` network follows
    the infinite-width decay (``kappa t rho`` is about 1 for ``t << mu N`` and falls to 0
    beyond): a network of depth ``L`` is in the finite-width regime when
    :math:`L / (\mu N) \gtrsim 1`. The integral is used rather than a crossing level
    because ``kappa t rho`` can have a long shoulder, where a crossing is ill-conditioned.
    ``mu_N`` is measured for every width; its drift with ``N`` shows the corrections to
    the scaling form (the early layers, where ``rho`` is still of order 1, add
    ``O(1 / (kappa N))``).

    Parameters
    ----------
    data : xarray.Dataset or list of xarray.Dataset
        Runs at the critical point: a sweep over ``size_dim`` or one run per width, each with
        a scalar ``size_dim`` coordinate (grids may differ). The runs must be long enough
        for ``kappa t rho`` to have fallen below ``tail`` (about ``t_max >= 10 N``).
    kappa : float or Estimate
        Infinite-width amplitude of ``rho ~ 1/(kappa t)`` (e.g.
        ``absorbphys.models.meanfield.kappa``). ``mu`` is proportional to it: its relative
        error is added in quadrature.
    var : str
        Order parameter.
    size_dim : str, optional
        Width dimension (default: the ``size_param`` attribute, e.g. ``"width"``).
    tail : float
        Largest ``kappa t rho`` allowed at the last time (in (0, 1)); a run that ends above
        it gives NaN (the integral would be truncated).
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        Over ``size_dim``: ``mu`` and ``mu_error`` (jackknife over batches, plus the
        ``kappa`` error), ``plateau`` (the maximum of ``kappa t rho``, about 1 once the
        infinite-width decay is reached) and ``tail`` (``kappa t rho`` at the last time).
    """
    tail = float(tail)
    if not 0.0 < tail < 1.0:
        raise ValueError(f"tail must be in (0, 1), got {tail}")
    k = as_estimate(kappa, "kappa")
    if not (k.value > 0 and math.isfinite(k.value)):
        raise ValueError(f"kappa must be a finite number > 0, got {k.value}")
    items = data if isinstance(data, (list, tuple)) else [data]
    if not items:
        raise ValueError("data: empty list of runs")
    size_dim = size_dim or getattr(items[0], "attrs", {}).get("size_param")
    if size_dim is None:
        raise ValueError("size_dim: give the width dimension (e.g. size_dim='width')")
    runs = sorted((c for d in items for c in split_curves(d, var, size_dim, dim, sample_dim)),
                  key=lambda c: c.label)
    sizes = [c.label for c in runs]
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"{size_dim}: duplicate values {sizes}")
    n = len(runs)
    mu, err, plat, end = (np.full(n, np.nan) for _ in range(4))
    for i, c in enumerate(runs):
        if c.label <= 0:
            raise ValueError(f"{size_dim}: widths must be > 0, got {c.label}")
        reps = _core.replicate_means(c.values, c.weights[:, None])
        y = k.value * c.t * reps  # (1 + batches, t)
        ok = np.all(np.isfinite(y), axis=0)
        if ok.sum() < 2:
            continue
        t, y = c.t[ok], y[:, ok]
        plat[i], end[i] = float(np.max(y[0])), float(y[0, -1])
        if end[i] > tail:
            continue
        integ = np.sum(0.5 * (y[:, 1:] + y[:, :-1]) * np.diff(t), axis=-1)
        if t[0] > 0:  # rho is finite at t = 0, so kappa t rho -> 0: add the first triangle
            integ = integ + 0.5 * y[:, 0] * t[0]
        m = integ / c.label
        mu[i] = m[0]
        err[i] = math.hypot(float(_core.jackknife_error(m)), m[0] * k.error / k.value)
    sizes = np.asarray(sizes)
    if np.all(sizes == np.round(sizes)):
        sizes = sizes.astype(np.int64)
    ds = xr.Dataset({"mu": (size_dim, mu), "mu_error": (size_dim, err),
                     "plateau": (size_dim, plat), "tail": (size_dim, end)},
                    coords={size_dim: sizes},
                    attrs={"var": str(var), "tail_max": tail, "kappa": k.value,
                           "kappa_error": k.error})
    ds["mu"].attrs.update(long_name="width cost mu_N = (kappa / N) int t rho dt")
    ds["plateau"].attrs.update(long_name="maximum of kappa t rho (about 1 in the scaling "
                                         "regime)")
    ds["tail"].attrs.update(long_name="kappa t rho at the last time")
    return ds

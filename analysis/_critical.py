"""The critical point of a sweep across the transition.

:func:`critical_point` (zero of the late-time curvature of ``ln rho`` vs ``ln t``),
:func:`late_curvature` (the curvature itself) and :func:`critical_drift` (whether the located
value moves with the observation time).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from . import _core, _fits
from ._data import (
    require_positive,
    safe_log,
    window_mask,
)


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
    (straight-line fit in the same window) is interpolated there in the same way. Every step is
    repeated on the leave-one-batch-out means (jackknife errors). With ``n_fit=2`` the curvature
    is far from linear inside the bracket and the secant's zero is a ratio of noisy values, so
    the grid resolution (step / sqrt(12)) is added in quadrature (attribute
    ``resolution_error``, carried over to ``delta`` through its slope in the control; on 40
    seeds of a 1+1 DP sweep it matches the estimate's measured spread). The whole estimate is
    repeated on the later half of the window (in ``ln t``) between the same control values with
    the same batches; the part of each shift (critical value, ``delta``) beyond its own noise,
    ``sqrt(max(0, shift^2 - err^2))`` with ``err`` the jackknife error of the paired difference,
    is added in quadrature as a systematic error from corrections to scaling (attribute
    ``window_error``). With several sign changes (noise, or the curvature's return to ~0 deep in
    the active phase) only changes from negative (absorbing side: the end of the sweep with the
    lower late-time ``rho``) to positive count, and the one that best splits the sweep into
    significant negative and positive curvatures is used (attribute ``crossings``: all of them);
    when that change is not significant (a bracketing curvature within 2 errors of 0), the RMS
    distance to the other such changes in the same direction, between the nearest significant
    curvatures around it, is added in quadrature (attribute ``ambiguity_error``, carried over
    to ``delta``). A value whose mean reaches 0 inside the window (absorbed) counts as a
    significant negative curvature in that choice; a zero next to it is placed with the
    curvature of its times before death, and when it died before the window and has none,
    the critical value is the bracket's midpoint with the bracket's resolution as error
    (``zero_fit = "midpoint"``) and ``delta`` is NaN, explained in the ``not_measured``
    attribute.

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
    c, control, x = _fits.control_curves(obj, var, control, dim, sample_dim)
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
            window = excess(dx)
            xc_err = float(np.hypot(xc_err, window))
            d_err = float(np.hypot(d_err, excess(dd)))
    key = f"{control}_c"
    cv, ce, dv, de = est["cv"], est["ce"], est["dv"], est["de"]
    extra = {}
    if est["absorbed"]:
        extra["not_measured"] = (f"delta: the sign change lies next to a value absorbed before "
                                 f"the window ({control} = {est['xs'][0]:g} or "
                                 f"{est['xs'][-1]:g}): {key} is the bracket's midpoint")
    ds = xr.Dataset(
        {key: ((), xc_reps[0]), f"{key}_error": ((), xc_err),
         "delta": ((), d_reps[0]), "delta_error": ((), d_err),
         "curvature": ((control,), cv), "curvature_error": ((control,), ce),
         "delta_window": ((control,), dv), "delta_window_error": ((control,), de)},
        coords={control: (control, x)},
        attrs={"var": c.name, "control": control, "t_min": lo, "t_max": hi,
               "n_fit": n_fit, "fit_values": [float(v) for v in est["xs"]],
               "zero_fit": ("midpoint" if est["absorbed"] else
                            "secant" if len(est["xs"]) == 2 else
                            "line" if est["deg"] == 1 else "quadratic"),
               "resolution_error": est["resolution"], "window_error": window,
               "ambiguity_error": est["ambiguity"],
               "crossings": [float(v) for v in sorted(est["cross"].values())],
               "method": "zero of the late-time curvature of ln rho vs ln t", **extra})
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
    c, control, x = _fits.control_curves(obj, var, control, dim, sample_dim)
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


def zero_replicates(obj, control, var="rho", t_min=None, t_max=None, n_fit=2, dim="t",
                    sample_dim="batch"):
    """Zero of the late-time curvature on the full data and on every leave-one-batch-out mean.

    The estimate of :func:`critical_point` without its window check (row 0: all batches), for
    paired comparisons: the difference of two such arrays on the same batches has the
    jackknife error of the difference (see :func:`excess`).
    """
    c, control, x = _fits.control_curves(obj, var, control, dim, sample_dim)
    m, lo, hi = window_mask(c.t, t_min, t_max, min_points=4)
    return _critical_estimate(c, control, x, m, lo, hi, int(n_fit))["xc_reps"]


def excess(diff_reps):
    """Systematic part of a paired shift: ``sqrt(max(0, shift^2 - err^2))``.

    ``diff_reps``: the shift on the full data (row 0) and on the jackknife replicates, so
    ``err`` is the jackknife error of the paired difference; pure noise adds nothing.
    """
    shift = float(diff_reps[0])
    err = float(_core.jackknife_error(diff_reps))
    if not np.isfinite(shift):
        return 0.0
    if not np.isfinite(err):  # no error for the difference: the whole shift counts
        return abs(shift)
    return float(np.sqrt(max(0.0, shift * shift - err * err)))


def _curvature_rows(c, m):
    """Replicate means in the window ``m``, the curvature and the window exponent.

    The curvature is ``d^2 ln y / d (ln t)^2`` of a quadratic fit (every decade weighted
    equally), the window exponent ``-d ln y / d ln t`` of a straight line.
    """
    reps = _fits.replicates(c, m)
    lnt = np.log(c.t[m])
    lny = safe_log(reps)
    quad = _core.polyfit_rows(lnt - lnt.mean(), lny, _core.log_weights(lnt), 2)
    return reps, 2.0 * quad[..., 2], -_fits.fit_lines(lnt, lny)[0]


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
        batches; NaN where the mean reaches 0 inside the window), the window exponent
        ``delta_window`` (``-d ln rho / d ln t`` of a straight line over the window, the value
        :func:`critical_point` reads ``delta`` from) with ``delta_window_error``, and
        ``positive`` (whether
        the mean stays above 0 throughout the window: a curve absorbed inside it bends
        down). Attributes ``t_min``, ``t_max``.
    """
    c, control, x = _fits.control_curves(obj, var, control, dim, sample_dim)
    m, lo, hi = window_mask(c.t, t_min, t_max, min_points=4)
    reps, curv, dwin = _curvature_rows(c, m)
    with np.errstate(invalid="ignore"):
        positive = np.all(reps[0] > 0, axis=-1)
    err = _core.jackknife_error(curv)
    cv = np.where(positive, curv[0], np.nan)
    dv = np.where(positive, dwin[0], np.nan)
    de = np.where(positive, _core.jackknife_error(dwin), np.nan)
    return xr.Dataset(
        {"curvature": ((control,), cv, {"long_name": "late-time curvature of ln rho vs ln t",
                                        "units": "1"}),
         "curvature_error": ((control,), np.where(positive, err, np.nan), {"units": "1"}),
         "delta_window": ((control,), dv, {"long_name": "-d ln rho / d ln t over the window",
                                           "units": "1"}),
         "delta_window_error": ((control,), de, {"units": "1"}),
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
    reps, curv, dwin = _curvature_rows(c, m)
    require_positive(reps[0], c.name)
    cv, ce = curv[0], _core.jackknife_error(curv)
    dv, de = dwin[0], _core.jackknife_error(dwin)
    with np.errstate(invalid="ignore"):
        # the mean reaches 0 inside the window: absorbed, certainly on the absorbing side (its
        # curvature, where the times before its death give one, is not a late-time one: it
        # places a zero next to it, but does not measure how strongly it bends)
        dead = ~np.all(reps[0] > 0, axis=-1)
    good = np.isfinite(cv) & np.isfinite(ce)
    if (good & ~dead).sum() < 1 or (good | dead).sum() < 2:
        raise ValueError(f"{c.name}: fewer than 2 control values with a usable late-time "
                         f"curvature in [{lo:g}, {hi:g}]")
    if np.all(_fits.no_spread(cv[good], ce[good])):
        raise ValueError(f"{c.name}: every batch gives the same curve in t = [{lo:g}, {hi:g}] "
                         "at every control value (no spread, e.g. constant data such as a "
                         "survival of 1 throughout): no critical point can be measured")
    cross = {}
    ambiguity = 0.0
    if near is None:
        # values with a curvature, and absorbed values (bending down, significantly)
        use = np.nonzero(good | dead)[0]
        xi = x[use]
        ci = np.where(dead[use], -1.0, cv[use])
        sgn = np.sign(ci)
        change = np.nonzero(sgn[:-1] * sgn[1:] <= 0)[0]
        if change.size == 0:
            phase = "absorbing (curves bend down)" if ci[0] < 0 else "active (curves bend up)"
            raise ValueError(f"control: no sign change of the late-time curvature in "
                             f"{control} in [{xi[0]:g}, {xi[-1]:g}]: every value looks {phase}; "
                             f"extend the sweep")
        for i in change:
            if not good[use[i]] or not good[use[i + 1]]:
                # an absorbed value without a curvature: the zero cannot be interpolated
                cross[int(i)] = 0.5 * (xi[i] + xi[i + 1])
                continue
            # the secant (an absorbed value with the curvature of its times before death
            # need not have the opposite sign: kept inside the bracket)
            c0, c1 = cv[use[i]], cv[use[i + 1]]
            z0 = xi[i] if c1 == c0 else xi[i] - c0 * (xi[i + 1] - xi[i]) / (c1 - c0)
            cross[int(i)] = float(np.clip(z0, xi[i], xi[i + 1]))
        # Deep in the active phase the curvature decays back to ~0 and noise can flip its sign:
        # keep the crossings from bending down (absorbing side: the lower late-time rho) to
        # bending up, and among them take the best step: the split with the most significant
        # negative curvature (absorbed values count as the most significant) on the absorbing
        # side and positive on the active side.
        with np.errstate(invalid="ignore"):
            late = np.where(dead[use], 0.0, np.nanmean(reps[0][use], axis=-1))
        orient = -1.0 if late[-1] < late[0] else 1.0
        with np.errstate(invalid="ignore"):
            z = np.where(dead[use], -10.0,
                         np.clip(ci / np.maximum(ce[use], 1e-300), -10.0, 10.0))
        cand = [i for i in cross if orient * ci[i] < 0.0 <= orient * ci[i + 1]] or list(cross)
        score = {i: float(orient * (z[i + 1:].sum() - z[:i + 1].sum())) for i in cand}
        mid = max(cand, key=lambda i: (score[i], -i))
        x0 = float(cross[mid])
        # A change of sign that is not significant on both sides is no better placed than
        # any other such change in the same direction, unless the values between the two
        # are jointly significant on the side that rules the other one out (beyond a run of
        # clearly positive curvatures the phase is settled: changes there are noise): count
        # the distance to those.
        def rivals(i):
            a, b = min(i, mid) + 1, max(i, mid) + 1
            run = float(orient * z[a:b].sum() / np.sqrt(b - a)) * (1 if i > mid else -1)
            return run < 2.0

        weak = [i for i in cand if min(abs(z[i]), abs(z[i + 1])) < 2.0
                and (i == mid or rivals(i))]
        if mid in weak and len(weak) > 1:
            ambiguity = float(np.sqrt(np.mean([(cross[i] - x0) ** 2 for i in weak])))
        if n_fit == 2 or not good[use[[mid, mid + 1]]].all():
            near = use[[mid, mid + 1]]   # the bracketing values
        else:
            gi = np.nonzero(good)[0]
            near = np.sort(gi[np.argsort(np.abs(x[gi] - x0), kind="stable")[:n_fit]])
    if not good[near].all():
        # The sign change lies next to a value absorbed before the window gives it a
        # curvature: the critical value is the bracket's midpoint, placed to its width
        # (uniform: step / sqrt(12)); delta is not measured there (no window exponent).
        xs = x[near]
        resolution = float(np.ptp(xs)) / np.sqrt(12.0)
        xc_reps = np.full(reps.shape[0], 0.5 * (xs[0] + xs[-1]))
        return {"xc_reps": xc_reps, "d_reps": np.full(reps.shape[0], np.nan),
                "xc_err": float(np.hypot(resolution, ambiguity)), "d_err": np.nan,
                "cv": cv, "ce": ce, "dv": dv, "de": de, "xs": xs, "cross": cross,
                "resolution": resolution, "ambiguity": ambiguity, "near": near, "deg": 1,
                "absorbed": True}
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
            "resolution": resolution, "ambiguity": ambiguity, "near": near, "deg": deg,
            "absorbed": False}

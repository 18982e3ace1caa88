"""Off-critical exponents from sweeps away from the critical point.

The stationary density and ``beta`` (with corrections to scaling and their model systematic),
the relaxation time and ``nu_par``.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from . import _core, _fits
from ._data import (
    curves,
    safe_log,
)
from ._estimate import critical_value


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
    reps = _fits.replicates(c, m)
    if not np.any(np.isfinite(reps[0])):
        raise ValueError(f"{c.name}: every value is NaN in the averaging window")
    avg = _nanmean_last(reps)
    return _fits.result_dataset({"rho_s": avg[0]}, {"rho_s": _core.jackknife_error(avg)}, c,
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
_OMEGAS = (0.5, 0.75, 1.0, 1.25, 1.5)


def fit_beta(obj, critical, control=None, var="rho", t_min=None, delta_min=None,
             delta_max=None, stationary_tol=0.05, correction=None, dim="t",
             sample_dim="batch"):
    r"""Order-parameter exponent from the stationary density, ``rho_s = A Delta^beta``.

    .. math:: \rho_s = A\, \Delta^{\beta}\, e^{c \Delta^{\omega}}

    At the distances a simulation can afford the effective exponent still drifts with
    ``Delta`` (1+1 DP: 0.254 at ``Delta`` = 2-4 %, against 0.2765): with four or more
    stationary points the fit includes the correction ``exp(c Delta^omega)`` (to first order
    ``1 + c Delta^omega``) with ``omega = 1`` (analytic corrections), and half the spread of
    ``beta`` over the ``omega`` in [0.5, 1.5] that the data do not reject (chi-square within
    1 of the best ``omega``, the profile interval of one nuisance parameter; ``omega = 1``
    always counts) is a model systematic (``beta_model_syst``). Points over a wide range of
    ``Delta`` let the data pin ``omega`` down and shrink it.
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
    win = _fits.replicates(c, m)
    reps = _nanmean_last(win)
    err = _core.jackknife_error(reps)
    if m.sum() >= 2:  # keep only stationary curves: flat ln rho vs ln t in the window
        sl, _ = _fits.fit_lines(np.log(c.t[m]), safe_log(win))
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
        fits.setdefault((xcv, omega), chi2)
        return s_, amp_

    s, amp, beta_err = _fit_shifted(run, xc)
    chi2, dof = fits[xc.value]
    attrs = {"correction": int(bool(correction)), "chi2": chi2, "dof": dof}
    if np.isfinite(chi2) and dof > 0 and chi2 / dof > 1:
        # lack of fit beyond the errors of rho_s: scale like a reduced chi-square (PDG rule)
        beta_err *= math.sqrt(chi2 / dof)
    model = 0.0
    if correction:
        # the correction exponent is not known: the spread of beta over the omegas in
        # [0.5, 1.5] that the data do not reject (chi-square within 1 of the best one, the
        # profile interval of one nuisance parameter); the central omega = 1 always counts
        alt = {om: float(run(xc.value, om)[0][0]) for om in _OMEGAS}
        c2 = {om: fits[(xc.value, om)] for om in _OMEGAS}
        best = min((v for v in c2.values() if np.isfinite(v)), default=np.nan)
        kept = [b for om, b in alt.items()
                if om == 1.0 or not np.isfinite(best) or not (c2[om] > best + 1.0)]
        model = 0.5 * (max(kept) - min(kept))
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
    c, control, x = _fits.control_curves(obj, var, control, dim, sample_dim)
    xc = critical_value(critical, control)
    delta_min = 3 * xc.error if delta_min is None else float(delta_min)
    return c, control, x, xc, delta_min


def _tau_reps(c, decay, positive=False):
    """Replicas of ``tau = int t y dt / int y dt``, NaN where a curve has not relaxed.

    Not relaxed: see :func:`_relaxed`; with ``positive``, also ``int y dt <= 0``.
    """
    reps = _fits.replicates(c)
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
    return _fits.result_dataset({"tau": tau[0]}, {"tau": _core.jackknife_error(tau)}, c,
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

"""Exponents from runs at one control value.

Local slopes and effective exponents, power-law fits with the window systematic, seed spreading
(``delta'``, ``theta``, ``z``), the metric factor ``kappa`` and the width cost.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from . import _core, _fits
from ._data import (
    curves,
    require_positive,
    safe_log,
    split_curves,
    window_mask,
)
from ._estimate import as_estimate


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
    reps = _fits.replicates(c, pos)
    require_positive(reps[0], c.name, "at t > 0")
    lnt = np.log(c.t[pos])
    keep, s = _core.local_slope(lnt, safe_log(reps), b)
    if not keep.any():
        raise ValueError(f"b={b:g} is larger than the time range t_last/t_first="
                         f"{c.t[pos][-1] / c.t[pos][0]:g}")
    val, err = s[0], _core.jackknife_error(s)
    if not np.any(np.isfinite(val)):
        raise ValueError(f"{c.name}: no finite local slope (zero or NaN at every time)")
    return _fits.result_dataset({"slope": val}, {"slope": err}, c,
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
    reps = _fits.replicates(c, m)
    require_positive(reps[0], c.name)
    lnt, lny = np.log(c.t[m]), safe_log(reps)
    slope, lnA = _fits.fit_lines(lnt, lny)
    vals = {"delta": -slope, "amplitude": np.exp(lnA)}
    attrs = {"var": c.name, "t_min": lo, "t_max": hi, "correction": int(npar > 2)}
    if npar > 2:
        om = None if omega is None else float(omega)
        if om is not None and not (om > 0):
            raise ValueError(f"omega must be > 0, got {om}")
        flat = lny.reshape(-1, lny.shape[-1])
        p0 = np.stack([lnA.ravel(), -slope.ravel(), np.zeros(flat.shape[0]),
                       np.full(flat.shape[0], 1.0 if om is None else om)], axis=1)
        q = np.array([_fits.corrected_fit(lnt, flat[i], p0[i], om) for i in range(flat.shape[0])])
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
        syst = _fits.window_drift(lnt, lny)
        errors["delta"] = np.hypot(errors["delta"], syst)
    notes = []
    flat = _fits.drop_unmeasured(values, errors, "delta", f"the slope of ln {c.name}", notes)
    if not np.any(np.isfinite(values["delta"])):
        if np.all(flat):
            raise ValueError(f"{c.name}: every batch gives the same fit in t = [{lo:g}, "
                             f"{hi:g}] (no spread, e.g. constant data): delta has no error bar "
                             "and is not measured")
        raise ValueError(f"{c.name}: the power-law fit failed (too few positive values "
                         f"in [{lo:g}, {hi:g}])")
    if notes:
        attrs["not_measured"] = "; ".join(notes)
    out = _fits.result_dataset(values, errors, c, attrs)
    if syst is not None:
        out["delta_window_syst"] = (c.extra_dims, np.where(np.isfinite(values["delta"]), syst,
                                                           np.nan))
    return out


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
        ``delta_prime``, ``theta`` and, with ``r2``, ``z`` with ``*_error``, and each one's
        ``*_window_syst`` (the window part of its error, as ``delta_window_syst`` of
        :func:`fit_power_law`). An exponent
        whose fit is the same in every batch (e.g. ``survival`` 1 throughout: nothing dies)
        has no error bar and is not measured: NaN, explained in the ``not_measured``
        attribute. Where no seed run died at any time, ``theta`` and ``z`` are not measured
        either: a perturbation that never reaches the absorbing state (e.g. two replicas of a
        network that never resynchronise exactly) spreads by rules of its own (its light cone,
        a threshold on activity), not by the critical spreading the catalog describes.
    """
    if not isinstance(obj, xr.Dataset):
        raise TypeError("spreading needs a Dataset with survival and n_active")
    for v in ("survival", "n_active"):
        if v not in obj:
            raise ValueError(f"spreading: dataset has no {v!r} (seed runs record survival, "
                             "n_active and r2)")
    vals, errs, syst, notes = {}, {}, {}, []
    cs = curves(obj, "survival", dim, sample_dim)
    m, lo, hi = window_mask(cs.t, t_min, t_max, min_points=3)
    for v, key, sign in (("survival", "delta_prime", -1.0), ("n_active", "theta", 1.0)):
        c = curves(obj, v, dim, sample_dim)
        reps = _fits.replicates(c, m)
        require_positive(reps[0], v)
        s, _ = _fits.fit_lines(np.log(c.t[m]), safe_log(reps))
        drift = _fits.window_drift(np.log(c.t[m]), safe_log(reps))
        one = {key: sign * s[0]}, {key: np.hypot(_core.jackknife_error(sign * s), drift)}
        _fits.drop_unmeasured(*one, key, f"the slope of ln {v}", notes)
        vals[key], errs[key], syst[key] = one[0][key], one[1][key], drift
    with np.errstate(invalid="ignore"):
        immortal = np.all(np.nan_to_num(cs.values, nan=1.0) >= 1.0, axis=(0, -1))
    if immortal.any():
        vals["theta"] = np.where(immortal, np.nan, vals["theta"])
        errs["theta"] = np.where(immortal, np.nan, errs["theta"])
        where = "" if immortal.ndim == 0 else f" at {int(immortal.sum())} of {immortal.size} points"
        notes.append(f"theta and z not measured{where}: no seed run died at any time "
                     "(survival 1 throughout), so the perturbation never reaches the absorbing "
                     "state and its spread is not critical spreading")
    if "r2" in obj:
        c = curves(obj, "r2", dim, sample_dim)
        na = curves(obj, "n_active", dim, sample_dim).values[..., m]
        w = c.weights.reshape((-1,) + (1,) * (na.ndim - 1)) * np.nan_to_num(na)
        reps = _core.replicate_means(c.values[..., m], w)
        require_positive(reps[0], "r2")
        s, _ = _fits.fit_lines(np.log(c.t[m]), safe_log(reps))
        with np.errstate(invalid="ignore", divide="ignore"):
            z = 2.0 / s
        drift = _fits.window_drift(np.log(c.t[m]), safe_log(reps), lambda x: 2.0 / x)
        one = {"z": z[0]}, {"z": np.hypot(_core.jackknife_error(z), drift)}
        _fits.drop_unmeasured(*one, "z", "the slope of ln r2", notes,
                         flat=_fits.no_spread(s[0], _core.jackknife_error(s)))
        vals["z"] = np.where(immortal, np.nan, one[0]["z"])
        errs["z"] = np.where(immortal, np.nan, one[1]["z"])
        syst["z"] = drift
    attrs = {"t_min": lo, "t_max": hi}
    if notes:
        attrs["not_measured"] = "; ".join(notes)
    out = _fits.result_dataset(vals, errs, cs, attrs)
    for k, v in syst.items():
        out[f"{k}_window_syst"] = (cs.extra_dims,
                                   np.where(np.isfinite(vals[k]), v, np.nan))
    return out


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
    reps = _fits.replicates(c, m)
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
    _fits.drop_unmeasured(values, errors, "kappa", c.name, notes,
                     flat=_fits.no_spread(k[0], err))
    attrs = {"var": c.name, "t_min": lo, "t_max": hi, "delta": delta,
             "correction": int(bool(correction))}
    if notes:
        attrs["not_measured"] = "; ".join(notes)
    out = _fits.result_dataset(values, errors, c, attrs)
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

"""Automatic data collapse (finite-size and off-critical scaling) with bootstrap errors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import _core
from ._data import check_dims, check_values, get_var
from ._exponents import critical_value

#: Largest number of bootstrap resamples of a collapse (memory and time grow linearly).
N_BOOT_MAX = 100_000


@dataclass
class _Curve:
    label: float
    t: np.ndarray          # times in the window, (n,)
    values: np.ndarray     # batch values, (nb, n)
    weights: np.ndarray    # (nb,)


def _split(obj, var, curve_dim, dim, sample_dim):
    """Return the list of curves of ``obj`` along ``curve_dim`` (or ``obj`` as one curve)."""
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
        out.append(_Curve(float(lab), t[keep], v[:, keep], w))
    return out


def _gather(data, var, curve_dim, dim, sample_dim):
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("data: empty list of curves")
        curves = [c for d in data for c in _split(d, var, curve_dim, dim, sample_dim)]
    else:
        curves = _split(data, var, curve_dim, dim, sample_dim)
    if not any(c.values.size for c in curves):
        raise ValueError(f"{var}: no finite data (every value is NaN)")
    labels = [c.label for c in curves]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{curve_dim}: duplicate values {sorted(labels)} (mismatched "
                         "curves)")
    if len(curves) < 2:
        raise ValueError(f"{curve_dim}: need at least 2 curves for a collapse, got "
                         f"{len(curves)}")
    return sorted(curves, key=lambda c: c.label)


def _prepare(curves, t_min, t_max):
    """Window, batch means and log errors, padded to (K, n)."""
    K = len(curves)
    sel = []
    for c in curves:
        m = (c.t > 0)
        if t_min is not None:
            m &= c.t >= t_min
        if t_max is not None:
            m &= c.t <= t_max
        sel.append(m)
    n = max(int(m.sum()) for m in sel)
    if n < 2:
        raise ValueError("t_min/t_max: fewer than 2 times of any curve in the window")
    lnT = np.full((K, n), np.nan)
    lnY = np.full((K, n), np.nan)
    dlnY = np.full((K, n), np.nan)
    for k, (c, m) in enumerate(zip(curves, sel)):
        v = c.values[:, m]
        reps = _core.replicate_means(v, c.weights[:, None])
        y, e = reps[0], _core.jackknife_error(reps)
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.isfinite(y) & (y > 0) & np.isfinite(e) & (e > 0)
            nk = v.shape[1]
            lnT[k, :nk] = np.log(c.t[m])
            lnY[k, :nk] = np.where(ok, np.log(np.where(ok, y, 1.0)), np.nan)
            dlnY[k, :nk] = np.where(ok, e / np.where(ok, y, 1.0), np.nan)
    good = np.isfinite(lnY).sum(axis=1)
    if np.sum(good >= 2) < 2:
        raise ValueError("data: fewer than 2 curves with positive values in the window "
                         "(everything absorbed, all zero or NaN)")
    return lnT, lnY, dlnY, sel


class _Form:
    """Transformation of (ln t, ln y) to the scaled axes for a parameter vector."""

    def __init__(self, form, labels, lnT, critical=None, free_critical=True):
        self.form = form
        self.lnT = lnT
        self.T = np.exp(lnT)
        self.labels = np.asarray(labels, dtype=np.float64)
        if form == "size":
            if np.any(self.labels <= 0):
                raise ValueError("size: sizes must be positive")
            self.lnS = np.log(self.labels)[:, None]
            self.names = ("a", "b")
        else:
            self.xc0 = critical
            self.free = free_critical
            self.names = ("x_c", "delta", "nu_par") if free_critical else ("delta", "nu_par")

    def apply(self, q, lnY):
        if self.form == "size":
            a, b = q
            if not (b > 0):
                return None, None
            return self.lnT - b * self.lnS, lnY + a * self.lnS
        if self.free:
            xc, d, nu = q
        else:
            (d, nu), xc = q, self.xc0
        if not (nu > 0.05):
            return None, None
        X = (self.labels[:, None] - xc) * np.exp(self.lnT / nu)
        return X, lnY + d * self.lnT


def _objective(form, lnY, dlnY, min_overlap):
    def f(q):
        X, Y = form.apply(q, lnY)
        if X is None:
            return 1e300
        s = _core.hh_quality(X, Y, dlnY, min_overlap)
        return s if np.isfinite(s) else 1e300
    return f


def _minimise(f, starts, rel_step=0.05, every=False):
    """Run Nelder-Mead from each start; return the best result (``every``: all, best first)."""
    from scipy.optimize import minimize

    res = []
    for s in starts:
        s = np.asarray(s, dtype=np.float64)
        step = np.maximum(np.abs(s) * rel_step, 0.01)
        simplex = np.vstack([s] + [s + np.eye(s.size)[i] * step[i] for i in range(s.size)])
        res.append(minimize(f, s, method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": 1e-4,
                                     "fatol": 1e-4, "maxiter": 200 * s.size}))
    res.sort(key=lambda r: r.fun)
    return res if every else res[0]


def _distinct_minima(results, tol=0.05):
    """Return the finite minima of ``results`` (best first) more than ``tol`` apart."""
    kept = []
    for r in results:
        if not (np.isfinite(r.fun) and r.fun < 1e300):
            continue
        if all(np.max(np.abs(r.x - k.x) / np.maximum(np.abs(k.x), 1.0)) > tol for k in kept):
            kept.append(r)
    return kept


def _initial_grid(form, lnY, dlnY, min_overlap, x0, n_starts):
    """Coarse scan for starting points (1-d in the time exponent, the other tied to it)."""
    f = _objective(form, lnY, dlnY, min_overlap)
    if x0 is not None:
        x0 = np.atleast_2d(np.asarray(x0, dtype=np.float64))
        if x0.shape[1] != len(form.names):
            raise ValueError(f"x0: give starting values for {form.names}")
        return list(x0), f
    # decay exponent of the curve with the longest scaling range
    k = int(np.argmax(np.isfinite(lnY).sum(axis=1)))
    ok = np.isfinite(lnY[k])
    n = ok.sum()
    x, y = form.lnT[k][ok][: max(2, n // 2)], lnY[k][ok][: max(2, n // 2)]
    d0 = float(-np.polyfit(x, y, 1)[0]) if x.size >= 2 else 0.5
    cands = []
    if form.form == "size":
        for b in np.geomspace(0.2, 5.0, 31):
            q = (max(d0, 1e-3) * b, b)
            cands.append((f(q), q))
    else:
        for nu in np.geomspace(0.3, 6.0, 31):
            q = ((form.xc0, d0, nu) if form.free else (d0, nu))
            cands.append((f(q), q))
    # starts: the local minima of the scan profile, best first (then the best other points):
    # the n best scan points often sit in one basin, e.g. the trivial collapse of the pure
    # decay (a = delta b at large b), and would hide a better minimum elsewhere
    vals = np.array([c[0] for c in cands])
    local = [i for i in range(len(vals))
             if (i == 0 or vals[i] <= vals[i - 1]) and (i == len(vals) - 1
                                                         or vals[i] <= vals[i + 1])]
    order = sorted(local, key=lambda i: vals[i])
    order += [i for i in np.argsort(vals, kind="stable") if i not in order]
    starts = [np.array(cands[i][1]) for i in order[:n_starts] if vals[i] < 1e300]
    if not starts:
        raise ValueError("collapse: no overlap of the curves for any trial exponent; check "
                         "that the curves belong to one scaling family (or give x0)")
    return starts, f


def _mu(form, q, lnY, frac=0.5):
    """Metric factors of the master curve: amplitude A and half-point mu (size form)."""
    a, b = q
    X, Y = form.apply(q, lnY)
    ok = np.isfinite(X) & np.isfinite(Y)
    if ok.sum() < 10:
        return np.nan, np.nan
    x, y = X[ok], Y[ok]
    g = y + (a / b) * x            # ln of F(X) X^(a/b): flat at small X, drops at the cutoff
    order = np.argsort(x)
    x, g = x[order], g[order]
    nb = 60
    edges = np.linspace(x[0], x[-1] + 1e-12, nb + 1)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, nb - 1)
    cnt = np.bincount(idx, minlength=nb)
    gm = np.bincount(idx, weights=g, minlength=nb) / np.maximum(cnt, 1)
    xm = np.bincount(idx, weights=x, minlength=nb) / np.maximum(cnt, 1)
    has = cnt > 0
    xm, gm = xm[has], gm[has]
    n0 = max(1, int(0.2 * xm.size))
    lnA = float(np.mean(gm[:n0]))
    target = lnA + math.log(frac)
    below = np.nonzero(gm < target)[0]
    with np.errstate(over="ignore"):  # an amplitude beyond float range is inf, not an error
        if below.size == 0 or below[0] == 0:
            return float(np.exp(lnA)), np.nan
        j = below[0]
        x1, x2, g1, g2 = xm[j - 1], xm[j], gm[j - 1], gm[j]
        xs = x1 + (target - g1) * (x2 - x1) / (g2 - g1)
        return float(np.exp(lnA)), float(np.exp(xs))


def collapse(data, var="rho", form="size", size_dim=None, control=None, critical=None,
             free_critical=True, t_min=None, t_max=None, x0=None, n_starts=3, n_boot=100,
             seed=0, min_overlap=0.3, dim="t", sample_dim="batch"):
    r"""Automatic data collapse with a Houdayer–Hartmann quality and bootstrap errors.

    ``form="size"`` (finite-size scaling at criticality, size ``S`` = ``L``, ``N`` or the
    width of a network):

    .. math:: \rho(t, S) = S^{-a} F(t / S^{b})

    (``a = beta/nu_perp = delta z``, ``b = z`` for the linear size of a lattice; ``a = b =
    1/2`` for ``N`` sites of a complete graph). Fitted on ``ln`` axes.

    ``form="control"`` (off-critical scaling, curves labelled by the control value ``x``):

    .. math:: \rho(t, \Delta) = t^{-\delta} G(\Delta\, t^{1/\nu_\parallel}),
              \quad \Delta = x - x_c

    The quality (:func:`absorbphys.analysis._core.hh_quality`) is minimised by Nelder–Mead
    from the ``n_starts`` best points of a coarse scan (or from ``x0``); errors are the
    standard deviation over ``n_boot`` bootstrap resamples of the batches of every curve
    (each refitted from every distinct local minimum of the first fit, keeping the best, so
    that a rival minimum of similar quality widens the errors; attribute ``local_minima``),
    multiplied by ``sqrt(quality)`` when the quality exceeds 1 (misfit beyond the error bars,
    as for a reduced chi-square; attribute ``error_scale``).
    Curves may have different time grids (a list of Datasets/DataArrays, or NaN padding).

    Parameters
    ----------
    data : xarray.Dataset, xarray.DataArray or list of them
        A sweep with the size (or control) dimension, or one run per curve each carrying a
        scalar coordinate of that name.
    var : str
        Variable.
    form : {"size", "control"}
        Scaling form.
    size_dim : str, optional
        Size dimension (default: the ``size_param`` attribute).
    control : str, optional
        Control dimension for ``form="control"`` (default: the ``control`` attribute).
    critical : Estimate, float or xarray.Dataset, optional
        Critical value (required for ``form="control"``: start value, or fixed).
    free_critical : bool
        Fit ``x_c`` too (``form="control"``).
    t_min, t_max : float, optional
        Time window (default: all positive times).
    x0 : array_like, optional
        Starting point(s) ``(a, b)`` or ``(x_c, delta, nu_par)``/``(delta, nu_par)``.
    n_starts : int
        Number of starts taken from the coarse scan.
    n_boot : int
        Bootstrap resamples, in [2, 100000].
    seed : int
        Seed of the bootstrap.
    min_overlap : float
        Fraction of points that must overlap other curves.
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    xarray.Dataset
        ``a``, ``b`` (size form; plus metric factors ``amplitude`` and ``mu``, the scaled
        time ``t / S^b`` where ``F(X) X^(a/b)`` has dropped to half its small-``X`` value,
        when the cutoff is reached) or ``delta``, ``nu_par`` (and ``{control}_c``) with
        ``*_error``; ``quality`` (about 1 for a collapse within errors) and the curve labels.
    """
    if form not in ("size", "control"):
        raise ValueError(f"form must be 'size' or 'control', got {form!r}")
    n_boot = int(n_boot)
    if n_boot < 2:
        raise ValueError(f"n_boot must be >= 2, got {n_boot}")
    if n_boot > N_BOOT_MAX:
        raise ValueError(f"n_boot must be an integer in [2, {N_BOOT_MAX}], got {n_boot}")
    first = data[0] if isinstance(data, (list, tuple)) and data else data
    attrs = getattr(first, "attrs", {})
    if form == "size":
        curve_dim = size_dim or attrs.get("size_param")
        if curve_dim is None:
            raise ValueError("size_dim: give the size dimension (e.g. size_dim='L')")
    else:
        curve_dim = control or attrs.get("control")
        if curve_dim is None:
            raise ValueError("control: give the control dimension (e.g. control='p')")
        if critical is None:
            raise ValueError("critical: form='control' needs the critical value (e.g. from "
                             "critical_point)")
    curves = _gather(data, var, curve_dim, dim, sample_dim)
    lnT, lnY, dlnY, sel = _prepare(curves, t_min, t_max)
    labels = [c.label for c in curves]
    xc = critical_value(critical, curve_dim).value if form == "control" else None
    fm = _Form(form, labels, lnT, xc, free_critical)
    starts, f = _initial_grid(fm, lnY, dlnY, min_overlap, x0, int(n_starts))
    minima = _distinct_minima(_minimise(f, starts, every=True))
    if not minima:
        raise ValueError("collapse: the optimiser found no overlapping collapse")
    best = minima[0]
    q0 = best.x
    # every bootstrap refit starts from each distinct local minimum and keeps the best, so
    # that a rival minimum of similar quality (e.g. on the line a = delta b of the size form
    # when the cutoff is weak) can show up in the errors instead of being hidden
    boot_starts = [m.x for m in minima]
    # bootstrap: resample the batches of every curve, refit from the best point
    rng = np.random.default_rng(seed)
    K, n = lnY.shape
    lnYb = np.full((n_boot, K, n), np.nan)
    for k, (c, m) in enumerate(zip(curves, sel)):
        v = c.values[:, m]
        nb = v.shape[0]
        counts = rng.multinomial(nb, np.full(nb, 1.0 / nb), size=n_boot).astype(np.float64)
        yb = _core.bootstrap_means(v, c.weights, counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            lnYb[:, k, : v.shape[1]] = np.where(yb > 0, np.log(np.where(yb > 0, yb, 1.0)),
                                                np.nan)
    lnYb = np.where(np.isfinite(lnY)[None], lnYb, np.nan)
    qb = np.full((n_boot, q0.size), np.nan)
    mub = np.full((n_boot, 2), np.nan)
    for i in range(n_boot):
        r = _minimise(_objective(fm, lnYb[i], dlnY, min_overlap), boot_starts, rel_step=0.02)
        if r.fun < 1e300:
            qb[i] = r.x
            if form == "size":
                mub[i] = _mu(fm, r.x, lnYb[i])
    # bootstrap errors are statistical only; a quality S > 1 (misfit beyond the errors)
    # scales them by sqrt(S), like a reduced chi-square
    scale = math.sqrt(max(1.0, float(best.fun)))
    err = np.nanstd(qb, axis=0, ddof=1) * scale
    names = list(fm.names)
    if form == "control":
        names = [f"{curve_dim}_c" if nm == "x_c" else nm for nm in names]
    out = {}
    for j, nm in enumerate(names):
        out[nm] = ((), float(q0[j]))
        out[f"{nm}_error"] = ((), float(err[j]))
    if form == "size":
        amp, mu = _mu(fm, q0, lnY)
        if np.isfinite(amp):
            out["amplitude"] = ((), amp)
            out["amplitude_error"] = ((), float(np.nanstd(mub[:, 0], ddof=1)) * scale)
        if np.isfinite(mu) and np.isfinite(mub[:, 1]).sum() >= 2:
            out["mu"] = ((), mu)
            out["mu_error"] = ((), float(np.nanstd(mub[:, 1], ddof=1)) * scale)
    out["quality"] = ((), float(best.fun))
    return xr.Dataset(out, coords={"curve": ("curve", np.asarray(labels))},
                      attrs={"form": form, "curve_dim": curve_dim, "var": str(var),
                             "n_boot": n_boot, "seed": int(seed), "error_scale": scale,
                             "critical": xc if xc is not None else np.nan,
                             "free_critical": int(bool(free_critical)),
                             "t_min": np.nan if t_min is None else float(t_min),
                             "t_max": np.nan if t_max is None else float(t_max),
                             "boot_failures": int(np.sum(~np.isfinite(qb[:, 0]))),
                             "local_minima": len(minima)})


def _check_result(result):
    """Return ``(form, curve_dim)`` of a :func:`collapse` result (one-line errors otherwise)."""
    if not isinstance(result, xr.Dataset):
        raise TypeError(f"result must be the Dataset returned by collapse(), got "
                        f"{type(result).__name__}")
    form, cdim = result.attrs.get("form"), result.attrs.get("curve_dim")
    need = ("a", "b") if form == "size" else ("delta", "nu_par")
    if form not in ("size", "control") or not isinstance(cdim, str) \
            or any(k not in result for k in need):
        raise ValueError("result: not a collapse() result (needs the attributes 'form' and "
                         "'curve_dim' and the fitted exponents)")
    return form, cdim


def scaled_curves(data, result, var="rho", dim="t", sample_dim="batch"):
    """Curves on the scaled axes of a collapse result (for plots and checks).

    Parameters
    ----------
    data : xarray.Dataset, xarray.DataArray or list of them
        The data given to :func:`collapse`.
    result : xarray.Dataset
        Its result.
    var : str
        Variable.
    dim, sample_dim : str
        Time and batch dimensions.

    Returns
    -------
    list of tuple
        ``(label, X, Y, dY)`` per curve (valid points only); ``Y`` is ``ln`` of the scaled
        variable and ``X`` is ``ln(t / S^b)`` (size form) or ``Delta t^(1/nu_par)`` (control
        form).
    """
    form, cdim = _check_result(result)
    curves = _gather(data, var, cdim, dim, sample_dim)
    tmin = result.attrs.get("t_min")
    tmax = result.attrs.get("t_max")
    tmin = None if tmin is None or not np.isfinite(tmin) else tmin
    tmax = None if tmax is None or not np.isfinite(tmax) else tmax
    lnT, lnY, dlnY, _ = _prepare(curves, tmin, tmax)
    labels = [c.label for c in curves]
    if form == "size":
        fm = _Form("size", labels, lnT)
        q = (float(result["a"]), float(result["b"]))
    else:
        key = f"{cdim}_c"
        free = bool(result.attrs.get("free_critical", 1)) and key in result
        xc = float(result[key]) if key in result else float(result.attrs["critical"])
        fm = _Form("control", labels, lnT, xc, free)
        q = ((xc,) if free else ()) + (float(result["delta"]), float(result["nu_par"]))
    X, Y = fm.apply(q, lnY)
    out = []
    for k in range(len(labels)):
        ok = np.isfinite(X[k]) & np.isfinite(Y[k])
        out.append((labels[k], X[k][ok], Y[k][ok], dlnY[k][ok]))
    return out

"""Automatic data collapse (finite-size and off-critical scaling) with bootstrap errors.

One file, past the ~600-line guide: the collapse quality, the automatic window scan and the
bootstrap refits are one estimator; each step refits with the others' settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from absorbphys._progress import Progress

from . import _core
from ._data import split_curves
from ._estimate import critical_value

#: Largest number of bootstrap resamples of a collapse (memory and time grow linearly).
N_BOOT_MAX = 100_000


def _gather(data, var, curve_dim, dim, sample_dim):
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("data: empty list of curves")
        curves = [c for d in data for c in split_curves(d, var, curve_dim, dim, sample_dim)]
    else:
        curves = split_curves(data, var, curve_dim, dim, sample_dim)
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


#: Times per decade that a collapse uses at most: denser times (e.g. every step of a run
#: recorded with ``times=None``) are thinned to the first time in each ``1 / _PER_DECADE``
#: decade, so that every decade weighs the same in the quality, as on the ``"log"`` grid of
#: :func:`absorbphys.simulate` (about 20 per decade, never thinned).
_PER_DECADE = 40


def _log_thinned(t):
    """Mask of the first positive time in each ``1 / _PER_DECADE`` decade of ``t``."""
    pos = t > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        bins = np.where(pos, np.floor(_PER_DECADE * np.log10(np.where(pos, t, 1.0)) + 1e-9),
                        np.nan)   # NaN != NaN: every non-positive time is its own bin
    first = np.ones(t.shape, dtype=bool)
    first[1:] = bins[1:] != bins[:-1]
    return pos & first


def _prepare(curves, t_min, t_max):
    """Window, batch means and log errors, padded to (K, n)."""
    K = len(curves)
    sel = []
    for c in curves:
        m = _log_thinned(np.asarray(c.t, dtype=np.float64))
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
    from scipy.optimize import minimize  # deferred: scipy.optimize is slow to import

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


#: Automatic window (``form="size"``, ``t_min=None``): at most this many candidate cut-offs,
#: on a geometric grid with a ratio of at least ``_SCAN_RATIO``.
_SCAN_MAX = 8
_SCAN_RATIO = 2.0
#: A candidate window keeps at least this many times of every curve, and every curve spans
#: at least a factor ``_SCAN_SPAN`` in time inside it.
_SCAN_MIN_POINTS = 5
_SCAN_SPAN = 4.0
#: Bootstrap resamples per candidate window of the automatic scan.
_SCAN_BOOT = 8
#: A window's quality is acceptable up to this factor times ``max(1, best quality)`` (or up
#: to three times the quality's noise ``sqrt(2 / points)`` above it, if more).
_SCAN_QUALITY = 1.25
#: Later windows must agree within this many combined standard errors.
_SCAN_K = 3.0
#: Quality above which the result carries a warning.
_QUALITY_WARN = 3.0


@dataclass
class _Window:
    """One fit window: its data on the log axes and the distinct minima of the quality."""

    t_min: float
    form: _Form
    lnY: np.ndarray
    dlnY: np.ndarray
    sel: list
    minima: list
    x0: object = None
    n_starts: int = 3

    @property
    def q(self):
        return self.minima[0].x

    @property
    def quality(self):
        return float(self.minima[0].fun)

    @property
    def scale(self):
        return math.sqrt(max(1.0, self.quality))

    def error(self, qb):
        """Return the standard deviation of the fits ``qb`` times ``sqrt(max(1, quality))``."""
        ok = np.isfinite(qb[:, 0])
        if ok.sum() < 2:
            return np.full(self.q.size, np.nan)
        return np.std(qb[ok], axis=0, ddof=1) * self.scale


def _fit_window(curves, t_min, t_max, form, labels, xc, free_critical, min_overlap, x0,
                n_starts, extra_starts=()):
    """Fit one window from the coarse-scan starts (plus ``extra_starts``)."""
    lnT, lnY, dlnY, sel = _prepare(curves, t_min, t_max)
    fm = _Form(form, labels, lnT, xc, free_critical)
    starts, f = _initial_grid(fm, lnY, dlnY, min_overlap, x0, int(n_starts))
    starts = list(starts) + [np.asarray(s, dtype=np.float64) for s in extra_starts]
    minima = _distinct_minima(_minimise(f, starts, every=True))
    if not minima:
        raise ValueError("collapse: the optimiser found no overlapping collapse")
    return _Window(np.nan if t_min is None else float(t_min), fm, lnY, dlnY, sel, minima,
                   x0, int(n_starts))


def _draw_counts(curves, n_boot, rng):
    """Bootstrap multiplicities of the batches of every curve, ``(n_boot, nb)`` each."""
    out = []
    for c in curves:
        nb = c.values.shape[0]
        out.append(rng.multinomial(nb, np.full(nb, 1.0 / nb), size=n_boot).astype(np.float64))
    return out


def _bootstrap(win, curves, counts, i0, i1, min_overlap, bar=None):
    """Refit the resamples ``i0:i1`` of ``counts`` in window ``win``.

    Every resample is fitted the way the data were: from the coarse scan of the resample (or
    ``x0``) and from every distinct local minimum of the first fit, keeping the best. A refit
    started only at the first fit's minimum stays near it (the quality is rough on the scale
    of the interpolation grid) and gave errors 3-4 times too small in calibration; a rival
    minimum of similar quality (e.g. on the line a = delta b of the size form when the cutoff
    is weak) shows up in the errors instead of being hidden.

    Returns the fits and the metric factors.
    """
    fm, lnY = win.form, win.lnY
    K, n = lnY.shape
    nr = i1 - i0
    lnYb = np.full((nr, K, n), np.nan)
    for k, (c, m) in enumerate(zip(curves, win.sel)):
        v = c.values[:, m]
        yb = _core.bootstrap_means(v, c.weights, counts[k][i0:i1])
        with np.errstate(invalid="ignore", divide="ignore"):
            lnYb[:, k, : v.shape[1]] = np.where(yb > 0, np.log(np.where(yb > 0, yb, 1.0)),
                                                np.nan)
    lnYb = np.where(np.isfinite(lnY)[None], lnYb, np.nan)
    qb = np.full((nr, win.q.size), np.nan)
    mub = np.full((nr, 2), np.nan)
    for i in range(nr):
        try:
            starts, f = _initial_grid(fm, lnYb[i], win.dlnY, min_overlap, win.x0,
                                      win.n_starts)
        except ValueError:  # no overlap at any scan point: the minima alone
            starts, f = [], _objective(fm, lnYb[i], win.dlnY, min_overlap)
        r = _minimise(f, [m.x for m in win.minima] + list(starts))
        if r.fun < 1e300:
            qb[i] = r.x
            if fm.form == "size":
                mub[i] = _mu(fm, r.x, lnYb[i])
        if bar is not None:
            bar.update(1)
    return qb, mub


def _scan_grid(curves, t_max):
    """Return the candidate lower cut-offs of the automatic window.

    A geometric grid from the curves' first positive time up to the largest cut-off that
    leaves every curve ``_SCAN_MIN_POINTS`` times spanning a factor ``_SCAN_SPAN``.
    """
    lo, hi = np.inf, np.inf
    for c in curves:
        t = c.t[(c.t > 0) & np.any(np.isfinite(c.values), axis=0)]
        if t_max is not None:
            t = t[t <= t_max]
        if t.size == 0:
            continue
        lo = min(lo, float(t[0]))
        hi = min(hi, float(t[-1]) / _SCAN_SPAN,
                 float(t[-_SCAN_MIN_POINTS]) if t.size >= _SCAN_MIN_POINTS else 0.0)
    if not (np.isfinite(lo) and hi > lo * _SCAN_RATIO):
        return [lo]
    n = int(min(_SCAN_MAX, math.floor(math.log(hi / lo) / math.log(_SCAN_RATIO)) + 1))
    ratio = max(_SCAN_RATIO, (hi / lo) ** (1.0 / max(n - 1, 1)))
    return [lo * ratio ** j for j in range(n) if lo * ratio ** j <= hi * (1 + 1e-12)]


def _choose_window(wins, curves, counts, min_overlap, n_scan):
    """Pick the earliest acceptable window whose fit agrees with every later acceptable one.

    Returns ``(index, later acceptable indices, scan errors by index, notes)``.
    """
    qual = np.array([w.quality for w in wins])
    npts = np.array([np.isfinite(w.lnY).sum() for w in wins])
    tol = np.maximum(_SCAN_QUALITY - 1.0, 3.0 * np.sqrt(2.0 / np.maximum(npts, 1)))
    accept = qual <= (1.0 + tol) * max(1.0, float(np.min(qual)))
    idx = [j for j in range(len(wins)) if accept[j]]
    # statistical errors of the candidates from a few resamples (the chosen window is
    # bootstrapped in full afterwards)
    errs = {j: wins[j].error(_bootstrap(wins[j], curves, counts, 0, n_scan, min_overlap)[0])
            for j in idx}
    notes = []
    chosen = idx[-1]
    for n_j, j in enumerate(idx):
        later = idx[n_j + 1:]
        ok = True
        for jj in later:
            d = np.abs(wins[j].q - wins[jj].q)
            tol = _SCAN_K * np.sqrt(errs[j] ** 2 + errs[jj] ** 2)
            if not np.all(np.isfinite(tol)) or np.any(d > tol):
                ok = False
                break
        if ok:
            chosen = j
            break
    later = [jj for jj in idx if jj > chosen]
    if not later and len(wins) > 1:
        notes.append(f"fit not stable under the t_min scan up to its last usable cut-off "
                     f"t_min = {wins[chosen].t_min:.4g} (a, b drift with t_min beyond their "
                     f"errors): corrections to scaling; consider larger sizes or longer runs")
    return chosen, later, errs, notes


def _window_error(win, later, errs, chosen):
    """Return the window systematic of the chosen window's parameters.

    The root-mean-square shift over the later stable windows, less the statistical part
    expected between nested windows (``sigma_later^2 - sigma_chosen^2``).
    """
    if not later:
        return np.zeros(win.q.size)
    e0 = errs[chosen]
    ex = []
    for jj, w in later:
        var = np.maximum(errs[jj] ** 2 - e0 ** 2, 0.0)
        ex.append(np.maximum((w.q - win.q) ** 2 - np.where(np.isfinite(var), var, 0.0), 0.0))
    return np.sqrt(np.mean(ex, axis=0))


def _degenerate_note(win, min_overlap):
    """Return one line if the size-form fit sits on the degenerate line ``a = delta_eff b``.

    That is, the quality hardly changes when ``(a, b)`` are halved or doubled together (any
    point of that line collapses a pure power-law decay); ``None`` otherwise.
    """
    q, s0 = win.q, win.quality
    f = _objective(win.form, win.lnY, win.dlnY, min_overlap)
    ray = min(f(0.5 * q), f(2.0 * q))
    if not (ray <= 1.25 * s0):
        return None
    a, b = q
    msg = (f"the fit sits on the degenerate line a = delta_eff b (a/b = {a / b:.3g}; halving or "
           f"doubling both changes the quality by < 25%): the cutoff is not resolved and the "
           f"collapse is the trivial one of the decay")
    others = [m.x[1] for m in win.minima[1:]]
    if others and b < 0.3 * min(others):
        msg += (f"; b = {b:.3g} is far below the other local minima (b = "
                f"{', '.join(f'{o:.3g}' for o in sorted(others))})")
    return msg + "; use a larger t_min or longer runs"


def collapse(data, var="rho", form="size", size_dim=None, control=None, critical=None,
             free_critical=True, t_min=None, t_max=None, x0=None, n_starts=3, n_boot=100,
             seed=0, min_overlap=0.3, dim="t", sample_dim="batch", progress=None):
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
    (each refitted as the data were, from its own coarse scan and from every distinct local
    minimum of the first fit, keeping the best, so that a rival minimum of similar quality
    widens the errors; attribute ``local_minima``),
    multiplied by ``sqrt(quality)`` when the quality exceeds 1 (misfit beyond the error bars,
    as for a reduced chi-square; attribute ``error_scale``).
    Curves may have different time grids (a list of Datasets/DataArrays, or NaN padding).

    Scaling window (``form="size"``, ``t_min=None``): the first times of a run are often a
    non-universal transient that every size shares, and a free collapse that includes them
    can settle in the trivial basin on the line ``a = delta_eff b`` (small ``a`` and ``b``:
    the curves are merely shifted onto their common early decay) with small error bars. So
    the window is chosen from the data: the collapse is fitted at up to 8 lower cut-offs on
    a geometric grid (ratio >= 2) from the curves' first positive time up to the largest
    cut-off that leaves every curve 5 times spanning a factor 4; a window's quality is
    acceptable within 25 % (or three times its noise ``sqrt(2 / points)``) of
    ``max(1, best quality)``; the chosen ``t_min`` is the earliest acceptable cut-off whose
    ``(a, b)`` agree with those of every later acceptable cut-off within three combined
    standard errors (from 8 bootstrap resamples each). The root-mean-square shift of
    ``(a, b)`` over those later cut-offs, less the statistical part expected between nested
    windows, is a window systematic (``a_window_error``, ``b_window_error``) added in
    quadrature to ``a_error``, ``b_error``. Only the chosen window is bootstrapped in full.
    An explicit ``t_min`` (or ``t_min="all"``) is used as given, without a scan.

    Time grid: the quality is an average over points, so every decade of time must carry the
    same weight, as on the ``"log"`` grid of :func:`absorbphys.simulate` (about 20 times per
    decade). Times recorded more densely (e.g. every step, ``times=None``) are thinned to the
    first time in each 1/40 of a decade; otherwise the last decade holds most points, and
    the late finite-size plateau, which does not fix ``b``, rules the fit (an MLP width
    sweep at every layer gave ``a = 0.73 +- 3.1``; the same runs on the log grid, or
    thinned, ``0.64 +- 0.21`` and ``0.67 +- 0.17``).

    The attribute ``warning`` is one line (empty if all is well) when the quality exceeds 3
    (the curves do not collapse within their errors: the errors are scaled, but the scaling
    form or window is in doubt), when the fit sits on the degenerate line ``a = delta_eff
    b`` (halving or doubling ``a`` and ``b`` together hardly changes the quality: the cutoff
    is not resolved), or when ``(a, b)`` keep drifting up to the last usable cut-off.

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
    t_min : float, None or "all"
        Lower end of the time window. ``None`` (default): chosen from the data for
        ``form="size"`` (see above; all positive times for ``form="control"``); ``"all"``:
        all positive times, without a scan (the behaviour of ``None`` before the automatic
        window).
    t_max : float, optional
        Upper end of the time window (default: the last time).
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
    progress : bool, optional
        Progress bar over the bootstrap refits (default: the ``progress`` option of
        :func:`absorbphys.set_options`).

    Returns
    -------
    xarray.Dataset
        ``a``, ``b`` (size form; plus metric factors ``amplitude`` and ``mu``, the scaled
        time ``t / S^b`` where ``F(X) X^(a/b)`` has dropped to half its small-``X`` value,
        when the cutoff is reached) or ``delta``, ``nu_par`` (and ``{control}_c``) with
        ``*_error``; ``quality`` (about 1 for a collapse within errors) and the curve labels.
        Attributes include ``t_min`` (the window used), ``t_min_auto`` (1 if chosen from
        the data), ``warning`` and, after a scan, ``scan_t_min``, ``scan_quality``,
        ``scan_a``, ``scan_b`` and ``scan_a_error``, ``scan_b_error`` (NaN for windows of
        unacceptable quality, whose errors were not estimated); the size form with an
        automatic window also has ``a_window_error`` and ``b_window_error``.
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
    labels = [c.label for c in curves]
    xc = critical_value(critical, curve_dim).value if form == "control" else None
    all_times = isinstance(t_min, str)
    if all_times and t_min != "all":
        raise ValueError(f"t_min must be a number, None (automatic) or 'all', got {t_min!r}")
    auto = form == "size" and t_min is None
    tm = None if (t_min is None or all_times) else float(t_min)
    rng = np.random.default_rng(seed)
    fit = dict(form=form, labels=labels, xc=xc, free_critical=free_critical,
               min_overlap=min_overlap, x0=x0, n_starts=n_starts)
    notes = []
    scan = None
    if not auto:
        win = _fit_window(curves, tm, t_max, **fit)
        counts = _draw_counts(curves, n_boot, rng)
        werr = np.zeros(win.q.size)
    else:
        # automatic window: fit (without bootstrap) at each candidate cut-off, each fit also
        # started from the previous window's minima; bootstrap the windows of acceptable
        # quality with the first resamples of the final bootstrap, then keep the earliest
        # one that the later cut-offs confirm
        wins, failed, seen = [], [], set()
        for c in _scan_grid(curves, t_max):
            key = tuple(int(np.sum(cv.t >= c)) for cv in curves)
            if key in seen:  # the same times as the previous cut-off
                continue
            seen.add(key)
            prev = [wins[-1].q] if wins else ()
            try:
                wins.append(_fit_window(curves, c, t_max, extra_starts=prev, **fit))
            except ValueError as exc:  # e.g. no overlap left at a late cut-off
                failed.append(exc)
        if not wins:
            raise failed[0]
        # the scan's resamples come from their own stream, so that the choice does not
        # depend on n_boot; the final bootstrap draws as with an explicit window
        scan_counts = _draw_counts(curves, _SCAN_BOOT, np.random.default_rng([int(seed), 1]))
        counts = _draw_counts(curves, n_boot, rng)
        j, later, errs, notes = _choose_window(wins, curves, scan_counts, min_overlap,
                                               _SCAN_BOOT)
        win = wins[j]
        werr = _window_error(win, [(jj, wins[jj]) for jj in later], errs, j)
        scan = wins, errs
        tm = win.t_min
    q0, minima = win.q, win.minima
    with Progress(total=n_boot, desc="collapse bootstrap", unit="refit",
                  enabled=progress) as bar:
        qb, mub = _bootstrap(win, curves, counts, 0, n_boot, min_overlap, bar=bar)
    if scan is not None:
        scan[1][j] = win.error(qb)
    best_fun = win.quality
    # bootstrap errors are statistical only; a quality S > 1 (misfit beyond the errors)
    # scales them by sqrt(S), like a reduced chi-square; the window systematic adds in
    # quadrature
    scale = win.scale
    stat = np.nanstd(qb, axis=0, ddof=1) * scale
    err = np.sqrt(stat ** 2 + werr ** 2)
    names = list(win.form.names)
    if form == "control":
        names = [f"{curve_dim}_c" if nm == "x_c" else nm for nm in names]
    out = {}
    for k, nm in enumerate(names):
        out[nm] = ((), float(q0[k]))
        out[f"{nm}_error"] = ((), float(err[k]))
        if auto:
            out[f"{nm}_window_error"] = ((), float(werr[k]))
    fm = win.form
    if form == "size":
        amp, mu = _mu(fm, q0, win.lnY)
        if np.isfinite(amp):
            out["amplitude"] = ((), amp)
            out["amplitude_error"] = ((), float(np.nanstd(mub[:, 0], ddof=1)) * scale)
        if np.isfinite(mu) and np.isfinite(mub[:, 1]).sum() >= 2:
            out["mu"] = ((), mu)
            out["mu_error"] = ((), float(np.nanstd(mub[:, 1], ddof=1)) * scale)
    out["quality"] = ((), float(best_fun))
    where = "all t > 0" if tm is None else f"t >= {tm:.4g}"
    if best_fun > _QUALITY_WARN:
        notes.insert(0, f"quality {best_fun:.3g} >> 1: the curves do not collapse within "
                        f"their errors in {where}; errors scaled by sqrt(quality) = "
                        f"{scale:.3g}; consider a larger t_min, more samples or another form")
    if form == "size":
        deg = _degenerate_note(win, min_overlap)
        if deg:
            notes.insert(0, deg)
    attrs = {"form": form, "curve_dim": curve_dim, "var": str(var),
             "n_boot": n_boot, "seed": int(seed), "error_scale": scale,
             "critical": xc if xc is not None else np.nan,
             "free_critical": int(bool(free_critical)),
             "t_min": np.nan if tm is None else float(tm),
             "t_min_auto": int(auto),
             "t_max": np.nan if t_max is None else float(t_max),
             "boot_failures": int(np.sum(~np.isfinite(qb[:, 0]))),
             "local_minima": len(minima),
             "warning": "; ".join(notes)}
    if scan is not None:
        wins, errs = scan
        attrs["scan_t_min"] = np.array([w.t_min for w in wins])
        attrs["scan_quality"] = np.array([w.quality for w in wins])
        for k, nm in enumerate(names):
            attrs[f"scan_{nm}"] = np.array([w.q[k] for w in wins])
            attrs[f"scan_{nm}_error"] = np.array([errs[jj][k] if jj in errs else np.nan
                                                  for jj in range(len(wins))])
    return xr.Dataset(out, coords={"curve": ("curve", np.asarray(labels))}, attrs=attrs)


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
    r"""Curves on the scaled axes of a collapse result (for plots and checks).

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
    xarray.Dataset
        Dims ``(curve_dim, "point")`` (the curve dimension is the size or control
        dimension of the collapse; curves shorter than the longest are NaN-padded):
        ``x`` — the scaled abscissa, :math:`t/S^b` (size form) or
        :math:`\Delta\, t^{1/\nu_\parallel}` (control form); ``y`` — the scaled
        variable, :math:`S^a\rho` or :math:`t^\delta\rho`; ``y_error`` — its standard
        error; ``t`` — the time of each point. Only the points of the collapse window.
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
    ok = [np.isfinite(X[k]) & np.isfinite(Y[k]) for k in range(len(labels))]
    n = max(int(m.sum()) for m in ok)
    out = {v: np.full((len(labels), n), np.nan) for v in ("x", "y", "y_error", "t")}
    for k, m in enumerate(ok):
        j = int(m.sum())
        y = np.exp(Y[k][m])
        out["x"][k, :j] = np.exp(X[k][m]) if form == "size" else X[k][m]
        out["y"][k, :j] = y
        out["y_error"][k, :j] = y * dlnY[k][m]
        out["t"][k, :j] = np.exp(lnT[k][m])
    xname = f"{dim} / {cdim}^b" if form == "size" else f"({cdim} - {cdim}_c) {dim}^(1/nu_par)"
    yname = f"{cdim}^a {var}" if form == "size" else f"{dim}^delta {var}"
    return xr.Dataset(
        {"x": ((cdim, "point"), out["x"], {"long_name": xname, "units": "1"}),
         "y": ((cdim, "point"), out["y"], {"long_name": yname, "units": "1"}),
         "y_error": ((cdim, "point"), out["y_error"],
                     {"long_name": f"standard error of {yname}", "units": "1"}),
         "t": ((cdim, "point"), out["t"], {"long_name": dim, "units": "1"})},
        coords={cdim: (cdim, np.asarray(labels))},
        attrs={"form": form, "var": var})

"""NumPy core of the analysis suite: functions on axes, no xarray.

Conventions: the sample (batch) axis is axis 0 of the inputs; *replicate* arrays carry the
full-sample estimate at index 0 followed by the leave-one-batch-out (jackknife) or bootstrap
estimates, so that every estimator is written once, vectorised over a leading axis.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def replicate_means(x, w):
    """Weighted batch mean and its leave-one-batch-out means.

    Parameters
    ----------
    x : numpy.ndarray
        Batch values, batch axis first, shape ``(n, ...)``. NaN entries are skipped.
    w : numpy.ndarray
        Non-negative weights broadcastable to ``x`` (``n_samples``, possibly times a
        time-dependent factor such as ``n_active`` for pooled ratios).

    Returns
    -------
    numpy.ndarray
        Shape ``(n + 1, ...)``: index 0 is the weighted mean over all batches, index ``i + 1``
        the mean without batch ``i``. NaN where no weight remains.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), x.shape)
    valid = np.isfinite(x) & (w > 0)
    wx = np.where(valid, w * x, 0.0)
    ww = np.where(valid, w, 0.0)
    s, tot = wx.sum(axis=0), ww.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        full = s / tot
        loo = (s - wx) / (tot - ww)
    full = np.where(tot > 0, full, np.nan)
    loo = np.where(tot - ww > 0, loo, np.nan)
    return np.concatenate([full[None], loo], axis=0)


def bootstrap_means(x, w, counts):
    """Weighted batch means for bootstrap resamples given as multiplicity counts.

    Parameters
    ----------
    x : numpy.ndarray
        Batch values, shape ``(n, m)``.
    w : numpy.ndarray
        Weights, shape ``(n,)`` or ``(n, m)``.
    counts : numpy.ndarray
        Multiplicities, shape ``(B, n)`` (each row sums to ``n``).

    Returns
    -------
    numpy.ndarray
        Shape ``(B, m)``.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.broadcast_to(np.asarray(w, dtype=np.float64).reshape(x.shape[0], -1), x.shape)
    valid = np.isfinite(x) & (w > 0)
    wx = np.where(valid, w * x, 0.0)
    ww = np.where(valid, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (counts @ wx) / (counts @ ww)
    return out


def jackknife_error(reps, axis=0):
    """Jackknife standard error from replicate estimates (index 0 = full estimate).

    Parameters
    ----------
    reps : numpy.ndarray
        Replicates along ``axis``: the full estimate then the ``n`` leave-one-out ones.
    axis : int
        Replicate axis.

    Returns
    -------
    numpy.ndarray
        ``sqrt((n - 1) / n * sum_i (f_i - mean f)^2)``; NaN if any replicate is NaN.
    """
    reps = np.moveaxis(np.asarray(reps, dtype=np.float64), axis, 0)
    loo = reps[1:]
    n = loo.shape[0]
    dev = loo - loo.mean(axis=0)
    return np.sqrt((n - 1) / n * np.sum(dev * dev, axis=0))


def log_weights(lnt):
    """Weights proportional to the log-time interval each point represents.

    A fit on ``ln t`` with these weights gives every decade the same weight, whatever the
    time grid (uniform or logarithmic).

    Parameters
    ----------
    lnt : numpy.ndarray
        Increasing ``ln t`` values, shape ``(m,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(m,)``, mean 1.
    """
    lnt = np.asarray(lnt, dtype=np.float64)
    if lnt.size < 2:
        return np.ones_like(lnt)
    edges = np.concatenate([[lnt[0]], 0.5 * (lnt[1:] + lnt[:-1]), [lnt[-1]]])
    w = np.diff(edges)
    w[w <= 0] = np.min(w[w > 0]) if np.any(w > 0) else 1.0
    return w / w.mean()


def polyfit_rows(x, y, w, deg):
    """Weighted least-squares polynomial fit of every row of ``y`` against shared ``x``.

    Parameters
    ----------
    x : numpy.ndarray
        Abscissae, shape ``(m,)``.
    y : numpy.ndarray
        Ordinates, shape ``(..., m)``; non-finite entries get weight 0.
    w : numpy.ndarray
        Weights broadcastable to ``y``.
    deg : int
        Polynomial degree.

    Returns
    -------
    numpy.ndarray
        Coefficients, lowest order first, shape ``(..., deg + 1)``; NaN for rows with fewer
        than ``deg + 1`` usable points.
    """
    x = np.asarray(x, dtype=np.float64)
    return lstsq_rows(x[:, None] ** np.arange(deg + 1), y, w)


def lstsq_rows(V, y, w):
    """Weighted linear least squares of every row of ``y`` on the shared basis ``V``.

    Parameters
    ----------
    V : numpy.ndarray
        Basis functions at the abscissae, shape ``(m, k)``.
    y : numpy.ndarray
        Ordinates, shape ``(..., m)``; non-finite entries get weight 0.
    w : numpy.ndarray
        Weights broadcastable to ``y``.

    Returns
    -------
    numpy.ndarray
        Coefficients, shape ``(..., k)``; NaN for rows with fewer than ``k`` usable points.
    """
    V = np.asarray(V, dtype=np.float64)
    deg = V.shape[1] - 1
    y = np.asarray(y, dtype=np.float64)
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), y.shape)
    ok = np.isfinite(y) & (w > 0)
    w = np.where(ok, w, 0.0)
    y0 = np.where(ok, y, 0.0)
    A = np.einsum("...m,mi,mj->...ij", w, V, V)
    b = np.einsum("...m,mi,...m->...i", w, V, y0)
    enough = ok.sum(axis=-1) >= deg + 1
    eye = np.eye(deg + 1)
    A = np.where(enough[..., None, None], A, eye)
    with np.errstate(invalid="ignore", divide="ignore"):
        try:
            c = np.linalg.solve(A, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            c = (np.linalg.pinv(A) @ b[..., None])[..., 0]
    return np.where(enough[..., None], c, np.nan)


def local_slope(lnt, lny, b):
    """Local slope ``d ln y / d ln t`` between ``t / b`` and ``t``.

    ``ln y(t / b)`` is interpolated linearly in ``ln t``, so any increasing time grid works.

    Parameters
    ----------
    lnt : numpy.ndarray
        Increasing ``ln t``, shape ``(m,)``.
    lny : numpy.ndarray
        ``ln y``, shape ``(..., m)``.
    b : float
        Time factor (> 1).

    Returns
    -------
    keep : numpy.ndarray
        Boolean mask of the times ``t`` with ``t / b`` inside the grid, shape ``(m,)``.
    slope : numpy.ndarray
        Slopes at those times, shape ``(..., keep.sum())``.
    """
    lnt = np.asarray(lnt, dtype=np.float64)
    lnb = float(np.log(b))
    q = lnt - lnb
    keep = q >= lnt[0] - 1e-12
    q = q[keep]
    j = np.clip(np.searchsorted(lnt, q, side="right") - 1, 0, lnt.size - 2)
    frac = (q - lnt[j]) / (lnt[j + 1] - lnt[j])
    lo = np.take(lny, j, axis=-1)
    hi = np.take(lny, j + 1, axis=-1)
    with np.errstate(invalid="ignore"):
        back = lo + frac * (hi - lo)
        slope = (lny[..., keep] - back) / lnb
    return keep, slope


def poly_zero(x, y, w, deg=1):
    """Zero of the weighted polynomial fit (degree 1 or 2) of every row of ``y``.

    For a quadratic the root nearest ``x = 0`` (the centre of the data: pass centred ``x``) is
    taken, in the form ``-2 c0 / (c1 + sign(c1) sqrt(c1^2 - 4 c0 c2))``, which is stable as
    ``c2 -> 0`` (the straight line's zero); where the fit has no real zero (a negative
    discriminant) the extremum, the point nearest zero, is returned instead: the two agree
    where the discriminant reaches 0, so the estimate is continuous in the data.

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(m,)``.
    y : numpy.ndarray
        Shape ``(..., m)``.
    w : numpy.ndarray
        Weights, shape ``(m,)``.
    deg : {1, 2}
        Degree of the fit.

    Returns
    -------
    numpy.ndarray
        The zero per row (NaN where the slope vanishes).
    """
    if deg not in (1, 2):
        raise ValueError(f"deg must be 1 or 2, got {deg!r}")
    c = polyfit_rows(x, y, w, deg)
    c0, c1 = c[..., 0], c[..., 1]
    c2 = c[..., 2] if deg == 2 else np.zeros_like(c0)
    disc = c1 * c1 - 4.0 * c0 * c2
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.maximum(disc, 0.0))
        zero = -2.0 * c0 / (c1 + np.where(c1 < 0, -root, root))
        return np.where(disc >= 0, zero, -c1 / (2.0 * c2))


def poly_eval(x, y, w, x0, deg=1):
    """Weighted polynomial fit (degree ``deg``) of every row of ``y`` evaluated at ``x0``.

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(m,)``.
    y : numpy.ndarray
        Shape ``(..., m)``.
    w : numpy.ndarray
        Weights, shape ``(m,)``.
    x0 : numpy.ndarray
        Shape ``(...)``.
    deg : int
        Degree of the fit.

    Returns
    -------
    numpy.ndarray
        The fitted polynomial at ``x0``.
    """
    c = polyfit_rows(x, y, w, deg)
    x0 = np.asarray(x0, dtype=np.float64)
    return sum(c[..., k] * x0 ** k for k in range(deg + 1))


def hh_quality(X, Y, dY, min_overlap=0.3):
    r"""Houdayer–Hartmann collapse quality of curves on a common scaled axis.

    For every point ``(X_ij, Y_ij)`` the two points of each *other* curve that bracket
    ``X_ij`` are collected, a weighted straight line through them gives the local master
    curve ``Y_m`` with variance ``dY_m^2``, and

    .. math:: S = \frac{1}{N} \sum_{ij} \frac{(Y_{ij} - Y_m)^2}{dY_{ij}^2 + dY_m^2}

    over the ``N`` points that have neighbours. ``S`` is about 1 for a perfect collapse.

    Parameters
    ----------
    X, Y, dY : numpy.ndarray
        Shape ``(K, n)``: ``K`` curves padded with NaN.
    min_overlap : float
        Fraction of the valid points that must overlap another curve; below it the quality is
        ``inf`` (parameters that pull the curves apart cannot win by shrinking ``N``).

    Returns
    -------
    float
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    dY = np.ascontiguousarray(dY, dtype=np.float64)
    if X.ndim != 2 or X.shape != Y.shape or X.shape != dY.shape:
        raise ValueError(f"X, Y, dY: need three arrays of one shape (K, n), got {X.shape}, "
                         f"{Y.shape}, {dY.shape}")
    return float(_hh_quality(X, Y, dY, float(min_overlap)))


@njit(cache=True)
def _hh_quality(X, Y, dY, min_overlap):  # pragma: no cover - compiled (tested via hh_quality)
    K, n = X.shape
    nv = np.zeros(K, dtype=np.int64)
    # every curve's valid points sorted by X (a point's brackets in the other curves are found
    # by walking through them in order: O(K^2 n) in all)
    xs = np.empty((K, n))
    ys = np.empty((K, n))
    ws = np.empty((K, n))
    d2 = np.empty((K, n))
    n_valid = 0
    for k in range(K):
        idx = np.empty(n, dtype=np.int64)
        for j in range(n):
            x, y, d = X[k, j], Y[k, j], dY[k, j]
            if np.isfinite(x) and np.isfinite(y) and np.isfinite(d) and d > 0.0:
                idx[nv[k]] = j
                nv[k] += 1
        n_valid += nv[k]
        sel = idx[: nv[k]]
        order = np.argsort(X[k, sel], kind="mergesort")
        for m in range(nv[k]):
            j = sel[order[m]]
            xs[k, m] = X[k, j]
            ys[k, m] = Y[k, j]
            d2[k, m] = dY[k, j] * dY[k, j]
            ws[k, m] = 1.0 / d2[k, m]
    if n_valid == 0:
        return np.inf
    total = 0.0
    m_ok = 0
    ptr = np.zeros(K, dtype=np.int64)
    for i in range(K):
        ptr[:] = 0
        for m in range(nv[i]):
            x0 = xs[i, m]
            s0 = s1 = s2 = sy = sxy = 0.0
            for k in range(K):
                nk = nv[k]
                if k == i or nk < 2:
                    continue
                # first index with xs >= x0 (searchsorted, side="left"); x0 only grows
                p = ptr[k]
                while p < nk and xs[k, p] < x0:
                    p += 1
                ptr[k] = p
                if p <= 0 or p >= nk:
                    continue
                for jj in (p - 1, p):
                    w = ws[k, jj]
                    xj = xs[k, jj]
                    wx = w * xj
                    s0 += w
                    s1 += wx
                    s2 += wx * xj
                    sy += w * ys[k, jj]
                    sxy += wx * ys[k, jj]
            det = s0 * s2 - s1 * s1
            if not (s0 > 0.0 and det > 1e-300):
                continue
            ym = (s2 * sy - s1 * sxy + x0 * (s0 * sxy - s1 * sy)) / det
            vm = max((s2 - 2.0 * x0 * s1 + x0 * x0 * s0) / det, 0.0)
            r = ys[i, m] - ym
            total += r * r / (d2[i, m] + vm)
            m_ok += 1
    if m_ok == 0 or m_ok < min_overlap * n_valid:
        return np.inf
    return total / m_ok

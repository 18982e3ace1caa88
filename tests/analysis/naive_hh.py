"""Slow, obvious Houdayer-Hartmann quality (reference for analysis._core.hh_quality)."""

import numpy as np


def hh_quality_naive(X, Y, dY, min_overlap=0.3):
    K = X.shape[0]
    valid = np.isfinite(X) & np.isfinite(Y) & np.isfinite(dY) & (dY > 0)
    terms = []
    for i in range(K):
        for j in np.nonzero(valid[i])[0]:
            x0 = X[i, j]
            pts = []
            for k in range(K):
                if k == i:
                    continue
                xs = X[k][valid[k]]
                ys = Y[k][valid[k]]
                ds = dY[k][valid[k]]
                o = np.argsort(xs)
                xs, ys, ds = xs[o], ys[o], ds[o]
                if xs.size < 2 or not (xs[0] < x0 <= xs[-1]):
                    continue
                m = np.searchsorted(xs, x0, side="left")
                pts += [(xs[m - 1], ys[m - 1], ds[m - 1]), (xs[m], ys[m], ds[m])]
            if not pts:
                continue
            px, py, pd = map(np.array, zip(*pts))
            w = 1 / pd ** 2
            s0, s1, s2 = w.sum(), (w * px).sum(), (w * px * px).sum()
            sy, sxy = (w * py).sum(), (w * px * py).sum()
            det = s0 * s2 - s1 ** 2
            if det <= 1e-300:
                continue
            ym = (s2 * sy - s1 * sxy + x0 * (s0 * sxy - s1 * sy)) / det
            vm = max((s2 - 2 * x0 * s1 + x0 * x0 * s0) / det, 0.0)
            terms.append((Y[i, j] - ym) ** 2 / (dY[i, j] ** 2 + vm))
    if not terms or len(terms) < min_overlap * valid.sum():
        return np.inf
    return float(np.mean(terms))

"""The training report: accuracy against ``kappa L`` and the distance from criticality.

With bootstrap confidence intervals.
"""

from __future__ import annotations

import json
import math

import numpy as np
import xarray as xr

from absorbphys.models import meanfield

from ._sweeps import kappa_or_nan, meanfield_or_nan
from ._trainer import check


# ====================================================================== report
def _spearman_ci(x, y, n_boot, rng, level=0.95):
    """Spearman rank correlation of finite pairs with a bootstrap percentile CI."""
    from scipy import stats  # deferred: scipy.stats takes seconds to import

    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return dict(rho=math.nan, ci_low=math.nan, ci_high=math.nan, n=int(n))
    rho = float(stats.spearmanr(x, y).statistic)
    boots = []
    for _ in range(n_boot if n >= 5 else 0):  # no bootstrap CI from fewer than 5 points
        i = rng.integers(0, n, n)
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            boots.append(stats.spearmanr(x[i], y[i]).statistic)
    a = (1 - level) / 2
    lo, hi = (np.quantile(boots, [a, 1 - a]) if boots else (math.nan, math.nan))
    return dict(rho=rho, ci_low=float(lo), ci_high=float(hi), n=int(n))


def _monotone_r2(x, y):
    """R^2 of the best non-increasing function of ``x`` fitted to ``y`` (ties pooled)."""
    from scipy.optimize import isotonic_regression  # deferred: scipy.optimize is slow to import

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if y.size < 3 or np.ptp(y) == 0:
        return math.nan
    ux, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    ym = np.bincount(inv, weights=y) / cnt
    fit = isotonic_regression(ym, weights=cnt.astype(float), increasing=False).x[inv]
    return float(1.0 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2))


def _r2_compare(x1, x2, y, n_boot, rng, level=0.95):
    """Monotone R^2 of y on x1 and on x2, and a bootstrap CI of their difference."""
    x1, x2, y = (np.asarray(v, float).ravel() for v in (x1, x2, y))
    r1, r2 = _monotone_r2(x1, y), _monotone_r2(x2, y)
    diffs = []
    for _ in range(n_boot if y.size >= 5 else 0):
        i = rng.integers(0, y.size, y.size)
        diffs.append(_monotone_r2(x1[i], y[i]) - _monotone_r2(x2[i], y[i]))
    diffs = np.asarray(diffs)
    diffs = diffs[np.isfinite(diffs)]
    a = (1 - level) / 2
    lo, hi = np.quantile(diffs, [a, 1 - a]) if diffs.size else (math.nan, math.nan)
    return dict(r2_x1=r1, r2_x2=r2, diff=r1 - r2, ci_low=float(lo), ci_high=float(hi),
                n=int(y.size))


def _final_accuracy(ds):
    """Return the final test accuracy per replica (diverged runs count as chance, 1/k)."""
    acc = ds["test_accuracy"].isel(epoch=-1)
    chance = 1.0 / int(ds.attrs.get("n_classes", 2))
    return acc.where(ds["diverged"] == 0, chance)


def _acc_err(acc, n_test):
    """Mean over replicas and its standard error.

    The replica scatter when there are several replicas, never below the binomial standard
    error of the test set (a scatter from 2-3 replicas is itself noisy).
    """
    m = acc.mean("batch")
    nb = acc.sizes["batch"]
    se = np.sqrt(m * (1 - m) / n_test)
    if nb > 1:
        se = np.maximum(se, acc.std("batch", ddof=1) / math.sqrt(nb))
    return m, se


def training_report(ds, critical=None, *, n_boot=1000, seed=0, markdown=True):
    r"""Relate the accuracy to :math:`\kappa L`, :math:`\xi` and the distance to criticality.

    For every point of a trainability sweep: the distance :math:`\sigma_w - \sigma_{w,c}`,
    the depth in units of the correlation depth :math:`L/\xi`, and :math:`\kappa L` with
    :math:`\kappa` = ``meanfield.kappa(sigma_b)`` (the amplitude at the critical point of the
    same ``sigma_b``). Rank correlations (Spearman, bootstrap 95% CI over points) of the
    final test accuracy with each. For every ``(sigma_b, depth)`` column: the best
    ``sigma_w`` and whether the grid point nearest :math:`\sigma_{w,c}` is within two
    standard errors of the best. With ``critical`` (from :func:`critical_sweep`): the
    accuracy exactly at :math:`\sigma_{w,c}` against :math:`\kappa L` and against
    :math:`L` across ``sigma_b``/activations, the within-depth rank correlation with
    :math:`\kappa`, and a chi-square test of homogeneity across boundary points at equal
    depth (inverse-variance weights; the error of each accuracy is the replica standard
    error, never below the binomial one of the test set). If the accuracies at equal depth
    differ (p < 0.01), criticality alone does not fix the accuracy. Diverged runs count as
    chance level.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`trainability_sweep`.
    critical : xarray.Dataset, optional
        Output of :func:`critical_sweep`.
    n_boot : int
        Bootstrap resamples for the confidence intervals.
    seed : int
        Seed of the bootstrap.
    markdown : bool
        Also return a Markdown summary under ``"markdown"``.

    Returns
    -------
    dict
        ``points`` (Dataset: ``accuracy``, ``accuracy_err``, ``distance``, ``depth_over_xi``,
        ``kappa_L``, ``sigma_w_c``, ``kappa`` and, when present, ``ntk_condition``),
        ``columns`` (Dataset: ``best_sigma_w``, ``best_accuracy``, ``critical_accuracy``,
        ``critical_is_best``), ``spearman`` (dict name -> ``{rho, ci_low, ci_high, n}``),
        ``critical`` (dict with ``table``, ``spearman``, ``spearman_depth``,
        ``spearman_within_depth``, ``chi2``, ``dof``, ``p_value``, ``r2_kappa_L``, ``r2_L``
        (monotone-fit R^2 of the accuracy on kappa*L and on L), ``r2_diff``,
        ``ntk_log_slope``,
        ``spearman_ntk_condition``; only with ``critical``; with a ``width`` dimension it
        uses the largest width), ``width`` (only when ``critical`` has a ``width`` dimension
        or ``mu``: ``table`` with ``depth_over_width`` and ``depth_over_mu_width``
        L / (mu N), ``spearman_within_width`` (accuracy against the width within each
        boundary point and depth), ``spearman_depth_over_mu_width`` and ``r2_mu``
        (monotone R^2 on L / (mu N) against L / N), ``lines``), ``verdict`` (str) and
        ``markdown``.
    """
    if not isinstance(ds, xr.Dataset) or "test_accuracy" not in ds or "sigma_w" not in ds.dims:
        raise ValueError("ds must be a Dataset from trainability_sweep")
    if critical is not None and (not isinstance(critical, xr.Dataset)
                                 or "kappa" not in critical.coords):
        raise ValueError("critical must be a Dataset from critical_sweep")
    n_boot = check("n_boot", n_boot)
    rng = np.random.default_rng(check("seed", seed))
    act = str(ds["activation"].values) if "activation" in ds.coords else "tanh"
    n_test = json.loads(ds.attrs.get("task_params", "{}")).get("n_test", 512)
    d = ds if "sigma_b" in ds.dims else ds.expand_dims("sigma_b")
    acc, err = _acc_err(_final_accuracy(d), n_test)
    sbs = d["sigma_b"].values
    sws = d["sigma_w"].values
    swc = np.array([meanfield_or_nan(meanfield.critical_sigma_w, float(sb), activation=act)
                    for sb in sbs])
    kap = np.array([kappa_or_nan(float(sb), act) for sb in sbs])
    xi = np.array([[meanfield_or_nan(meanfield.depth_scale, float(sw), float(sb), activation=act)
                    for sb in sbs] for sw in sws])
    depth = d["depth"].values.astype(float)
    pts = xr.Dataset(
        {"accuracy": acc, "accuracy_err": err},
        coords={"sigma_w_c": ("sigma_b", swc), "kappa": ("sigma_b", kap)})
    pts["distance"] = pts["sigma_w"] - pts["sigma_w_c"]
    pts["xi"] = (("sigma_w", "sigma_b"), xi)
    pts["depth_over_xi"] = xr.DataArray(depth, dims="depth",
                                        coords={"depth": d["depth"]}) / pts["xi"]
    pts["kappa_L"] = pts["kappa"] * pts["depth"]
    if "ntk_condition" in d:
        pts["ntk_condition"] = d["ntk_condition"].median("batch")
    pts = pts.transpose("sigma_w", "depth", "sigma_b")
    a, dist, lx, kl = (pts[v].broadcast_like(pts["accuracy"]).transpose(
        *pts["accuracy"].dims).values for v in ("accuracy", "distance", "depth_over_xi",
                                                "kappa_L"))
    spear = {
        "accuracy_vs_abs_distance": _spearman_ci(np.abs(dist), a, n_boot, rng),
        "accuracy_vs_depth_over_xi": _spearman_ci(lx, a, n_boot, rng),
        "accuracy_vs_kappa_L": _spearman_ci(kl, a, n_boot, rng),
    }
    # columns: best sigma_w per (depth, sigma_b) vs the grid point nearest sigma_w,c
    inear = np.array([int(np.argmin(np.abs(sws - c))) if np.isfinite(c) else -1
                      for c in swc])
    accv = pts["accuracy"].values  # (sigma_w, depth, sigma_b)
    errv = pts["accuracy_err"].values
    ib = np.argmax(accv, axis=0)  # (depth, sigma_b)
    best = np.take_along_axis(accv, ib[None], 0)[0]
    best_err = np.take_along_axis(errv, ib[None], 0)[0]
    nan_col = np.full(accv.shape[1], np.nan)
    crit = np.stack([accv[inear[j], :, j] if inear[j] >= 0 else nan_col
                     for j in range(len(sbs))], axis=-1)
    crit_err = np.stack([errv[inear[j], :, j] if inear[j] >= 0 else nan_col
                         for j in range(len(sbs))], axis=-1)
    gap = best - crit
    is_best = gap <= 2 * np.sqrt(best_err**2 + crit_err**2)
    cols = xr.Dataset(
        {"best_sigma_w": (("depth", "sigma_b"), sws[ib]),
         "best_accuracy": (("depth", "sigma_b"), best),
         "critical_accuracy": (("depth", "sigma_b"), crit),
         "critical_gap": (("depth", "sigma_b"), gap),
         "critical_is_best": (("depth", "sigma_b"), is_best.astype(np.int64))},
        coords={"depth": d["depth"].values, "sigma_b": sbs,
                "nearest_sigma_w": ("sigma_b", np.where(inear >= 0, sws[inear], np.nan))})
    if "ntk_condition" in pts:
        cond = pts["ntk_condition"].transpose(*pts["accuracy"].dims).values
        nearc = np.stack([pts["ntk_condition"].values[inear[j], :, j] if inear[j] >= 0
                          else nan_col for j in range(len(sbs))], -1)
        spear["log_ntk_condition_vs_kappa_L_near_critical"] = _spearman_ci(
            np.broadcast_to(kap, nearc.shape) * depth[:, None], np.log(nearc), n_boot, rng)
        spear["accuracy_vs_log_ntk_condition"] = _spearman_ci(np.log(cond), a, n_boot, rng)
    out = {"points": pts, "columns": cols, "spearman": spear}
    lines = []
    frac = float(np.mean(is_best)) if np.isfinite(crit).any() else math.nan
    if math.isfinite(frac):
        lines.append(f"sweep: the grid point nearest sigma_w,c is within 2 SE of the best "
                     f"sigma_w in {int(is_best.sum())}/{is_best.size} (depth, sigma_b) "
                     f"columns ({100 * frac:.0f}%).")
    else:
        lines.append(f"sweep: the mean field has no critical point for {act!r} at these "
                     f"sigma_b; distances to sigma_w,c are NaN.")
    crit_dependent = None
    if critical is not None:
        wide = critical.isel(width=-1) if "width" in critical.dims else critical
        out["critical"] = _critical_part(wide, n_boot, rng)
        cr = out["critical"]
        crit_dependent = bool(cr["p_value"] < 0.01)
        lines.append(
            f"at sigma_w,c ({cr['n_points']} boundary points x {cr['n_depths']} depths): "
            f"Spearman(accuracy, kappa*L) = {_fmt_sp(cr['spearman'])}, "
            f"Spearman(accuracy, L) = {_fmt_sp(cr['spearman_depth'])}, within-depth "
            f"Spearman(accuracy, kappa) = {_fmt_sp(cr['spearman_within_depth'])}; "
            f"homogeneity across boundary points at equal depth: chi2 = {cr['chi2']:.1f} "
            f"for {cr['dof']} dof, p = {cr['p_value']:.2g}.")
        r2 = cr["r2_diff"]
        lines.append(
            f"the best non-increasing function of kappa*L explains R^2 = {r2['r2_x1']:.3f} of "
            f"the accuracy at sigma_w,c, of L alone R^2 = {r2['r2_x2']:.3f} (difference "
            f"{r2['diff']:+.3f}, 95% bootstrap CI [{r2['ci_low']:+.3f}, {r2['ci_high']:+.3f}]).")
        if math.isfinite(cr["ntk_log_slope"]):
            lines.append(f"NTK at initialisation on the boundary: d ln(cond) / d ln(kappa*L) "
                         f"= {cr['ntk_log_slope']:.2f} (least squares over all points).")
        if "width" in critical.dims or "mu" in critical.coords:
            out["width"] = _width_part(critical, n_boot, rng)
            lines.extend(out["width"]["lines"])
    if crit_dependent is None and not math.isfinite(frac):
        verdict = ("no verdict: the mean field has no critical point sigma_w,c for this "
                   "activation and sigma_b")
    elif crit_dependent is None:
        verdict = ("criticality alone does not predict the best accuracy in this sweep: the "
                   "best sigma_w is away from sigma_w,c beyond noise in "
                   f"{is_best.size - int(is_best.sum())} columns" if frac < 1 else
                   "in this sweep the best accuracy is reached at sigma_w,c within noise "
                   "(give critical= to compare boundary points with different kappa)")
    elif crit_dependent:
        verdict = ("criticality alone does not predict the best accuracy: at sigma_w,c and "
                   "equal depth the accuracy differs between boundary points (different "
                   "kappa) beyond noise (homogeneity p < 0.01)")
        r2 = out["critical"]["r2_diff"]
        if r2["ci_low"] > 0:
            verdict += (f"; kappa*L organises it better than L (monotone R^2 "
                        f"{r2['r2_x1']:.2f} vs {r2['r2_x2']:.2f})")
    else:
        verdict = ("consistent with criticality alone: at sigma_w,c and equal depth the "
                   "accuracy does not differ between boundary points beyond noise "
                   "(homogeneity p >= 0.01)")
    out["verdict"] = verdict
    if markdown:
        out["markdown"] = _markdown(out, lines, act)
    return out


def _critical_part(cds, n_boot, rng):
    """Accuracy exactly at sigma_w,c across boundary points (activation, sigma_b)."""
    from scipy import stats  # deferred: scipy.stats takes seconds to import

    n_test = json.loads(cds.attrs.get("task_params", "{}")).get("n_test", 512)
    acc, err = _acc_err(_final_accuracy(cds), n_test)
    order = ("activation", "sigma_b", "depth")
    kl = (cds["kappa"] * cds["depth"]).transpose(*order)
    acc, err = acc.transpose(*order), err.transpose(*order)
    A, E, KL = acc.values, err.values, kl.values
    Ld = np.broadcast_to(cds["depth"].values.astype(float), A.shape)
    K = np.broadcast_to(cds["kappa"].transpose("activation", "sigma_b").values[..., None],
                        A.shape)
    sp = _spearman_ci(KL, A, n_boot, rng)
    sp_depth = _spearman_ci(Ld, A, n_boot, rng)
    # at fixed depth: do boundary points with different kappa differ? (chi-square test of
    # homogeneity with inverse-variance weights, summed over depths)
    M = A.shape[0] * A.shape[1]
    a2, e2 = A.reshape(M, -1), E.reshape(M, -1)  # (points, depth)
    w = 1.0 / e2**2
    mean_w = np.nansum(w * a2, axis=0) / np.nansum(w * np.isfinite(a2), axis=0)
    chi2_d = np.nansum(w * (a2 - mean_w) ** 2, axis=0)
    dof_d = np.sum(np.isfinite(a2), axis=0) - 1
    chi2_tot, dof = float(np.sum(chi2_d)), int(np.sum(dof_d))
    p_value = float(stats.chi2.sf(chi2_tot, dof)) if dof > 0 else math.nan
    centred = a2 - np.nanmean(a2, axis=0)
    # does kappa*L organise the accuracy better than L alone (what criticality alone gives)?
    r2 = _r2_compare(KL, Ld, A, n_boot, rng)
    sp_within = _spearman_ci(K.reshape(M, -1), centred, n_boot, rng)
    dep = {"depth": acc["depth"].values}
    table = xr.Dataset({"accuracy": acc, "accuracy_err": err, "kappa_L": kl,
                        "spread": ("depth", np.nanmax(a2, 0) - np.nanmin(a2, 0)),
                        "chi2": ("depth", chi2_d), "chi2_dof": ("depth", dof_d)},
                       coords=dep)
    ntk_slope, sp_c = math.nan, None
    if "ntk_condition" in cds:
        table["ntk_condition"] = cds["ntk_condition"].median("batch").transpose(*order)
        c = table["ntk_condition"].values
        ok = np.isfinite(c) & (c > 0) & np.isfinite(KL) & (KL > 0)
        if ok.sum() >= 3 and np.ptp(KL[ok]) > 0:
            ntk_slope = float(np.polyfit(np.log(KL[ok]), np.log(c[ok]), 1)[0])
        sp_c = _spearman_ci(KL, np.log(np.where(c > 0, c, np.nan)), n_boot, rng)
    return {"table": table, "spearman": sp, "spearman_depth": sp_depth,
            "spearman_within_depth": sp_within, "chi2": chi2_tot, "dof": dof,
            "r2_kappa_L": r2["r2_x1"], "r2_L": r2["r2_x2"], "r2_diff": r2,
            "p_value": p_value, "spearman_ntk_condition": sp_c,
            "ntk_log_slope": ntk_slope, "n_points": M, "n_depths": int(A.shape[-1])}


def _width_part(cds, n_boot, rng):
    """Accuracy at sigma_w,c against the width and the depth-to-width ratio L / (mu N)."""
    n_test = json.loads(cds.attrs.get("task_params", "{}")).get("n_test", 512)
    acc, err = _acc_err(_final_accuracy(cds), n_test)
    if "width" not in acc.dims:
        acc = acc.expand_dims(width=[int(cds["width"])])
        err = err.expand_dims(width=[int(cds["width"])])
    order = ("activation", "sigma_b", "width", "depth")
    acc, err = acc.transpose(*order), err.transpose(*order)
    N = acc["width"].astype(float)
    L = acc["depth"].astype(float)
    ratio = (L / N).broadcast_like(acc).transpose(*order)
    out = {"lines": []}
    tab = {"accuracy": acc, "accuracy_err": err, "depth_over_width": ratio}
    if acc.sizes["width"] > 1:
        # within each (boundary point, depth): does a wider network do better?
        centred = acc - acc.mean("width")
        sp_w = _spearman_ci(N.broadcast_like(acc).transpose(*order).values, centred.values,
                            n_boot, rng)
        out["spearman_within_width"] = sp_w
        out["lines"].append(f"at sigma_w,c, within (boundary point, depth): Spearman(accuracy, "
                            f"width) = {_fmt_sp(sp_w)}.")
    if "mu" in cds.coords:
        mu = cds["mu"].transpose("activation", "sigma_b")
        r = (ratio / mu).transpose(*order)
        tab["depth_over_mu_width"] = r
        A, R, D = acc.values, r.values, ratio.values
        out["spearman_depth_over_mu_width"] = _spearman_ci(R, A, n_boot, rng)
        out["r2_mu"] = _r2_compare(R, D, A, n_boot, rng)
        r2 = out["r2_mu"]
        out["lines"].append(
            f"at sigma_w,c: Spearman(accuracy, L/(mu N)) = "
            f"{_fmt_sp(out['spearman_depth_over_mu_width'])}; monotone R^2 on L/(mu N) "
            f"{r2['r2_x1']:.3f} vs on L/N {r2['r2_x2']:.3f} (difference {r2['diff']:+.3f}, "
            f"95% CI [{r2['ci_low']:+.3f}, {r2['ci_high']:+.3f}]); mu = "
            + ", ".join(f"{float(mu.sel(activation=a, sigma_b=b)):.3g}"
                        f"+-{float(cds['mu_error'].sel(activation=a, sigma_b=b)):.2g} "
                        f"({a}, sigma_b={float(b):g})"
                        for a in mu["activation"].values for b in mu["sigma_b"].values)
            + ".")
    out["table"] = xr.Dataset(tab)
    return out


def _fmt_sp(s):
    ci = (f"[{s['ci_low']:+.2f}, {s['ci_high']:+.2f}]" if math.isfinite(s["ci_low"])
          else "[no CI: n < 5]")
    return f"{s['rho']:+.2f} {ci} (n={s['n']})"


def _markdown(out, lines, act):
    md = [f"### Trainability near the phase boundary ({act})", "",
          "| rank correlation (Spearman, 95% bootstrap CI) | rho |", "|---|---|"]
    for k, s in out["spearman"].items():
        md.append(f"| {k.replace('_', ' ')} | {_fmt_sp(s)} |")
    if "critical" in out:
        cr = out["critical"]
        md.append(f"| at sigma_w,c: accuracy vs kappa*L | {_fmt_sp(cr['spearman'])} |")
        md.append(f"| at sigma_w,c: accuracy vs L | {_fmt_sp(cr['spearman_depth'])} |")
        md.append(f"| at sigma_w,c, within depth: accuracy vs kappa | "
                  f"{_fmt_sp(cr['spearman_within_depth'])} |")
        if cr["spearman_ntk_condition"] is not None:
            md.append(f"| at sigma_w,c: log NTK condition vs kappa*L | "
                      f"{_fmt_sp(cr['spearman_ntk_condition'])} |")
        t = cr["table"]
        md += ["", "| activation | sigma_b | sigma_w,c | kappa | depth | kappa*L | accuracy |",
               "|---|---|---|---|---|---|---|"]
        for a in t["activation"].values:
            for sb in t["sigma_b"].values:
                for L in t["depth"].values:
                    r = t.sel(activation=a, sigma_b=sb, depth=L)
                    md.append(f"| {a} | {sb:g} | {float(r['sigma_w']):.4f} | "
                              f"{float(r['kappa']):.4g} | {L} | {float(r['kappa_L']):.3g} | "
                              f"{float(r['accuracy']):.3f} +- {float(r['accuracy_err']):.3f} |")
    md += [""] + [f"- {x}" for x in lines] + ["", f"**Verdict:** {out['verdict']}."]
    return "\n".join(md)

"""The report's figures (matplotlib, imported when a figure is drawn)."""

from __future__ import annotations

import math

import numpy as np

from absorbphys._benchmark.format import (
    SIZE_SYMBOL,
    catalog_value,
    entry_of,
    fmt,
    fmt_catalog,
    shown_class,
    time_unit,
)
from absorbphys.analysis import (
    Estimate,
    effective_exponent,
)


# ============================================================================ figures
def _figure(w=6.4, h=4.8):
    from matplotlib.figure import Figure  # deferred: matplotlib, only for figures

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def _cmap():
    import matplotlib  # deferred: matplotlib, only for figures

    return matplotlib.colormaps["viridis"]


def _mean_err(da):
    """Mean over ``batch`` (weighted by ``n_samples``) and its standard error (NumPy arrays).

    The error is that of a weighted mean of independent batches; with one batch it is NaN.
    """
    if "batch" not in da.dims:
        v = np.asarray(da.values, dtype=float)
        return v, np.full_like(v, np.nan)
    x = np.asarray(da.transpose(..., "batch").values, dtype=float)
    nb = x.shape[-1]
    w = (np.asarray(da["n_samples"].values, dtype=float) if "n_samples" in da.coords
         else np.ones(nb))
    sw = w.sum()
    m = (x * w).sum(-1) / sw
    if nb < 2:
        return m, np.full_like(m, np.nan)
    var = (w ** 2 * (x - m[..., None]) ** 2).sum(-1) / sw ** 2 * nb / (nb - 1)
    return m, np.sqrt(var)


def _time_label(ds) -> str:
    """Label of the time axis with its unit, from the ``t`` coordinate's attributes."""
    a = ds["t"].attrs if ds is not None and "t" in ds.coords else {}
    long_name, units = a.get("long_name", "time"), time_unit(ds)
    if units and units not in long_name:
        return f"{long_name} $t$ ({units})"
    return f"{long_name} $t$"


def _band(ax, t, m, e, color, alpha=0.25):
    """Shade ``m -+ e`` on a log axis (where the error is known and the lower edge positive)."""
    ok = np.isfinite(e)
    if ok.any():
        lo = np.where(m - e > 0, m - e, m * 1e-3)
        ax.fill_between(t[ok], lo[ok], (m + e)[ok], color=color, alpha=alpha, lw=0)


def _power_law_reference(ax, t, m, exponent, label, color="C3", where=0.75):
    """Dashed ``t^-exponent`` through the data at a fraction ``where`` of its log-time range."""
    ok = (t > 0) & (m > 0) & np.isfinite(m)
    if ok.sum() < 2:
        return
    tt, mm = t[ok], m[ok]
    lt = np.log(tt)
    anchor = np.exp(lt[0] + where * (lt[-1] - lt[0]))
    i = int(np.argmin(np.abs(tt - anchor)))
    t0, m0 = tt[i], mm[i]
    # drawn from a third of the way in at most: early times are not in the scaling regime
    tt = tt[lt >= lt[0] + min(where, 1 / 3) * (lt[-1] - lt[0])]
    ax.plot(tt, m0 * (tt / t0) ** (-exponent), ls="--", color=color, lw=1.4, label=label,
            zorder=6)


def _log_limits(values, lower_pad=0.5, upper_pad=0.15, min_pad=0.12):
    """Log-axis limits around positive values: a margin of a fraction of their decades."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    lo, hi = np.log10(v.min()), np.log10(v.max())
    span = hi - lo
    return (10 ** (lo - max(lower_pad * span, min_pad)),
            10 ** (hi + max(upper_pad * span, min_pad / 2)))


def fig_decay(name, row, datasets, results):
    """Decay at the critical point over the sweep around it, and the local slopes.

    Parameters
    ----------
    name : str
        Process name (title).
    row : dict
        The benchmark row (critical point, measured exponent, catalogue values).
    datasets : dict of str to xarray.Dataset
        The row's simulated data: ``sweep<k>`` levels and ``decay``.
    results : dict
        The row's analysis results (unused; kept for a uniform signature).

    Returns
    -------
    matplotlib.figure.Figure or None
        Upper panel: the order parameter (or, for processes located from seeds, the survival
        probability) against time, at every point of the last sweep level (colour bar) and
        at the critical point with its error band over batches, and the best class's
        prediction ``t^-delta`` as a dashed line; the y range follows the critical curve.
        Lower panel: the local slope with errors, the measured exponent (band) and the
        catalogue value (dashed). None when there is nothing to draw.
    """
    ctrl = row["control"]
    sweeps = sorted((k for k in datasets if k.startswith("sweep") and "_miss" not in k),
                    key=lambda k: int(k[5:]) if k[5:].isdigit() else -1)
    sw = datasets[sweeps[-1]] if sweeps else None
    seed = sw is not None and sw.attrs.get("init") == "seed" and "decay" not in datasets
    var, key = ("survival", "delta_prime") if seed else ("rho", "delta")
    sym = r"P(t)" if seed else r"\rho(t)"
    crit = datasets.get("decay") if not seed else None
    if crit is None and sw is None:
        return None
    ref_ds = crit if crit is not None else sw
    cls, resolved = shown_class(row)
    ref = catalog_value(row, key, cls)
    fig = _figure(6.8, 6.6)
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    ylim_from = []
    if sw is not None and var in sw:
        m, e = _mean_err(sw[var])
        xs = np.atleast_1d(sw[ctrl].values).astype(float)
        t = sw["t"].values.astype(float)
        cmap = _cmap()
        from matplotlib.colors import Normalize  # deferred: matplotlib, only for figures

        norm = Normalize(xs.min(), xs.max() if xs.max() > xs.min() else xs.min() + 1)
        many = len(xs) > 3
        for i, x in enumerate(xs):
            y = m[i] if m.ndim > 1 else m
            ok = (t > 0) & (y > 0)
            ax.plot(t[ok], y[ok], color=cmap(norm(x)), lw=0.9, alpha=0.7,
                    label=None if many else f"{ctrl} = {x:.5g}")
        if many:
            from matplotlib.cm import ScalarMappable  # deferred: matplotlib, only for figures

            cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=[ax, ax2],
                              label=f"{ctrl} of the sweep (last level)", shrink=0.6)
            xc = row.get("critical_point")
            if isinstance(xc, Estimate):
                cb.ax.axhline(xc.value, color="k", lw=2)
    xc = row.get("critical_point")
    lab = f"{ctrl}_c = {fmt(xc)}" if isinstance(xc, Estimate) else "decay run"
    if crit is None and isinstance(xc, Estimate) and var in sw and ctrl in sw.dims:
        # no run at x_c itself (located from seeds): the sweep point nearest to it
        xs = np.atleast_1d(sw[ctrl].values).astype(float)
        i = int(np.argmin(np.abs(xs - xc.value)))
        crit = sw.isel({ctrl: [i]})
        lab = f"{ctrl} = {xs[i]:.5g}, nearest to {ctrl}_c = {fmt(xc)}"
    if crit is not None:
        d = crit.isel({ctrl: 0}) if ctrl in crit.dims else crit
        m, e = _mean_err(d[var])
        t = d["t"].values.astype(float)
        ok = (t > 0) & (m > 0)
        nb = d.sizes.get("batch", 1)
        lab += f" (band: ±1 s.e., {nb} batches)"
        ax.plot(t[ok], m[ok], "k-", lw=2, label=lab, zorder=5)
        _band(ax, t[ok], m[ok], e[ok], "k", alpha=0.25)
        ylim_from = [m[ok], (m - np.nan_to_num(e))[ok]]
        if ref is not None:
            _power_law_reference(ax, t[ok], m[ok], ref.value,
                                 f"{cls}: $t^{{-{ref.value:.4g}}}$ (catalogue)"
                                 + ("" if resolved else ", unresolved"))
    lim = _log_limits(np.concatenate(ylim_from)) if ylim_from else None
    if lim is not None:
        ax.set_ylim(*lim)
    es = None
    if crit is not None:
        try:
            es = effective_exponent(crit.isel({ctrl: 0}) if ctrl in crit.dims else crit,
                                    var=var, b=4.0)
        except (ValueError, TypeError, KeyError):  # too few times for a local slope
            es = None
    if es is not None:
        v, err = np.ravel(es["delta_eff"].values), np.ravel(es["delta_eff_error"].values)
        ax2.errorbar(es["t"].values, v, yerr=err, fmt="o-", ms=3, color="k", lw=1,
                     elinewidth=0.8, label="local slope (b = 4)")
    de = row.get(key)
    if isinstance(de, Estimate):
        ax2.axhline(de.value, color="C0", lw=1.2, label=f"measured {key} = {fmt(de)}")
        ax2.axhspan(de.value - de.error, de.value + de.error, color="C0", alpha=0.15)
    if ref is not None:
        ax2.axhline(ref.value, color="C3", ls="--", lw=1.4,
                    label=f"{cls} (catalogue): {fmt_catalog(ref)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(("survival probability" if seed else "order parameter") + f" ${sym}$")
    ax.set_title(f"{name}: " + ("survival from a single seed near the critical point" if seed
                                else "decay from the fully active state"), fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower left")
    ax2.set_xscale("log")
    ax2.set_xlabel(_time_label(ref_ds))
    greek = r"\delta'" if seed else r"\delta"
    ax2.set_ylabel(rf"local slope ${greek}_\mathrm{{eff}}(t)$")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(fontsize=7, loc="best")
    return fig


def fig_collapse(name, row, results, entry=None):
    r"""Finite-size scaling at the critical point and its data collapse.

    Parameters
    ----------
    name : str
        Process name (title).
    row : dict
        The benchmark row (``fss_a``, ``fss_b``, catalogue values).
    results : dict
        The row's analysis results; ``fss_data`` maps each size to its run.
    entry : dict, optional
        The configuration entry: marks the times used by the collapse,
        :math:`t \ge` ``fss_t_min`` :math:`n^{\mathrm{fss\_t\_power}}`.

    Returns
    -------
    matplotlib.figure.Figure or None
        Left: :math:`\rho(t)` per size with error bands over batches and the best class's
        :math:`t^{-\delta}` (dashed). Right: :math:`n^{a}\rho` against :math:`t/n^{b}`
        (:math:`n` = :math:`L` or the width :math:`N`) with error bars on the times the
        collapse used, and the class's slope :math:`-a/b` (dashed). None without FSS data.
    """
    dss = results.get("fss_data")
    if not dss:
        return None
    a, b = row.get("fss_a"), row.get("fss_b")
    ctrl = row["control"]
    sp = row.get("size_param", "n")
    s = SIZE_SYMBOL.get(sp, rf"\mathrm{{{sp}}}")
    word = "width " if sp == "width" else ""
    cls, _ = shown_class(row)
    ref_a, ref_b = catalog_value(row, "fss_a", cls), catalog_value(row, "fss_b", cls)
    ref_d = catalog_value(row, "delta", cls)
    entry = entry or {}
    t_min, t_pow = float(entry.get("fss_t_min", 0) or 0), float(entry.get("fss_t_power", 1))
    fig = _figure(11.0, 4.6)
    ax1, ax2 = fig.subplots(1, 2)
    cmap = _cmap()
    first = None
    items = sorted(dss.items())
    for i, (n, ds) in enumerate(items):
        d = ds.isel({ctrl: 0}) if ctrl in ds.dims else ds
        m, e = _mean_err(d["rho"])
        t = d["t"].values.astype(float)
        ok = (t > 0) & (m > 0)
        col = cmap(i / max(len(items) - 1, 1))
        ax1.plot(t[ok], m[ok], color=col, label=f"{word}${s}$ = {n}")
        _band(ax1, t[ok], m[ok], e[ok], col)
        if first is None:
            first = (d, t[ok], m[ok])
        if isinstance(a, Estimate) and isinstance(b, Estimate):
            x, y, ye = t[ok] / n ** b.value, m[ok] * n ** a.value, np.nan_to_num(e[ok])
            used = t[ok] >= t_min * float(n) ** t_pow
            ax2.plot(x[~used], y[~used], color=col, lw=0.8, alpha=0.45)
            ax2.errorbar(x[used], y[used], yerr=ye[used] * n ** a.value, fmt="o-", ms=2.5,
                         lw=1, color=col, elinewidth=0.7, label=f"{word}${s}$ = {n}")
    if ref_d is not None and items:
        d, t, m = _largest(items, ctrl)
        _power_law_reference(ax1, t, m, ref_d.value,
                             f"{cls}: $t^{{-{ref_d.value:.4g}}}$ (catalogue)", where=0.3)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax1.set_xlabel(_time_label(first[0]) if first else "$t$")
    ax1.set_ylabel(r"order parameter $\rho(t)$")
    ax1.legend(fontsize=7, loc="lower left")
    ax1.set_title(f"{name}: at the critical point (bands: ±1 s.e. over batches)", fontsize=9)
    if isinstance(a, Estimate) and isinstance(b, Estimate):
        if ref_a is not None and ref_b is not None and ref_b.value > 0 and ax2.lines:
            xs = np.concatenate([ln.get_xdata() for ln in ax2.lines if len(ln.get_xdata())])
            ys = np.concatenate([ln.get_ydata() for ln in ax2.lines if len(ln.get_ydata())])
            ok = (xs > 0) & (ys > 0)
            if ok.any():
                j = np.argsort(xs[ok])
                xx, yy = xs[ok][j], ys[ok][j]
                k = len(xx) // 4
                slope = ref_a.value / ref_b.value
                xr = np.geomspace(xx[0], xx[min(len(xx) - 1, 2 * k + 1)], 20)
                ax2.plot(xr, yy[k] * (xr / xx[k]) ** (-slope), "--", color="C3", lw=1.4,
                         label=f"{cls} (catalogue): a = {fmt_catalog(ref_a)}, "
                               f"b = {fmt_catalog(ref_b)}, slope $-a/b$ = {-slope:.4g}")
        unit = time_unit(first[0]) if first else ""
        ax2.set_xlabel(rf"$t/{s}^{{{b.value:.3f}}}$" + (f"  ($t$ in {unit})" if unit else ""))
        ax2.set_ylabel(rf"${s}^{{{a.value:.3f}}}\,\rho(t)$")
        ax2.set_title(f"collapse: a = {fmt(a)}, b = {fmt(b)}\n"
                      "(error bars: the times the fit used)", fontsize=9)
        ax2.legend(fontsize=7, loc="lower left")
    else:
        ax2.set_xlabel(rf"$t/{s}^{{b}}$")
        ax2.set_ylabel(rf"${s}^{{a}}\,\rho(t)$")
        ax2.set_title("collapse failed: no a, b measured", fontsize=9)
    return fig


def _largest(items, ctrl):
    n, ds = items[-1]
    d = ds.isel({ctrl: 0}) if ctrl in ds.dims else ds
    m, _ = _mean_err(d["rho"])
    t = d["t"].values.astype(float)
    ok = (t > 0) & (m > 0)
    return d, t[ok], m[ok]


def _luminance(rgba) -> float:
    """Relative luminance (WCAG) of an RGB(A) colour with components in [0, 1]."""
    def lin(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(c)) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def fig_classes(result):
    """Score (chi-square per degree of freedom) of every process against every class.

    Parameters
    ----------
    result : BenchmarkResult
        The rows with their class rankings.

    Returns
    -------
    matplotlib.figure.Figure or None
        A heat map on a logarithmic scale; the text colour of each cell follows its
        luminance, the best class is outlined, and a hatched cell marks a class that was not
        compared (no catalogue value for the row's dimension or measured exponents). None
        when no row has a ranking.
    """
    from matplotlib.patches import Patch, Rectangle  # deferred: matplotlib, only for figures

    rows = [r for r in result.rows if r.get("ranking")]
    if not rows:
        return None
    classes = sorted({str(c) for r in rows for c, *_ in r.get("ranking_all", r["ranking"])})
    mat = np.full((len(rows), len(classes)), np.nan)
    for i, r in enumerate(rows):
        for c, score, *_ in r.get("ranking_all", r["ranking"]):
            mat[i, classes.index(str(c))] = score
    fig = _figure(2.4 + 0.95 * len(classes), 3.0 + 0.5 * len(rows))
    ax = fig.subplots()
    with np.errstate(divide="ignore", invalid="ignore"):
        img = ax.imshow(np.log10(np.maximum(mat, 1e-3)), cmap="viridis_r", aspect="auto",
                        vmin=-1, vmax=4)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            if np.isfinite(mat[i, j]):
                best = shown_class(rows[i])[0] == classes[j]
                col = img.cmap(img.norm(np.log10(max(mat[i, j], 1e-3))))
                ax.text(j, i, f"{mat[i, j]:.2g}", ha="center", va="center", fontsize=8,
                        color="black" if _luminance(col) > 0.18 else "white",
                        weight="bold" if best else None)
                if best:
                    for lw, ec in ((3.2, "black"), (1.3, "white")):
                        ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False,
                                               lw=lw, ec=ec))
            else:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white",
                                       edgecolor="0.7", hatch="///", lw=0))
    ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{r['name']} ({r.get('verdict', '-')})" for r in rows],
                  fontsize=8)
    ax.set_xlabel("catalogued universality class")
    ax.set_ylabel("process (verdict)")
    ax.set_title(r"score $\chi^2/\mathrm{dof}$ of each process against each class"
                 "\n(about 1 or less: agreement; outlined: best class)", fontsize=10)
    fig.colorbar(img, ax=ax, label=r"$\log_{10}\,\chi^2/\mathrm{dof}$")
    if not np.isfinite(mat).all():
        fig.legend(handles=[Patch(facecolor="white", edgecolor="0.5", hatch="///",
                                  label="not compared: the class has no catalogue value "
                                        "for this dimension or these exponents")],
                   loc="outside lower center", fontsize=8, frameon=False)
    return fig


def fig_phase_diagram(result):
    r"""MLP phase diagram: mean-field critical line and the measured critical points.

    Parameters
    ----------
    result : BenchmarkResult
        The run; its ``mlp`` rows are drawn.

    Returns
    -------
    matplotlib.figure.Figure or None
        Left: the infinite-width critical line :math:`\sigma_{w,c}(\sigma_b)` and the
        measured points. Right: the measured critical points at their true values, one line
        each (final level and coarser sweep levels, with their width and last layer), beside
        the mean-field value (dashed). None without an MLP row.
    """
    rows = [r for r in result.rows if r["model"] == "mlp"
            and isinstance(r.get("critical_point"), Estimate)]
    if not rows:
        return None
    # deferred: absorbphys.models (its kernels) loads only for network rows
    from absorbphys.models.meanfield import critical_line, critical_sigma_w

    fig = _figure(11.5, 4.8)
    ax, zx = fig.subplots(1, 2, width_ratios=[1, 1.15])
    acts = sorted({_entry_param(result, r["name"], "activation", "tanh") for r in rows})
    sb = np.linspace(0.0, 1.5, 61)
    for k, act in enumerate(acts):
        ax.plot(np.asarray(critical_line(sb, act), dtype=float), sb, "-", color=f"C{k}",
                label=f"mean-field critical line ({act})")
    labels, ticks, y = [], [], 0.0
    for r in rows:
        act = _entry_param(result, r["name"], "activation", "tanh")
        sbv = float(_entry_param(result, r["name"], "sigma_b", 0.0))
        xc = r["critical_point"]
        ax.errorbar([xc.value], [sbv], xerr=[xc.error], fmt="o", color="C3", ms=6,
                    capsize=3, label=f"{r['name']}: measured, width {r['size']}")
        mf = float(critical_sigma_w(sbv, act))
        pts = [(xc, f"{r['name']}: width {r['size']} (final)", "o", "C3")]
        res = result.analyses.get(r["name"], {}).get("results", {})
        data = result.datasets.get(r["name"], {})
        key = f"{r['control']}_c"
        final = _final_sweep(res)
        for j, k in enumerate(sorted(x for x in res if x.startswith("sweep"))):
            d = data.get(k)
            if d is None or key not in res[k] or k == final:
                continue
            n = int(np.atleast_1d(d[r["size_param"]].values)[0])
            v, e = float(res[k][key]), float(res[k][f"{key}_error"])
            if math.isfinite(v):
                pts.append((Estimate(v, e), f"{r['name']}: width {n}, {k}, "
                            f"t ≤ {int(d['t'].values[-1])} {time_unit(d)}s", "s", f"C{j + 4}"))
        y0 = y
        for est, lab, mk, col in pts:
            zx.errorbar([est.value], [y], xerr=[est.error], fmt=mk, color=col, ms=6,
                        capsize=3)
            labels.append(lab)
            ticks.append(y)
            y += 1
        zx.plot([mf, mf], [y0 - 0.4, y - 0.6], "--", color="k", lw=1.2,
                label=(f"mean field ({act}, $\\sigma_b$ = {sbv:g}): {mf:.4f}"))
        y += 0.5
    zx.set_yticks(ticks, labels, fontsize=8)
    zx.invert_yaxis()
    zx.set_xlabel(r"critical weight scale $\sigma_{w,c}$")
    zx.set_ylabel("measurement (process: width, sweep level)")
    zx.set_title("measured critical points at their true values", fontsize=10)
    zx.legend(fontsize=8, loc="best")
    ax.set_xlabel(r"weight scale $\sigma_w$")
    ax.set_ylabel(r"bias scale $\sigma_b$")
    ax.text(0.03, 0.95, "ordered (absorbing)", transform=ax.transAxes, va="top")
    ax.text(0.55, 0.05, "chaotic (active)", transform=ax.transAxes)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, 0.88))
    ax.set_title("MLP phase diagram", fontsize=10)
    return fig


def _final_sweep(res):
    ks = sorted(x for x in res if x.startswith("sweep"))
    return ks[-1] if ks else None


def _entry_param(result, name, key, default):
    return entry_of(result, name).get("params", {}).get(key, default)

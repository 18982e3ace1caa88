"""Plots (matplotlib, no pyplot: Agg-safe, never shows). Every function returns (fig, axes)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._collapse import scaled_curves
from ._core import jackknife_error, replicate_means
from ._data import curves
from ._decay import effective_exponent
from ._estimate import as_estimate


def _figure(ax=None, nrows=1, ncols=1, **kw):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure  # deferred: matplotlib, only when plotting

    fig = Figure(**kw)
    return fig, fig.subplots(nrows, ncols, squeeze=True)


def _time_label(obj, dim) -> str:
    attrs = obj[dim].attrs if dim in obj.coords else {}
    kind = attrs.get("time_unit") or (attrs.get("units") if attrs.get("units") != "1" else None)
    return f"{dim} [{kind}]" if kind else dim


def _math(name: str) -> str:
    """Return a variable or dimension name as mathtext (e.g. sigma_w as a Greek sigma)."""
    greek = {"rho": r"\rho", "sigma_w": r"\sigma_w", "sigma_b": r"\sigma_b", "lam": r"\lambda"}
    return greek.get(name, name if len(name) == 1 else rf"\mathrm{{{name}}}")


def plot_decay(obj, var="rho", b=4.0, dim="t", sample_dim="batch", curve_dim=None,
               ax=None, figsize=(6.0, 6.5)):
    """Log–log decay with an effective-exponent panel below.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Data with at most one swept dimension (one curve per value).
    var : str
        Variable.
    b : float
        Time factor of the local slope.
    dim, sample_dim : str
        Time and batch dimensions.
    curve_dim : str, optional
        The swept dimension (default: the only one besides ``dim`` and ``sample_dim``).
    ax : matplotlib.axes.Axes or pair of them, optional
        Where to draw: a pair ``(decay, effective exponent)``, or a single Axes for the decay
        panel alone (default: a new figure with both panels).
    figsize : tuple
        Figure size in inches when a new figure is made.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : numpy.ndarray of matplotlib.axes.Axes, or matplotlib.axes.Axes
        ``[decay, effective exponent]`` (the single Axes when one was given).
    """
    c = curves(obj, var, dim, sample_dim)
    if len(c.extra_dims) > 1:
        raise ValueError(f"plot_decay: at most one swept dimension, got {c.extra_dims}; "
                         "select the others first")
    cd = curve_dim or (c.extra_dims[0] if c.extra_dims else None)
    reps = replicate_means(c.values, c.weights.reshape((-1,) + (1,) * (c.values.ndim - 1)))
    mean, err = reps[0], jackknife_error(reps)
    eff = effective_exponent(obj, var, b, dim, sample_dim)
    single = ax is not None and not isinstance(ax, (list, tuple, np.ndarray))
    if ax is None:
        fig, axes = _figure(nrows=2, figsize=figsize)
    elif single:
        fig, axes = ax.figure, [ax, None]
    else:
        if len(ax) != 2:
            raise ValueError(f"ax: one Axes or a pair (decay, effective exponent), got {len(ax)}")
        fig, axes = ax[0].figure, list(ax)
    pos = c.t > 0
    labels = list(c.extra_coords[cd]) if cd else [None]
    mean = mean.reshape(len(labels), -1)
    err = err.reshape(len(labels), -1)
    for i, lab in enumerate(labels):
        lbl = None if lab is None else f"{cd} = {lab:g}"
        line, = axes[0].loglog(c.t[pos], mean[i][pos], label=lbl)
        axes[0].fill_between(c.t[pos], np.maximum(mean[i][pos] - err[i][pos], 1e-300),
                             mean[i][pos] + err[i][pos], color=line.get_color(), alpha=0.25)
        if axes[1] is None:
            continue
        de = eff["delta_eff"] if cd is None else eff["delta_eff"].isel({cd: i})
        dee = eff["delta_eff_error"] if cd is None else eff["delta_eff_error"].isel({cd: i})
        axes[1].errorbar(eff[dim].values, de.values, yerr=dee.values, fmt=".", ms=3,
                         color=line.get_color(), elinewidth=0.6)
    tlabel = _time_label(obj, dim)
    axes[0].set_ylabel(f"${_math(var)}$")
    axes[0].set_xlabel(tlabel)
    if cd:
        axes[0].legend(fontsize="small")
    if axes[1] is not None:
        axes[1].set_xscale("log")
        axes[1].set_ylabel(r"$\delta_\mathrm{eff}$" + f"  (b = {b:g})")
        axes[1].set_xlabel(tlabel)
    if ax is None:
        fig.tight_layout()
    if single:
        return fig, axes[0]
    return fig, np.asarray(axes, dtype=object) if ax is not None else axes


def plot_collapse(data, result, var="rho", dim="t", sample_dim="batch", ax=None,
                  figsize=(6.0, 4.5)):
    """Collapsed curves of a :func:`collapse` result on its scaled axes.

    Parameters
    ----------
    data : xarray.Dataset, xarray.DataArray or list of them
        The data given to :func:`collapse`.
    result : xarray.Dataset
        The collapse result.
    var : str
        Variable.
    dim, sample_dim : str
        Time and batch dimensions.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    figsize : tuple
        Figure size when a new figure is made.

    Returns
    -------
    fig : matplotlib.figure.Figure
    ax : matplotlib.axes.Axes
    """
    sc = scaled_curves(data, result, var, dim, sample_dim)
    fig, ax = _figure(ax, figsize=figsize)
    form, cd = result.attrs["form"], result.attrs["curve_dim"]
    for k, lab in enumerate(sc[cd].values):
        c = sc.isel({cd: k})
        ok = np.isfinite(c["x"].values)
        ax.errorbar(c["x"].values[ok], c["y"].values[ok], yerr=c["y_error"].values[ok],
                    fmt=".", ms=2, elinewidth=0.5, label=f"{cd} = {lab:g}")
    ax.set_yscale("log")
    v, t, s = _math(var), _math(dim), _math(cd)
    if form == "size":
        ax.set_xscale("log")
        a, b = float(result["a"]), float(result["b"])
        ax.set_xlabel(f"${t}\\,/\\,{s}^{{{b:.3f}}}$")
        ax.set_ylabel(f"${s}^{{{a:.3f}}}\\,{v}$")
    else:
        d, nu = float(result["delta"]), float(result["nu_par"])
        ax.set_xscale("symlog")
        ax.set_xlabel(f"$({s} - {s}_c)\\,{t}^{{1/{nu:.3f}}}$")
        ax.set_ylabel(f"${t}^{{{d:.3f}}}\\,{v}$")
    ax.set_title(f"collapse quality {float(result['quality']):.3g}")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig, ax


def plot_compare(verdict_or_table, ax=None, max_classes=6, figsize=(7.0, 4.0)):
    """Class-comparison chart: deviation of each exponent in combined standard errors.

    Parameters
    ----------
    verdict_or_table : Verdict or xarray.Dataset
        A :func:`classify` verdict or a :func:`compare` table.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    max_classes : int
        Number of best-ranked classes shown.
    figsize : tuple
        Figure size when a new figure is made.

    Returns
    -------
    fig : matplotlib.figure.Figure
    ax : matplotlib.axes.Axes
    """
    t = getattr(verdict_or_table, "table", verdict_or_table)
    if not isinstance(t, xr.Dataset) or "deviation" not in t:
        raise TypeError("plot_compare needs a Verdict or a compare() table")
    t = t.isel({"class": slice(0, max_classes)})
    fig, ax = _figure(ax, figsize=figsize)
    ncls, nexp = t.sizes["class"], t.sizes["exponent"]
    width = 0.8 / max(nexp, 1)
    x = np.arange(ncls)
    for j, e in enumerate(t["exponent"].values):
        dev = np.clip(t["deviation"].values[:, j], -10, 10)
        ax.bar(x + (j - (nexp - 1) / 2) * width, np.nan_to_num(dev), width, label=str(e))
    for s in (-2, 2):
        ax.axhline(s, color="0.5", lw=0.8, ls="--")
    ax.axhline(0, color="k", lw=0.8)
    labels = [f"{c}\np={p:.2g}" if np.isfinite(p) else f"{c}\n-"
              for c, p in zip(t["class"].values, t["p_value"].values)]
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize="small")
    ax.set_ylabel("deviation / combined sigma (clipped at 10)")
    ax.legend(fontsize="small", ncol=min(nexp, 4))
    fig.tight_layout()
    return fig, ax


def plot_phase_diagram(line, error=None, x=None, points=None, labels=("chaotic", "ordered"),
                       xlabel=None, ylabel=None, ax=None, figsize=(5.0, 4.0)):
    """Phase diagram: a critical line with error band and optional measured points.

    Parameters
    ----------
    line : xarray.DataArray or array_like
        Critical value of the control (y) as a function of a second parameter (x), e.g.
        ``sigma_w_c(sigma_b)``; a 1-d DataArray carries its own x coordinate.
    error : array_like, optional
        Standard errors of ``line``.
    x : array_like, optional
        x values when ``line`` is a plain array.
    points : list of (float, Estimate or float), optional
        Measured critical points ``(x, y)`` drawn with error bars.
    labels : tuple of str
        Names of the phases above and below the line.
    xlabel, ylabel : str, optional
        Axis labels (default: from the DataArray).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    figsize : tuple
        Figure size when a new figure is made.

    Returns
    -------
    fig : matplotlib.figure.Figure
    ax : matplotlib.axes.Axes
    """
    if isinstance(line, xr.DataArray):
        if line.ndim != 1:
            raise ValueError("line: a 1-d DataArray (critical value vs one parameter)")
        d = line.dims[0]
        xs = np.asarray(line[d].values, dtype=float)
        xlabel = xlabel or d
        ylabel = ylabel or (line.name or "critical value")
        ys = np.asarray(line.values, dtype=float)
    else:
        ys = np.asarray(line, dtype=float)
        if x is None:
            raise ValueError("x: give the x values of the critical line")
        xs = np.asarray(x, dtype=float)
    if xs.shape != ys.shape:
        raise ValueError(f"x and line must have the same shape, got {xs.shape} and {ys.shape}")
    fig, ax = _figure(ax, figsize=figsize)
    ax.plot(xs, ys, "-", color="k", label="critical line")
    if error is not None:
        e = np.asarray(error, dtype=float)
        ax.fill_between(xs, ys - e, ys + e, color="0.6", alpha=0.4)
    if points:
        px = [float(p[0]) for p in points]
        pe = [as_estimate(p[1], "points") for p in points]
        ax.errorbar(px, [e.value for e in pe], yerr=[e.error for e in pe], fmt="o", ms=4,
                    color="C3", label="measured")
    if labels:
        ax.text(0.05, 0.92, labels[0], transform=ax.transAxes)
        ax.text(0.70, 0.06, labels[1], transform=ax.transAxes)
    ax.set_xlabel(xlabel or "x")
    ax.set_ylabel(ylabel or "critical value")
    ax.legend(fontsize="small", loc="center right")
    fig.tight_layout()
    return fig, ax

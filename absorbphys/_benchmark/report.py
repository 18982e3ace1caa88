"""Report of ``absorbphys benchmark``: table, Markdown, HTML (embedded figures), PNG, netCDF.

The report opens with its findings, written from the rows: the verdict of every process in
words, its exponents beside the catalogue values of its best class, how long it took against
its budget, and for networks how they compare with the reference models. The summary table
follows with a legend defining every column, then the figures, one section per process (with
the command that reproduces it) and an index of the data files.

Everything is written into a staging directory next to the output directory, which is then
swapped into place (:func:`absorbphys._io.replace_dir`): an interrupted run never leaves a
half-written report.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import platform
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from absorbphys._benchmark.config import default_config
from absorbphys._io import replace_dir, save, write_failure
from absorbphys._params import UsageError
from absorbphys.analysis import (
    FAMILIES,
    RESOLUTION,
    Estimate,
    catalog,
    effective_exponent,
)
from absorbphys.analysis._catalog import ALPHA as P_CONSISTENT

#: Exponent columns of the summary table: (row key, header).
COLUMNS = [
    ("critical_point", "critical point"),
    ("delta", "delta"),
    ("delta_prime", "delta'"),
    ("theta", "theta"),
    ("z_spreading", "z (spread)"),
    ("fss_a", "FSS a"),
    ("fss_b", "FSS b"),
    ("beta", "beta"),
]

#: Columns after the exponents: (header, definition). Together with :data:`COLUMN_HELP`
#: this is the legend printed under the summary table.
_VERDICT_HELP = (
    "the rule of absorbphys.analysis.decide (the same as 'absorbphys classify') over the "
    "independent groups of measurements (decay; seed spreading; finite-size scaling; "
    "stationary density). 'match': every group is consistent with the best class "
    f"(chi-square p >= {P_CONSISTENT:g} per group), at least two groups resolve it (precise "
    f"enough that a {2 * RESOLUTION[0]:.0%} deviation would be a 2-sigma effect) and the "
    "runner-up is excluded by some group. 'inconclusive': fewer than two groups resolve the "
    "best class, or the runner-up is consistent too. 'no match': every catalogued class is "
    "inconsistent with some group. 'no transition' (rows with a drift check): the located "
    "critical value drifts with the observation time (absorbphys.analysis.critical_drift), "
    "so it is a pseudo-critical point and no class is assigned. In the HTML report green is "
    "match, amber inconclusive, red no match or no transition")

#: Definition of every column of the summary table (the legend under it).
COLUMN_HELP = {
    "process": "name of the configuration entry (what --only takes)",
    "control": "the parameter swept to locate the critical point",
    "critical point": "value of the control where the late-time curvature of ln rho against "
                      "ln t vanishes, located from the data in a coarse-to-fine sweep",
    "delta": "rho(t) ~ t^-delta: decay of the order parameter (density of active sites; "
             "1 - c for networks) from the fully active state at the critical point",
    "delta'": "P(t) ~ t^-delta': survival probability of runs started from one active site",
    "theta": "N(t) ~ t^theta: mean number of active sites of those seed runs",
    "z (spread)": "R^2(t) ~ t^(2/z): mean squared distance of the active sites from the seed",
    "FSS a": "finite-size scaling rho(t; n) = n^-a F(t / n^b) at the critical point; n is "
             "the linear size L of a lattice, or the number of sites N of a fully connected "
             "model (the width of a network)",
    "FSS b": "see FSS a: the size scaling of the time at which finite size cuts the decay off",
    "beta": "rho_s ~ (x - x_c)^beta: stationary density above the critical point",
    "best": "the class ranked first by the verdict rule; 'closest: X (unresolved)' when no "
            "measurement is precise enough to resolve any class (then X is the class with "
            "the lowest score)",
    "runner-up": "the class ranked second",
    "score": "chi-square per degree of freedom of all measured exponents against the "
             "catalogue values of the class in 'best' (errors of both combined): about 1 or "
             "less is agreement, much more than 1 a disagreement",
    "verdict": _VERDICT_HELP,
    "family": "the family shared by every class consistent with the data: classes with the "
              "same bulk exponents that differ only in finite-size scaling ("
              + "; ".join(f"{k}: {', '.join(v)}" for k, v in FAMILIES.items())
              + "); '-' when the consistent classes differ",
    "time (budget)": "wall-clock time of the row (Numba compilation included) and, in "
                     "parentheses, the budget its sizes were chosen for on a 2-core VM",
}

#: CSS class of each verdict in the HTML report (colours in :func:`render_html`).
_VERDICT_CSS = {"match": "v-match", "inconclusive": "v-inconclusive", "no match": "v-nomatch",
                "no transition": "v-nomatch", "error": "v-nomatch"}
#: Sizes and their symbols in formulas and figures (networks: the width is a number N).
_SIZE_SYMBOL = {"L": "L", "N": "N", "width": "N"}


# ============================================================================ formatting
def _fmt(v) -> str:
    if isinstance(v, Estimate):
        if v.error == 0:
            return f"{v.value:.6g}"
        if not math.isfinite(v.error) or v.error <= 0:
            return f"{v.value:.4g}"
        digits = max(0, 1 - int(math.floor(math.log10(v.error))))
        digits = min(digits, 8)
        return f"{v.value:.{digits}f} ± {v.error:.{digits}f}"
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.3g}"
    return str(v)


def _fmt_catalog(v: Estimate) -> str:
    """Format a catalogue value: 4 digits when its error is negligible, else with it."""
    if v.error == 0 or v.error < 1e-3 * max(abs(v.value), 1.0):
        return f"{v.value:.4g}"
    return _fmt(v)


@lru_cache(maxsize=None)
def _class_names() -> dict:
    cat = catalog()
    return {str(c): str(n) for c, n in zip(cat["class"].values, cat["name"].values)}


def class_title(cls: str) -> str:
    """Return a catalogue class id with its short name, e.g. ``dp_1d (directed percolation 1+1)``.

    Parameters
    ----------
    cls : str
        Class id of :func:`absorbphys.analysis.catalog`.

    Returns
    -------
    str
        The id followed by the catalogue name up to its first parenthesis; the id alone for
        an unknown class.
    """
    name = _class_names().get(cls, "")
    name = name.split(" (")[0].strip()
    return f"{cls} ({name})" if name else cls


def shown_class(row) -> tuple:
    """Return the class a row's score and catalogue values refer to, and whether it is resolved.

    Parameters
    ----------
    row : dict
        A row of :class:`~absorbphys._benchmark.BenchmarkResult`.

    Returns
    -------
    (str, bool)
        The best class and True; or, when no measurement resolves any class, the class
        ranked first (the one the score belongs to) and False; ``("", False)`` without a
        ranking.
    """
    if row.get("best"):
        return row["best"], True
    ranking = row.get("ranking") or []
    return (str(ranking[0][0]), False) if ranking else ("", False)


def catalog_value(row, key, cls=None):
    """Return the catalogue value of one measured quantity of a row, or None.

    Parameters
    ----------
    row : dict
        A benchmark row; its ``reference`` holds the catalogue values of the best class and
        the runner-up (:func:`absorbphys.analysis.class_exponents`,
        :func:`~absorbphys.analysis.fss_exponents` with the row's size kind).
    key : str
        Row key of the quantity (``delta``, ``fss_a``...).
    cls : str, optional
        Class id (default: :func:`shown_class`).

    Returns
    -------
    Estimate or None
    """
    cls = cls if cls is not None else shown_class(row)[0]
    if not cls:
        return None
    x = ((row.get("reference") or {}).get(cls) or {}).get(key)
    if not x:
        return None
    return Estimate(float(x["value"]), float(x["error"]))


def _with_catalog(row, key) -> str:
    v = row.get(key)
    if not isinstance(v, Estimate):
        return _fmt(v)
    cls = shown_class(row)[0]
    ref = catalog_value(row, key, cls)
    return f"{_fmt(v)} ({cls} {_fmt_catalog(ref)})" if ref is not None else _fmt(v)


def _best_cell(row) -> str:
    cls, resolved = shown_class(row)
    if not cls:
        return "-"
    return cls if resolved else f"closest: {cls} (unresolved)"


def _time_cell(row) -> str:
    t, b = row.get("time_s"), row.get("budget_s")
    if not _finite(t):
        return "-"
    return f"{t:.0f} s ({b:.0f} s)" if _finite(b) else f"{t:.0f} s"


def _table_rows(result, catalogue=False):
    """Header and rows of the summary table (``catalogue``: class values beside exponents)."""
    header = ["process", "control"] + [h for _, h in COLUMNS] + \
        ["best", "runner-up", "score", "verdict", "family", "time (budget)"]
    rows = []
    for r in result.rows:
        ex = [(_with_catalog(r, k) if catalogue and k != "critical_point" else _fmt(r.get(k)))
              for k, _ in COLUMNS]
        rows.append([r["name"], r["control"]] + ex
                    + [_best_cell(r), r.get("runner_up") or "-", _fmt(r.get("score")),
                       r.get("verdict", "-"), r.get("family") or "-", _time_cell(r)])
    return header, rows


def text_table(result) -> str:
    """Plain-text table: model, critical point, exponents, best class, runner-up, verdict."""
    header, rows = _table_rows(result)
    # drop columns that are empty for every process
    keep = [i for i in range(len(header)) if i < 2 or any(r[i] != "-" for r in rows)
            or header[i] in ("best", "verdict")]
    header = [header[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    out.append("")
    out.append(f"mode={result.mode} seed={result.seed} time={result.wall_s:.0f} s"
               + (f"  report: {result.out / 'report.html'}" if result.out else ""))
    return "\n".join(out)


# ============================================================================ findings
def _is_network(result, row) -> bool:
    """Tell whether a row is a network: its time is the layer (see :func:`_unit`)."""
    for ds in result.datasets.get(row["name"], {}).values():
        if "t" in getattr(ds, "coords", {}):
            return _unit(ds) == "layer"
    return False


def _verdict_phrase(row) -> str:
    v = row.get("verdict", "")
    best, runner = row.get("best") or "", row.get("runner_up") or ""
    ranking = row.get("ranking") or []
    by = {str(r[0]): r for r in ranking}
    if v == "match":
        return (f"match with {class_title(best)}"
                + (f"; the runner-up {runner} is excluded" if runner else ""))
    if v == "no match":
        if not ranking:
            return "no match: no catalogued class fits"
        c, s = ranking[0][0], ranking[0][1]
        return (f"no match: no catalogued class fits every measurement (closest "
                f"{class_title(c)}, score {s:.3g})")
    if v == "error":
        return f"error: {row.get('reason', '')}"
    if v == "no transition":
        return f"no transition: {row.get('reason', '')}"
    fam = row.get("family") or ""
    if best and runner and len(by.get(runner, ())) > 2 and by[runner][2]:
        same = f", both of the {fam} family" if fam in FAMILIES else ""
        return (f"inconclusive between {class_title(best)} and {class_title(runner)}{same}: "
                "the data cannot separate them")
    if best:
        g = int(by[best][3]) if best in by and len(by[best]) > 3 else 0
        return (f"inconclusive: {class_title(best)} fits, but only {g} independent group"
                f"{'' if g == 1 else 's'} of measurements resolve{'s' if g == 1 else ''} it "
                "(two are needed)")
    if ranking:
        return (f"inconclusive: no measurement is precise enough to resolve a class (closest "
                f"{class_title(str(ranking[0][0]))})")
    return f"inconclusive: {row.get('reason') or 'nothing was measured'}"


def _time_phrase(row) -> str:
    t, b = row.get("time_s"), row.get("budget_s")
    if not _finite(t):
        return ""
    if not _finite(b) or b <= 0:
        return f"took {t:.0f} s"
    over = f", {t / b:.1f}x its budget" if t > b else ""
    return f"took {t:.0f} s of its {b:.0f} s budget{over}"


def _measured_phrase(row) -> str:
    parts = []
    xc = row.get("critical_point")
    if isinstance(xc, Estimate):
        parts.append(f"{row['control']}_c = {_fmt(xc)}")
    cls = shown_class(row)[0]
    for key, head in COLUMNS[1:]:
        v = row.get(key)
        if not isinstance(v, Estimate):
            continue
        ref = catalog_value(row, key, cls)
        parts.append(f"{head} = {_fmt(v)}"
                     + (f" ({cls} {_fmt_catalog(ref)})" if ref is not None else ""))
    return ", ".join(parts)


def _row_finding(result, row) -> str:
    what = row.get("label") or row["model"]
    if isinstance(row.get("fss_a"), Estimate):
        sp = row.get("size_param", "")
        what += "; FSS over the width N" if sp == "width" else f"; FSS over the size {sp}"
    text = f"**{row['name']}** ({what}): {_verdict_phrase(row)}"
    meas = _measured_phrase(row)
    if meas:
        text += f"; {meas}"
    text += "."
    tp = _time_phrase(row)
    if tp:
        text += f" It {tp}."
    if row.get("calibration"):
        text += f" Calibration: {row['calibration']}"
    if row.get("stage_errors"):
        text += " Not measured: " + ", ".join(row["stage_errors"]) + "."
    return text


def _sigmas(a: Estimate, b: Estimate) -> float:
    err = math.hypot(a.error, b.error)
    return abs(a.value - b.value) / err if err > 0 else float("inf")


def _network_finding(net, refs) -> str:
    """One sentence: a network row against every reference row, exponent by exponent."""
    parts = []
    for ref in refs:
        common = [(h, _sigmas(net[k], ref[k])) for k, h in COLUMNS[1:]
                  if isinstance(net.get(k), Estimate) and isinstance(ref.get(k), Estimate)]
        cls = shown_class(ref)[0] or "no class"
        d = ", ".join(f"{h} {s:.1f}σ" for h, s in common) or "no common exponent"
        parts.append(f"{ref['name']} ({cls}, {ref.get('verdict', '-')}): {d}")
    best, resolved = shown_class(net)
    what = "best class" if resolved else "closest class (unresolved)"
    same = [r["name"] for r in refs if best and shown_class(r)[0] == best]
    if not best:
        tail = "it has no class to compare"
    elif same:
        tail = f"its {what} {best} is also that of {', '.join(same)}"
    else:
        tail = f"its {what} {best} is that of no reference row"
    return (f"**{net['name']}** against the reference rows (differences in combined "
            "standard errors σ): " + "; ".join(parts) + f"; {tail}.")


def _networks_answer(nets, refs) -> str:
    """Answer for the networks: do they fall in a catalogued class, and a reference row's."""
    by = {}
    for r in nets:
        by.setdefault(r.get("verdict", "-"), []).append(r)
    parts = []
    for v in ("match", "inconclusive", "no match", "no transition", "error"):
        rs = by.get(v, [])
        if rs:
            parts.append(f"{v}: " + ", ".join(
                f"{r['name']} ({shown_class(r)[0] or 'no class'}"
                + ("" if shown_class(r)[1] or not shown_class(r)[0] else ", unresolved")
                + ")" for r in rs))
    n_match = len(by.get("match", []))
    ref_cls = {shown_class(r)[0]: r["name"] for r in refs if shown_class(r)[1]}
    shared = [f"{r['name']} ({shown_class(r)[0]}"
              + ("" if shown_class(r)[1] else ", unresolved")
              + f", like {ref_cls[shown_class(r)[0]]})"
              for r in nets if shown_class(r)[0] in ref_cls]
    return (f"**Networks**: {n_match} of {len(nets)} network rows match a catalogued class "
            f"({'; '.join(parts)}). "
            + ("In the class of a reference row: " + ", ".join(shared) + "."
               if shared else "None is in the class of a reference row."))


def findings(result) -> list:
    """Return the findings of a benchmark in words, one sentence per row, then the comparison.

    Parameters
    ----------
    result : BenchmarkResult
        What :func:`absorbphys.benchmark` measured.

    Returns
    -------
    list of str
        Markdown sentences: with networks in the run, first the answer for them (how many
        match a catalogued class, which, and whether it is a reference row's class); then
        one per process (verdict, exponents beside the catalogue values of the best class,
        time against budget, calibration), one per network comparing it with the reference
        (lattice) rows exponent by exponent, and one on the total time and the rows over
        their budget.
    """
    nets = [r for r in result.rows if _is_network(result, r)]
    refs = [r for r in result.rows if not _is_network(result, r)]
    out = [_networks_answer(nets, refs)] if nets else []
    out += [_row_finding(result, r) for r in result.rows]
    if nets and refs:
        out += [_network_finding(n, refs) for n in nets]
    elif nets:
        out.append("No reference (lattice) row in this run: the networks are compared with "
                   "the catalogue only.")
    else:
        out.append("No network row in this run: the reference rows are compared with the "
                   "catalogue only.")
    over = [r for r in result.rows if _finite(r.get("time_s")) and _finite(r.get("budget_s"))
            and r["time_s"] > r["budget_s"]]
    total = sum(float(r.get("budget_s") or 0) for r in result.rows)
    out.append(f"The run took {result.wall_s:.0f} s in all (budget {total:.0f} s); "
               + ("over budget: " + ", ".join(f"{r['name']} ({r['time_s']:.0f} s of "
                                              f"{r['budget_s']:.0f} s)" for r in over)
                  if over else "every row within its budget") + ".")
    return out


def reproduce_command(result, name: str) -> str:
    """Return the command that reruns one row of a benchmark.

    Parameters
    ----------
    result : BenchmarkResult
        The run (its mode, master seed and configuration).
    name : str
        The row (configuration entry) to rerun.

    Returns
    -------
    str
        ``absorbphys benchmark --MODE --only NAME --seed SEED``, with ``--config config.json``
        (the run's configuration, written beside the report) when the entry is not the
        built-in one of that mode.
    """
    entry = next((e for e in result.config if e.get("name") == name), None)
    builtin = {e.name: e.to_dict() for e in default_config(result.mode)}
    same = entry is not None and name in builtin and \
        json.loads(json.dumps(builtin[name])) == json.loads(json.dumps(entry))
    cmd = f"absorbphys benchmark --{result.mode} --only {name} --seed {result.seed}"
    return cmd if same else cmd + " --config config.json"


# ============================================================================ figures
def _figure(w=6.4, h=4.8):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def _cmap():
    import matplotlib

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
    long_name, units = a.get("long_name", "time"), _unit(ds)
    if units and units not in long_name:
        return f"{long_name} $t$ ({units})"
    return f"{long_name} $t$"


def _unit(ds) -> str:
    """Return the kind of time ("step", "MCS", "layer"): ``time_unit``, else ``units``."""
    if ds is None or "t" not in ds.coords:
        return ""
    a = ds["t"].attrs
    return a.get("time_unit") or (a.get("units", "") if a.get("units") != "1" else "")


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
        from matplotlib.colors import Normalize

        norm = Normalize(xs.min(), xs.max() if xs.max() > xs.min() else xs.min() + 1)
        many = len(xs) > 3
        for i, x in enumerate(xs):
            y = m[i] if m.ndim > 1 else m
            ok = (t > 0) & (y > 0)
            ax.plot(t[ok], y[ok], color=cmap(norm(x)), lw=0.9, alpha=0.7,
                    label=None if many else f"{ctrl} = {x:.5g}")
        if many:
            from matplotlib.cm import ScalarMappable

            cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=[ax, ax2],
                              label=f"{ctrl} of the sweep (last level)", shrink=0.6)
            xc = row.get("critical_point")
            if isinstance(xc, Estimate):
                cb.ax.axhline(xc.value, color="k", lw=2)
    xc = row.get("critical_point")
    lab = f"{ctrl}_c = {_fmt(xc)}" if isinstance(xc, Estimate) else "decay run"
    if crit is None and isinstance(xc, Estimate) and var in sw and ctrl in sw.dims:
        # no run at x_c itself (located from seeds): the sweep point nearest to it
        xs = np.atleast_1d(sw[ctrl].values).astype(float)
        i = int(np.argmin(np.abs(xs - xc.value)))
        crit = sw.isel({ctrl: [i]})
        lab = f"{ctrl} = {xs[i]:.5g}, nearest to {ctrl}_c = {_fmt(xc)}"
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
        ax2.axhline(de.value, color="C0", lw=1.2, label=f"measured {key} = {_fmt(de)}")
        ax2.axhspan(de.value - de.error, de.value + de.error, color="C0", alpha=0.15)
    if ref is not None:
        ax2.axhline(ref.value, color="C3", ls="--", lw=1.4,
                    label=f"{cls} (catalogue): {_fmt_catalog(ref)}")
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
    s = _SIZE_SYMBOL.get(sp, rf"\mathrm{{{sp}}}")
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
                         label=f"{cls} (catalogue): a = {_fmt_catalog(ref_a)}, "
                               f"b = {_fmt_catalog(ref_b)}, slope $-a/b$ = {-slope:.4g}")
        unit = _unit(first[0]) if first else ""
        ax2.set_xlabel(rf"$t/{s}^{{{b.value:.3f}}}$" + (f"  ($t$ in {unit})" if unit else ""))
        ax2.set_ylabel(rf"${s}^{{{a.value:.3f}}}\,\rho(t)$")
        ax2.set_title(f"collapse: a = {_fmt(a)}, b = {_fmt(b)}\n"
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
    from matplotlib.patches import Patch, Rectangle

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
                            f"t ≤ {int(d['t'].values[-1])} {_unit(d)}s", "s", f"C{j + 4}"))
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


def _entry(result, name) -> dict:
    return next((e for e in result.config if e.get("name") == name), {})


def _entry_param(result, name, key, default):
    return _entry(result, name).get("params", {}).get(key, default)


# ============================================================================ data index
def _describe_values(ds, ctrl) -> str:
    parts = []
    if ctrl in ds.coords:
        xs = np.atleast_1d(ds[ctrl].values).astype(float)
        parts.append(f"{ctrl} = {xs[0]:.6g}" if len(xs) == 1 else
                     f"{ctrl} = {xs.min():.6g}..{xs.max():.6g} ({len(xs)} values)")
    sp = ds.attrs.get("size_param")
    if sp and sp in ds.coords:
        parts.append(f"{sp} = {int(np.atleast_1d(ds[sp].values)[0])}")
    if "t" in ds.coords and ds.sizes.get("t"):
        unit = _unit(ds)
        parts.append(f"t ≤ {float(ds['t'].values[-1]):g}" + (f" ({unit})" if unit else ""))
    if "n_samples" in ds.coords:
        parts.append(f"{int(ds['n_samples'].values.sum())} samples per point in "
                     f"{ds.sizes.get('batch', 1)} batches")
    init = ds.attrs.get("init")
    if init:
        parts.append("from " + {"full": "the fully active state",
                                "seed": "one active site"}.get(str(init), str(init)))
    return ", ".join(parts)


def describe_data(stage: str, ds, row) -> str:
    """One line saying what a netCDF file of the benchmark holds.

    Parameters
    ----------
    stage : str
        File name without ``.nc``: a stage (``sweep0``, ``decay``, ``spreading``,
        ``fss_64_minus``, ``beta``...), ``analysis_<stage>`` or ``estimates``.
    ds : xarray.Dataset
        Its contents.
    row : dict
        The benchmark row it belongs to.

    Returns
    -------
    str
    """
    ctrl = row.get("control", "")
    xc = f"{ctrl}_c"
    names = [str(v) for v in ds.data_vars if not str(v).endswith("_error")]
    if stage == "estimates":
        return ("every estimate of the row with its error (name, name_error); verdict, best "
                "class, runner-up, score and reason as attributes")
    if stage.startswith("analysis_"):
        of = stage[len("analysis_"):]
        return f"analysis of {of}: " + ", ".join(names) + " (with errors)"
    base, shift = stage, ""
    for suf, txt in (("_minus", f" at {xc} minus its error"),
                     ("_plus", f" at {xc} plus its error")):
        if stage.endswith(suf):
            base, shift = stage[:-len(suf)], txt
    at = shift or f" at the critical point {xc}"
    m = re.fullmatch(r"sweep(\d+)", base)
    if m:
        what = f"critical-point sweep, level {int(m.group(1)) + 1}"
    elif base == "decay":
        what = "decay run" + at
    elif base == "spreading":
        what = "seed-spreading runs" + at
    elif base.startswith("fss_"):
        what = "finite-size-scaling run" + at
    elif base == "beta":
        what = "off-critical runs above the critical point (stationary density, beta)"
    else:
        what = f"stage {stage}" + shift
    detail = _describe_values(ds, ctrl)
    return f"{what}: {detail}; variables {', '.join(names)}" if detail else \
        f"{what}; variables {', '.join(names)}"


# ============================================================================ documents
def _markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


_INTRO = (
    "Every critical point below was located from the simulated data (zero of the late-time "
    "curvature of ln rho against ln t in a coarse-to-fine sweep). Errors combine the "
    "statistical (jackknife) error with systematic ones measured from the data: the drift "
    "across the fit window, the correction to scaling of beta, the choice of the collapse "
    "window, the shift across the critical point's error bar and without the smallest size. "
    "'Calibration' lines give how often the verdict came out over independent master seeds "
    "(benchmarks/calibrate.py --verdicts). The columns of the table are defined under it.")


def _blocks(result, figs, index=None):
    """Return the report as a list of blocks ``(kind, payload...)``.

    Kinds: ``h1``, ``h2``, ``p`` (text with ``**bold**`` and ```code```), ``list`` (items),
    ``legend`` (``(term, definition)`` pairs), ``verdict`` (verdict, text), ``code``
    (a shell command), ``table`` (header, rows, and optionally the index of a column of
    file links) and ``img`` (path, caption).
    """
    from absorbphys._version import __version__

    b = [("h1", "absorbphys benchmark report"), ("h2", "Findings"),
         ("list", findings(result))]
    b.append(("p", f"Mode **{result.mode}**, master seed {result.seed}, absorbphys "
                   f"{__version__}, {platform.machine()} with {_ncpu()} CPU(s), total "
                   f"{result.wall_s:.0f} s."))
    b.append(("h2", "Summary"))
    b.append(("p", _INTRO))
    header, rows = _table_rows(result, catalogue=True)
    b.append(("table", header, rows))
    b.append(("p", "Exponent cells: measured value ± error, then in parentheses the "
                   "catalogue value of the class in 'best' (absorbphys.analysis.catalog; "
                   "none where the class has no value); '-': not measured."))
    b.append(("legend", [(h, COLUMN_HELP[h]) for h in header if h in COLUMN_HELP]))
    captions = {
        "classes": "Class comparison: the score (chi-square per degree of freedom) of every "
                   "process against every catalogued class, on a log scale; the best class "
                   "is outlined; hatched cells were not compared (the class has no "
                   "catalogue value for the process's dimension or measured exponents).",
        "phase_diagram": "MLP phase diagram: the infinite-width critical line and the "
                         "measured critical points; right, every measured point at its true "
                         "value (final level and the coarser sweep levels) against the "
                         "mean-field value.",
    }
    for name, path in figs.items():
        if name in captions:
            b.append(("img", path, captions[name]))
    for r in result.rows:
        b.append(("h2", f"{r['name']}: {r['label']}"))
        b.append(("verdict", r.get("verdict", "-"), r.get("reason", "")))
        freq = r.get("calibration")
        if freq:
            b.append(("p", f"Calibration: {freq}"))
        cmd = reproduce_command(result, r["name"])
        b.append(("p", "Reproduce this row" + (" (in this folder: config.json holds the run's "
                                              "configuration):" if "--config" in cmd else
                                              ":")))
        b.append(("code", cmd))
        ref = r.get("reference") or {}
        cols = [c for c in (r.get("best"), r.get("runner_up")) if c]
        rows_ = []
        for k, v in r.items():
            if not isinstance(v, Estimate):
                continue
            line = [k, _fmt(v)]
            for c in cols:
                x = ref.get(c, {}).get(k)
                line.append(_fmt(Estimate(x["value"], x["error"])) if x else "-")
            rows_.append(line)
        b.append(("table", ["estimate", "measured"] + [f"{c} (catalogue)" for c in cols],
                  rows_))
        if r.get("ranking"):
            b.append(("table", ["class", "score (chi2/dof)", "consistent with every group",
                                "groups resolving it"],
                      [[str(c), f"{s:.3g}", "yes" if ok else "no",
                        str(rest[0]) if rest else "-"] for c, s, ok, *rest in r["ranking"]]))
        st = r.get("stage_times", {})
        b.append(("p", f"Time {r['time_s']:.1f} s (budget {r['budget_s']:.0f} s); stages: "
                       + ", ".join(f"{k} {v:.1f} s" for k, v in st.items())))
        win = r.get("windows")
        if win:
            b.append(("p", "Search windows of " + r["control"] + ": "
                      + ", ".join(f"[{lo:.6g}, {hi:.6g}]" for lo, hi in win)))
        if r.get("notes"):
            b.append(("p", "Note: " + r["notes"] + "."))
        parts = r.get("error_parts") or {}
        if parts:
            b.append(("p", "Error budget (combined in quadrature): " + "; ".join(
                f"{k}: " + ", ".join(f"{kk} {vv:.2g}" for kk, vv in v.items())
                for k, v in parts.items())))
        if r.get("stage_errors"):
            b.append(("p", "Not measured: " + "; ".join(f"{k}: {v}" for k, v in
                                                      r["stage_errors"].items())))
        cls = shown_class(r)[0]
        for key, cap in ((f"{r['name']}_decay",
                          f"{r['name']}: decay at the critical point over the last sweep "
                          "level (colour: control), band ±1 standard error over batches, "
                          f"dashed: the {cls or 'best class'} prediction; below, the local "
                          "slope against the measured and catalogue exponents."),
                         (f"{r['name']}_collapse",
                          f"{r['name']}: finite-size scaling at the critical point (bands "
                          "±1 standard error) and the data collapse (error bars on the "
                          "times the fit used; dashed: the class's slope).")):
            if key in figs:
                b.append(("img", figs[key], cap))
    if index:
        b.append(("h2", "Data files"))
        b.append(("p", "Everything the benchmark simulated and measured, as netCDF (read "
                       "with absorbphys.load or xarray); config.json holds the run's "
                       "configuration (absorbphys benchmark --config config.json), "
                       "results.json the summary."))
        b.append(("table", ["file", "holds"], [list(x) for x in index], 0))
    return b


def _ncpu():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count()


def render_markdown(blocks) -> str:
    """Render report blocks as Markdown (figures linked as files).

    Parameters
    ----------
    blocks : list of tuple
        The report, from :func:`_blocks`.

    Returns
    -------
    str
    """
    out = []
    for blk in blocks:
        kind = blk[0]
        if kind == "h1":
            out.append(f"# {blk[1]}\n")
        elif kind == "h2":
            out.append(f"## {blk[1]}\n")
        elif kind == "p":
            out.append(blk[1] + "\n")
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in blk[1]) + "\n")
        elif kind == "legend":
            out.append("Columns:\n\n" + "\n".join(f"- **{t}**: {d}" for t, d in blk[1])
                       + "\n")
        elif kind == "verdict":
            out.append(f"**Verdict: {blk[1]}.** {blk[2]}\n")
        elif kind == "code":
            out.append(f"```bash\n{blk[1]}\n```\n")
        elif kind == "table":
            rows = blk[2]
            if len(blk) > 3:
                c = blk[3]
                rows = [[f"[{r[c]}]({r[c]})" if i == c else x for i, x in enumerate(r)]
                        for r in rows]
            out.append(_markdown_table(blk[1], rows) + "\n")
        elif kind == "img":
            out.append(f"![{Path(blk[1]).stem}]({blk[1]})\n\n*{blk[2]}*\n")
    return "\n".join(out)


_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
    "color:#1a1a1a;line-height:1.45}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#eee}img{max-width:100%}figure{margin:1.5em 0}"
    "figcaption{font-size:13px;color:#333}"
    "ul.findings li{margin:.35em 0}"
    "dl.legend{font-size:13px}dl.legend dt{font-weight:bold;margin-top:.4em}"
    "dl.legend dd{margin-left:1.5em}"
    "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}"
    "code{background:#f4f4f4;padding:0 .2em}"
    ".verdict{font-weight:bold;padding:1px 6px;border-radius:3px}"
    # verdict colours: dark text on light tints, contrast above 7:1 (WCAG AAA)
    ".v-match{background:#d1e7dd;color:#0a3622}"
    ".v-inconclusive{background:#fff3cd;color:#523e02}"
    ".v-nomatch{background:#f8d7da;color:#58151c}")


def render_html(blocks, root: Path) -> str:
    """Render report blocks as one self-contained HTML page (figures as base64 PNG).

    Parameters
    ----------
    blocks : list of tuple
        The report, from :func:`_blocks`.
    root : pathlib.Path
        Folder the figure paths are relative to.

    Returns
    -------
    str
    """
    def inline(s):
        s = html.escape(s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", s)

    def verdict_span(v, text=None):
        css = _VERDICT_CSS.get(v)
        t = html.escape(text if text is not None else v)
        return f'<span class="verdict {css}">{t}</span>' if css else t

    body = []
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(blk[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{inline(blk[1])}</p>")
        elif kind == "list":
            body.append('<ul class="findings">' + "".join(f"<li>{inline(i)}</li>"
                                                           for i in blk[1]) + "</ul>")
        elif kind == "legend":
            body.append('<dl class="legend">' + "".join(
                f"<dt>{html.escape(t)}</dt><dd>{inline(d)}</dd>" for t, d in blk[1]) + "</dl>")
        elif kind == "verdict":
            body.append(f"<p>{verdict_span(blk[1], f'Verdict: {blk[1]}')} {inline(blk[2])}</p>")
        elif kind == "code":
            body.append(f"<pre><code>{html.escape(blk[1])}</code></pre>")
        elif kind == "table":
            header = blk[1]
            vcol = header.index("verdict") if "verdict" in header else -1
            link = blk[3] if len(blk) > 3 else -1
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)

            def cell(i, c):
                if i == vcol:
                    return f"<td>{verdict_span(c)}</td>"
                if i == link:
                    q = html.escape(c, quote=True)
                    return f'<td><a href="{q}">{html.escape(c)}</a></td>'
                return f"<td>{inline(c)}</td>"

            rows = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>"
                           for r in blk[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode((root / blk[1]).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(blk[2], quote=True)}" '
                        f'src="data:image/png;base64,{data}"/>'
                        f"<figcaption>{inline(blk[2])}</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>absorbphys benchmark report</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# ============================================================================ writing
def _save_fig(fig, path: Path):
    fig.savefig(path, format="png", dpi=100)


def _estimates_dataset(row):
    import xarray as xr

    data = {}
    for k, v in row.items():
        if isinstance(v, Estimate):
            data[k] = ((), v.value)
            data[f"{k}_error"] = ((), v.error)
    attrs = {"process": row["name"], "label": row["label"], "model": row["model"],
             "control": row["control"], "verdict": row["verdict"],
             "best": row.get("best") or "", "runner_up": row.get("runner_up") or "",
             "reason": row.get("reason", ""),
             "score": float(row["score"]) if _finite(row.get("score")) else -1.0}
    return xr.Dataset(data, attrs=attrs)


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def _result_dataset(res):
    """Analysis result Datasets are netCDF-safe except for odd attribute types."""
    ds = res.copy()
    for k, v in list(ds.attrs.items()):
        if isinstance(v, bool):
            ds.attrs[k] = int(v)
        elif isinstance(v, (dict, type(None))):
            ds.attrs[k] = json.dumps(v)
        elif isinstance(v, (list, tuple)) and not all(isinstance(x, (int, float, str))
                                                      for x in v):
            ds.attrs[k] = json.dumps(v, default=str)
    return ds


def write_outputs(result, out: Path, log=None):
    """Write netCDF data, figures, report.md, report.html and results.json atomically.

    Parameters
    ----------
    result : BenchmarkResult
        What :func:`absorbphys.benchmark` measured.
    out : pathlib.Path
        Output directory. Everything is written into a staging folder beside it, which then
        takes its place; files in the old ``out`` that its previous run did not list in
        ``results.json`` are carried over, never deleted.
    log : callable, optional
        Progress lines.

    Returns
    -------
    list of str
        Files written, relative to ``out``.

    Raises
    ------
    UsageError
        If writing fails (e.g. a full disk); the outputs then go to a new folder in the
        system's temporary directory, named in the message, when there is room there.
    """
    log = log or (lambda m: None)
    try:
        return _write_outputs(result, out, log)
    except (OSError, UsageError) as exc:
        failure = exc if isinstance(exc, UsageError) else write_failure(out, exc)
    # The measurements are in memory: put them where there is room, and say where.
    fallback = Path(tempfile.mkdtemp(prefix="absorbphys-benchmark-"))
    try:
        _write_outputs(result, fallback / "out", log)
    except (OSError, UsageError):
        shutil.rmtree(fallback, ignore_errors=True)
        raise failure from None
    raise UsageError(f"{failure} - the outputs were written to {fallback / 'out'} instead")


def _previous_files(out: Path) -> list:
    try:
        files = json.loads((out / "results.json").read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [f for f in files if isinstance(f, str)] + ["results.json"]


def _write_outputs(result, out: Path, log):
    import xarray as xr

    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=parent))
    try:
        files, index = [], []
        (staging / "data").mkdir()
        (staging / "figures").mkdir()
        for row in result.rows:
            name = row["name"]
            d = staging / "data" / name
            d.mkdir()
            for stage, ds in result.datasets.get(name, {}).items():
                save(ds, d / f"{stage}.nc")
                files.append(f"data/{name}/{stage}.nc")
                index.append((files[-1], describe_data(stage, ds, row)))
            est = _estimates_dataset(row)
            save(est, d / "estimates.nc")
            files.append(f"data/{name}/estimates.nc")
            index.append((files[-1], describe_data("estimates", est, row)))
            for stage, res in result.analyses.get(name, {}).get("results", {}).items():
                if isinstance(res, xr.Dataset):
                    try:
                        save(_result_dataset(res), d / f"analysis_{stage}.nc")
                        files.append(f"data/{name}/analysis_{stage}.nc")
                        index.append((files[-1], describe_data(f"analysis_{stage}", res,
                                                               row)))
                    except Exception as exc:  # an attribute netCDF rejects: skip the file
                        log(f"{name}: analysis_{stage}.nc not written ({exc})")
        figs = {}
        for row in result.rows:
            name = row["name"]
            res = result.analyses.get(name, {}).get("results", {})
            for key, fn in ((f"{name}_decay",
                             lambda: fig_decay(name, row, result.datasets.get(name, {}),
                                               res)),
                            (f"{name}_collapse",
                             lambda: fig_collapse(name, row, res, _entry(result, name)))):
                try:
                    fig = fn()
                except Exception as exc:
                    log(f"figure {key} failed: {exc}")
                    fig = None
                if fig is not None:
                    path = f"figures/{key}.png"
                    _save_fig(fig, staging / path)
                    figs[key] = path
        for key, fn in (("classes", fig_classes), ("phase_diagram", fig_phase_diagram)):
            try:
                fig = fn(result)
            except Exception as exc:
                log(f"figure {key} failed: {exc}")
                fig = None
            if fig is not None:
                path = f"figures/{key}.png"
                _save_fig(fig, staging / path)
                figs[key] = path
        files += list(figs.values())
        result.figures = dict(figs)
        (staging / "config.json").write_text(json.dumps(result.config, indent=1,
                                                        default=str))
        blocks = _blocks(result, figs, index)
        (staging / "report.md").write_text(render_markdown(blocks))
        (staging / "report.html").write_text(render_html(blocks, staging))
        files += ["config.json", "report.md", "report.html", "results.json"]
        summary = result.to_dict()
        summary["files"] = files
        summary["config"] = result.config
        (staging / "results.json").write_text(json.dumps(summary, indent=1, allow_nan=False,
                                                         default=str))
        carried = replace_dir(staging, out, _previous_files(out), keep=(".checkpoints",))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if carried:
        log(f"kept {len(carried)} file(s) in {out} that the benchmark did not write: "
            + ", ".join(carried[:5]) + (" ..." if len(carried) > 5 else ""))
    log(f"wrote {out}/report.html, report.md, results.json, {len(figs)} figures, "
        f"{sum(f.endswith('.nc') for f in files)} netCDF files")
    return files

"""Report of ``absorbphys benchmark``: table, Markdown, HTML (embedded figures), PNG, netCDF.

The report opens with its findings, written from the rows: the verdict of every process in
words, its exponents beside the catalogue values of its best class, how long it took against
its budget, and for networks how they compare with the reference models. The summary table
follows with a legend defining every column, then the figures, one section per process (with
the command that reproduces it) and an index of the data files.

Everything is written into a staging directory next to the output directory, which is then
swapped into place (:func:`absorbphys._io.replace_dir`): an interrupted run never leaves a
half-written report.

One file, past the ~600-line guide: the findings, the data index and the Markdown and HTML
documents are written from the same blocks (figures: :mod:`~absorbphys._benchmark.figures`).
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
from pathlib import Path

import numpy as np
import xarray as xr

from absorbphys._benchmark.config import default_config
from absorbphys._benchmark.figures import (
    fig_classes,
    fig_collapse,
    fig_decay,
    fig_phase_diagram,
)
from absorbphys._benchmark.format import (
    catalog_value,
    class_title,
    entry_of,
    fmt,
    fmt_catalog,
    shown_class,
    time_unit,
)
from absorbphys._io import replace_dir, save, write_failure
from absorbphys._params import UsageError
from absorbphys._version import __version__
from absorbphys.analysis import (
    FAMILIES,
    RESOLUTION,
    Estimate,
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


def _with_catalog(row, key) -> str:
    v = row.get(key)
    if not isinstance(v, Estimate):
        return fmt(v)
    cls = shown_class(row)[0]
    ref = catalog_value(row, key, cls)
    return f"{fmt(v)} ({cls} {fmt_catalog(ref)})" if ref is not None else fmt(v)


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
        ex = [(_with_catalog(r, k) if catalogue and k != "critical_point" else fmt(r.get(k)))
              for k, _ in COLUMNS]
        rows.append([r["name"], r["control"]] + ex
                    + [_best_cell(r), r.get("runner_up") or "-", fmt(r.get("score")),
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
    """Tell whether a row is a network: its time is the layer (see :func:`unit`)."""
    for ds in result.datasets.get(row["name"], {}).values():
        if "t" in getattr(ds, "coords", {}):
            return time_unit(ds) == "layer"
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
        parts.append(f"{row['control']}_c = {fmt(xc)}")
    cls = shown_class(row)[0]
    for key, head in COLUMNS[1:]:
        v = row.get(key)
        if not isinstance(v, Estimate):
            continue
        ref = catalog_value(row, key, cls)
        parts.append(f"{head} = {fmt(v)}"
                     + (f" ({cls} {fmt_catalog(ref)})" if ref is not None else ""))
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
        unit = time_unit(ds)
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
    "window, the shift when the smallest size is left out, and the critical point's error "
    "(half the shift between x_c and x_c -+ 2 of its error bars). "
    "'Calibration' lines give how often the verdict came out over independent master seeds "
    "(benchmarks/calibrate.py --verdicts). The columns of the table are defined under it.")


def _blocks(result, figs, index=None):
    """Return the report as a list of blocks ``(kind, payload...)``.

    Kinds: ``h1``, ``h2``, ``p`` (text with ``**bold**`` and ```code```), ``list`` (items),
    ``legend`` (``(term, definition)`` pairs), ``verdict`` (verdict, text), ``code``
    (a shell command), ``table`` (header, rows, and optionally the index of a column of
    file links) and ``img`` (path, caption).
    """
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
            line = [k, fmt(v)]
            for c in cols:
                x = ref.get(c, {}).get(k)
                line.append(fmt(Estimate(x["value"], x["error"])) if x else "-")
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
                             lambda: fig_collapse(name, row, res, entry_of(result, name)))):
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

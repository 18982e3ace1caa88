"""Report of ``absorbphys benchmark``: table, Markdown, HTML (embedded figures), PNG, netCDF.

Everything is written into a staging directory next to the output directory, which is then
swapped into place (:func:`absorbphys._benchmark.replace_dir`): an interrupted run never
leaves a half-written report.
"""

from __future__ import annotations

import base64
import html
import json
import math
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from absorbphys._io import replace_dir, save, write_failure
from absorbphys._params import UsageError

#: Table columns: (row key, header).
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


def _fmt(v) -> str:
    from absorbphys.analysis._estimate import Estimate

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


def _table_rows(result):
    header = ["process", "control"] + [h for _, h in COLUMNS] + \
        ["best", "runner-up", "score", "verdict", "family"]
    rows = []
    for r in result.rows:
        rows.append([r["name"], r["control"]] + [_fmt(r.get(k)) for k, _ in COLUMNS]
                    + [r.get("best") or "-", r.get("runner_up") or "-", _fmt(r.get("score")),
                       r.get("verdict", "-"), r.get("family") or "-"])
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


# ============================================================================ figures
def _figure(w=6.4, h=4.8):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def _weighted_mean(da):
    w = da["n_samples"] if "n_samples" in da.coords else None
    return da.weighted(w).mean("batch") if w is not None else da.mean("batch")


def fig_decay(name, row, datasets, results):
    """Decay at the critical point with the sweep around it, and local slopes."""
    from absorbphys.analysis._estimate import Estimate

    ctrl = row["control"]
    fig = _figure(6.4, 6.4)
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    sweeps = sorted(k for k in datasets if k.startswith("sweep") and "_miss" not in k)
    if sweeps:
        sw = datasets[sweeps[-1]]
        m = _weighted_mean(sw["rho"])
        cmap = _cmap()
        xs = sw[ctrl].values
        for i, x in enumerate(xs):
            y = m.isel({ctrl: i})
            t = sw["t"].values
            ok = (t > 0) & (y.values > 0)
            ax.plot(t[ok], y.values[ok], color=cmap(i / max(len(xs) - 1, 1)), lw=0.8,
                    alpha=0.6, label=f"{ctrl}={x:.5g}" if i in (0, len(xs) - 1) else None)
    if "decay" in datasets:
        d = datasets["decay"].isel({ctrl: 0})
        m = _weighted_mean(d["rho"])
        t = d["t"].values
        ok = (t > 0) & (m.values > 0)
        xc = row.get("critical_point")
        ax.plot(t[ok], m.values[ok], "k-", lw=2,
                label=f"{ctrl}_c = {_fmt(xc)}" if isinstance(xc, Estimate) else "decay run")
        try:
            from absorbphys._benchmark_measure import _an

            es = _an("effective_exponent")(d, b=4.0)
            key = [k for k in es.data_vars if not k.endswith("_error")][0]
            v, e = es[key].values, es[f"{key}_error"].values
            tt = es["t"].values
            ax2.errorbar(tt, v, yerr=e, fmt="o-", ms=3, color="k", lw=1)
        except Exception:
            pass
        de = row.get("delta")
        if isinstance(de, Estimate):
            ax2.axhline(de.value, color="C3", ls="--", label=f"delta = {_fmt(de)}")
            ax2.axhspan(de.value - de.error, de.value + de.error, color="C3", alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("rho(t)")
    ax.set_title(f"{name}: decay from the active state", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax2.set_xscale("log")
    ax2.set_xlabel("t")
    ax2.set_ylabel("local slope delta_eff(t)")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(fontsize=8)
    return fig


def _cmap():
    import matplotlib

    return matplotlib.colormaps["viridis"]


def fig_collapse(name, row, results):
    """Finite-size data collapse ``n^a rho`` against ``t / n^b``."""
    dss = results.get("fss_data")
    if not dss:
        return None
    a = row.get("fss_a")
    b = row.get("fss_b")
    ctrl = row["control"]
    fig = _figure(9.6, 4.2)
    ax1, ax2 = fig.subplots(1, 2)
    cmap = _cmap()
    for i, (n, ds) in enumerate(sorted(dss.items())):
        d = ds.isel({ctrl: 0}) if ctrl in ds.dims else ds
        m = _weighted_mean(d["rho"])
        t = d["t"].values.astype(float)
        ok = (t > 0) & (m.values > 0)
        col = cmap(i / max(len(dss) - 1, 1))
        ax1.plot(t[ok], m.values[ok], color=col, label=f"{row['size_param']}={n}")
        if a is not None and b is not None:
            ax2.plot(t[ok] / n ** b.value, m.values[ok] * n ** a.value, color=col)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax1.set_xlabel("t")
    ax1.set_ylabel("rho")
    ax1.legend(fontsize=7)
    ax1.set_title(f"{name}: at the critical point", fontsize=10)
    if a is not None and b is not None:
        ax2.set_xlabel(f"t / n^{b.value:.3f}")
        ax2.set_ylabel(f"n^{a.value:.3f} rho")
        ax2.set_title(f"collapse: a = {_fmt(a)}, b = {_fmt(b)}", fontsize=9)
    else:
        ax2.set_title("collapse failed")
    return fig


def fig_classes(result):
    """Chi-square per degree of freedom of every process against every class."""
    rows = [r for r in result.rows if r.get("ranking")]
    if not rows:
        return None
    classes = sorted({c for r in rows for c, *_ in r["ranking_all"]}) if all(
        "ranking_all" in r for r in rows) else sorted({c for r in rows for c, *_ in
                                                         r["ranking"]})
    mat = np.full((len(rows), len(classes)), np.nan)
    for i, r in enumerate(rows):
        for c, score, *_ in r.get("ranking_all", r["ranking"]):
            mat[i, classes.index(c)] = score
    fig = _figure(1.2 + 0.9 * len(classes), 1.4 + 0.45 * len(rows))
    ax = fig.subplots()
    with np.errstate(divide="ignore", invalid="ignore"):
        img = ax.imshow(np.log10(np.maximum(mat, 1e-3)), cmap="viridis_r", aspect="auto",
                        vmin=-1, vmax=4)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            if np.isfinite(mat[i, j]):
                best = rows[i].get("best") == classes[j]
                ax.text(j, i, f"{mat[i, j]:.2g}", ha="center", va="center", fontsize=7,
                        color="red" if best else "white", weight="bold" if best else None)
    ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows], fontsize=8)
    ax.set_title("chi2/dof against each class (red: best)")
    fig.colorbar(img, ax=ax, label="log10 chi2/dof")
    return fig


def fig_phase_diagram(result):
    """MLP phase diagram: mean-field critical line and the measured critical point(s)."""
    rows = [r for r in result.rows if r["model"] == "mlp" and r.get("critical_point")]
    if not rows:
        return None
    from absorbphys.models.meanfield import critical_line

    fig = _figure(6.4, 5.0)
    ax = fig.subplots()
    acts = sorted({_entry_param(result, r["name"], "activation", "tanh") for r in rows})
    sb = np.linspace(0.0, 1.5, 61)
    lines = {}
    for act in acts:
        lines[act] = np.asarray(critical_line(sb, act), dtype=float)
        ax.plot(lines[act], sb, "-", label=f"mean-field critical line ({act})")
    # zoom on the measured point(s): they sit within a few 1e-3 of the line
    ins = ax.inset_axes([0.6, 0.1, 0.37, 0.37])
    for act in acts:
        ins.plot(lines[act], sb, "-")
    for r in rows:
        sbv = _entry_param(result, r["name"], "sigma_b", None)
        xc = r["critical_point"]
        ax.errorbar([xc.value], [sbv], xerr=[xc.error], fmt="o", color="C3", ms=6, capsize=3,
                    label=f"measured, width {r['size']}: {_fmt(xc)}")
        ins.errorbar([xc.value], [sbv], xerr=[xc.error], fmt="o", color="C3", ms=5, capsize=3)
        ins.set_xlim(xc.value - 0.03, xc.value + 0.03)
        ins.set_ylim(sbv - 0.03, sbv + 0.03)
        ins.tick_params(labelsize=6)
        # the coarser sweep levels are finite-width critical points too (other widths/depths)
        res = result.analyses.get(r["name"], {}).get("results", {})
        data = result.datasets.get(r["name"], {})
        key = f"{r['control']}_c"
        for k in sorted(x for x in res if x.startswith("sweep")):
            d = data.get(k)
            if d is None or key not in res[k] or k == _final_sweep(res):
                continue
            n = int(np.atleast_1d(d[r["size_param"]].values)[0])
            v, e = float(res[k][key]), float(res[k][f"{key}_error"])
            eb = ax.errorbar([v], [sbv], xerr=[e], fmt="s", ms=4, capsize=2, alpha=0.7,
                             label=f"measured, width {n} ({k}, t <= {int(d['t'].values[-1])})")
            ins.errorbar([v], [sbv + 0.004 * (1 + int(k[-1]))], xerr=[e], fmt="s", ms=3,
                         capsize=2, alpha=0.7, color=eb[0].get_color())
    ins.set_title("zoom (coarser sweep levels shifted up for visibility)", fontsize=6)
    ax.set_xlabel("sigma_w")
    ax.set_ylabel("sigma_b")
    ax.text(0.03, 0.95, "ordered (absorbing)", transform=ax.transAxes, va="top")
    ax.text(0.3, 0.04, "chaotic (active)", transform=ax.transAxes)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(0.0, 0.9))
    ax.set_title("MLP phase diagram")
    return fig


def _final_sweep(res):
    ks = sorted(x for x in res if x.startswith("sweep"))
    return ks[-1] if ks else None


def _entry_param(result, name, key, default):
    for e in result.config:
        if e["name"] == name:
            return e["params"].get(key, default)
    return default


# ============================================================================ documents
def _markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def _blocks(result, figs):
    """Return the report as a list of blocks ``(kind, payload...)``."""
    from absorbphys._version import __version__

    b = [("h1", "absorbphys benchmark report")]
    b.append(("p", f"Mode **{result.mode}**, master seed {result.seed}, absorbphys "
                   f"{__version__}, {platform.machine()} with {_ncpu()} CPU(s), total "
                   f"{result.wall_s:.0f} s."))
    b.append(("p", "Every critical point below was located from the simulated data (zero of "
                   "the late-time curvature of ln rho vs ln t in a coarse-to-fine sweep); "
                   "exponents carry jackknife errors (plus the shift caused by the critical "
                   "point's own error bar for delta). The verdict combines the independent "
                   "groups of measurements (decay, seed spreading, finite-size scaling, "
                   "stationary density): 'match' needs every group consistent with the "
                   "class (chi-square p >= 0.01 per group), at least two groups that resolve "
                   "it (precise enough that a 20% deviation would be a 2-sigma effect), and "
                   "the runner-up excluded; otherwise 'inconclusive' or 'no match', with the "
                   "numbers (the rule of absorbphys.analysis.decide, the same as "
                   "'absorbphys classify'). Errors combine the statistical (jackknife) error "
                   "with systematic ones measured from the data: the drift across the fit "
                   "window, the correction to scaling of beta, the choice of the collapse "
                   "window, the shift across the critical point's error bar and without the "
                   "smallest size. 'Calibration' lines give how often the verdict came out "
                   "over independent master seeds (benchmarks/calibrate.py --verdicts)."))
    header, rows = _table_rows(result)
    b.append(("table", header, rows))
    for name, path in figs.items():
        if name in ("classes", "phase_diagram"):
            b.append(("img", path, {"classes": "Class comparison",
                                    "phase_diagram": "MLP phase diagram"}[name]))
    for r in result.rows:
        b.append(("h2", f"{r['name']}: {r['label']}"))
        b.append(("p", f"**Verdict: {r['verdict']}.** {r.get('reason', '')}"))
        freq = r.get("calibration")
        if freq:
            b.append(("p", f"Calibration: {freq}"))
        ref = r.get("reference") or {}
        cols = [c for c in (r.get("best"), r.get("runner_up")) if c]
        rows_ = []
        for k, v in r.items():
            if not _is_est(v):
                continue
            line = [k, _fmt(v)]
            for c in cols:
                x = ref.get(c, {}).get(k)
                line.append(_fmt(_as_est(x)) if x else "-")
            rows_.append(line)
        b.append(("table", ["estimate", "measured"] + [f"{c} (catalog)" for c in cols],
                  rows_))
        if r.get("ranking"):
            b.append(("table", ["class", "chi2/dof", "consistent with every group"],
                      [[c, f"{s:.3g}", "yes" if ok else "no"] for c, s, ok, *_ in r["ranking"]]))
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
        for key in (f"{r['name']}_decay", f"{r['name']}_collapse"):
            if key in figs:
                b.append(("img", figs[key], key.replace("_", " ")))
    return b


def _as_est(x):
    from absorbphys.analysis._estimate import Estimate

    return Estimate(x["value"], x["error"])


def _is_est(v):
    from absorbphys.analysis._estimate import Estimate

    return isinstance(v, Estimate)


def _ncpu():
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count()


def render_markdown(blocks) -> str:
    """Render report blocks as Markdown (figures linked as files)."""
    out = []
    for blk in blocks:
        kind = blk[0]
        if kind == "h1":
            out.append(f"# {blk[1]}\n")
        elif kind == "h2":
            out.append(f"## {blk[1]}\n")
        elif kind == "p":
            out.append(blk[1] + "\n")
        elif kind == "table":
            out.append(_markdown_table(blk[1], blk[2]) + "\n")
        elif kind == "img":
            out.append(f"![{blk[2]}]({blk[1]})\n")
    return "\n".join(out)


def render_html(blocks, root: Path) -> str:
    """Render report blocks as one self-contained HTML page (figures as base64 PNG)."""
    import re

    def inline(s):
        s = html.escape(s)
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)

    body = []
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(blk[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{inline(blk[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in blk[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                           for r in blk[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode((root / blk[1]).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(blk[2])}" '
                        f'src="data:image/png;base64,{data}"/>'
                        f"<figcaption>{html.escape(blk[2])}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
             "th{background:#f0f0f0}img{max-width:100%}figure{margin:1em 0}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>absorbphys benchmark report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# ============================================================================ writing
def _save_fig(fig, path: Path):
    fig.savefig(path, format="png", dpi=100)


def _estimates_dataset(row):
    import xarray as xr

    data = {}
    for k, v in row.items():
        if _is_est(v):
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
        files = []
        (staging / "data").mkdir()
        (staging / "figures").mkdir()
        for row in result.rows:
            name = row["name"]
            d = staging / "data" / name
            d.mkdir()
            for stage, ds in result.datasets.get(name, {}).items():
                save(ds, d / f"{stage}.nc")
                files.append(f"data/{name}/{stage}.nc")
            save(_estimates_dataset(row), d / "estimates.nc")
            files.append(f"data/{name}/estimates.nc")
            for stage, res in result.analyses.get(name, {}).get("results", {}).items():
                if isinstance(res, xr.Dataset):
                    try:
                        save(_result_dataset(res), d / f"analysis_{stage}.nc")
                        files.append(f"data/{name}/analysis_{stage}.nc")
                    except Exception as exc:  # an attribute netCDF rejects: skip the file
                        log(f"{name}: analysis_{stage}.nc not written ({exc})")
        figs = {}
        for row in result.rows:
            name = row["name"]
            res = result.analyses.get(name, {}).get("results", {})
            for key, fn in ((f"{name}_decay",
                             lambda: fig_decay(name, row, result.datasets.get(name, {}),
                                               res)),
                            (f"{name}_collapse", lambda: fig_collapse(name, row, res))):
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
        blocks = _blocks(result, figs)
        (staging / "report.md").write_text(render_markdown(blocks))
        (staging / "report.html").write_text(render_html(blocks, staging))
        files += ["report.md", "report.html", "results.json"]
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

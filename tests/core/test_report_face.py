"""The face of the benchmark report: findings first, catalogue values, legend, figures, files.

One tiny benchmark (a few seconds) feeds every test; the figure tests call the ``fig_*``
functions on its result and inspect the matplotlib objects.
"""

import base64
import copy
import html.parser
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.image import imread

from absorbphys._benchmark import BenchmarkResult, benchmark
from absorbphys._benchmark.config import Entry, default_config, load_config
from absorbphys._benchmark.figures import _luminance, fig_classes, fig_collapse, fig_decay
from absorbphys._benchmark.format import catalog_value, shown_class
from absorbphys._benchmark.report import COLUMN_HELP, findings, reproduce_command
from absorbphys.analysis import Estimate

# A tiny 1+1 bond DP entry (as in test_benchmark.py): every stage runs in a few seconds.
TINY_DP = dict(
    name="tiny-dp", label="1+1 bond DP, tiny", model="dp",
    params={"kind": "bond", "dim": 1}, control="p", window=[0.60, 0.69], size=4096,
    t_max=512, sweep_points=9, sweep_samples=8, refine=1, decay_t_max=1024,
    decay_samples=8, spreading={"size": 1024, "t_max": 512, "samples": 1000},
    fss_sizes=[16, 32, 64], fss_t_factor=4.0, fss_t_power=1.58, fss_samples=40,
    beta_offsets=[0.03, 0.05, 0.07, 0.1], beta_t_max=1024, beta_size=1024, beta_samples=4,
    beta_stationary_tol=0.2, budget_s=10, extra={"n_boot": 8},
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("face") / "out"
    res = benchmark(config=[Entry(**TINY_DP)], out=out, seed=3, progress=False)
    return res, out


def _section(md, title):
    """Lines of one ``## title`` section of report.md."""
    lines = md.splitlines()
    i = lines.index(f"## {title}")
    rest = lines[i + 1:]
    end = next((k for k, ln in enumerate(rest) if ln.startswith("## ")), len(rest))
    return rest[:end]


def _tables(lines):
    """Markdown tables in some lines, as lists of rows of cells."""
    out, cur = [], []
    for ln in lines + [""]:
        if ln.startswith("|"):
            cur.append([c.strip() for c in ln.strip().strip("|").split(" | ")])
        elif cur:
            out.append([r for r in cur if not set("".join(r)) <= set("-|")])
            cur = []
    return out


# ============================================================================ findings
def test_report_opens_with_findings_naming_row_verdict_and_time(run):
    res, out = run
    row = res.rows[0]
    md = (out / "report.md").read_text()
    heads = [ln for ln in md.splitlines() if ln.startswith("#")]
    assert heads[:2] == ["# absorbphys benchmark report", "## Findings"]
    first = [ln for ln in _section(md, "Findings") if ln.strip()][0]
    assert first.startswith("- **tiny-dp** (1+1 bond DP, tiny")
    assert row["verdict"] in first
    # written from the data: measured exponents beside the catalogue, time against budget
    cls = shown_class(row)[0]
    ref = catalog_value(row, "delta")
    assert re.search(rf"delta = [\d.]+ ± [\d.]+ \({cls} {ref.value:.4g}\)", first), first
    assert f"took {row['time_s']:.0f} s of its 10 s budget" in first
    # the HTML report opens the same way
    page = (out / "report.html").read_text()
    assert page.index("<h2>Findings</h2>") < page.index("<h2>Summary</h2>")


def test_findings_compare_networks_with_reference_rows(run):
    res, _ = run
    fake = copy.copy(res)
    net = dict(res.rows[0], name="tiny-net")
    fake.rows = [res.rows[0], net]
    layered = {k: ds.copy() for k, ds in res.datasets["tiny-dp"].items()}
    for ds in layered.values():
        ds["t"].attrs["time_unit"] = "layer"
    fake.datasets = {"tiny-dp": res.datasets["tiny-dp"], "tiny-net": layered}
    text = findings(fake)
    assert text[0].startswith("**Networks**: ")
    assert "network rows match a catalogued class" in text[0]
    comp = [t for t in text if t.startswith("**tiny-net** against the reference rows")]
    assert comp and "tiny-dp (" in comp[0] and "delta 0.0σ" in comp[0]
    assert text[-1].startswith("The run took ")


# ============================================================================ table
def test_summary_table_has_catalogue_values_and_a_legend_for_every_column(run):
    res, out = run
    row = res.rows[0]
    md = (out / "report.md").read_text()
    summary = _section(md, "Summary")
    header, cells = _tables(summary)[0][0], _tables(summary)[0][1]
    cls = shown_class(row)[0]
    assert cls, "the tiny DP run resolves a class"
    col = dict(zip(header, cells))
    ref = catalog_value(row, "delta")
    assert isinstance(ref, Estimate)
    assert col["delta"].endswith(f"({cls} {ref.value:.4g})"), col["delta"]
    assert col["best"] == cls and col["verdict"] == row["verdict"]
    assert re.fullmatch(r"\d+ s \(10 s\)", col["time (budget)"])
    # every column is defined under the table
    for h in header:
        assert h in COLUMN_HELP
        assert any(ln.startswith(f"- **{h}**: ") for ln in summary), h
    # verdicts are colour-coded in the HTML table
    page = (out / "report.html").read_text()
    css = {"match": "v-match", "inconclusive": "v-inconclusive", "no match": "v-nomatch"}
    assert f'<span class="verdict {css[row["verdict"]]}">{row["verdict"]}</span>' in page
    for v in css.values():
        assert f".{v}{{" in page


def test_a_score_always_comes_with_its_class(run):
    res, _ = run
    fake = copy.copy(res)
    fake.rows = [dict(res.rows[0], best="", runner_up="")]
    closest = str(res.rows[0]["ranking"][0][0])
    assert f"closest: {closest} (unresolved)" in fake.table()


# ============================================================================ html, files
class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src"))


def test_every_image_of_the_html_report_loads(run):
    _, out = run
    p = _Images()
    p.feed((out / "report.html").read_text())
    assert len(p.srcs) >= 3
    for src in p.srcs:
        assert src, "an <img> without src"
        if src.startswith("data:"):
            head, data = src.split(",", 1)
            assert head == "data:image/png;base64"
            png = base64.b64decode(data)
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
        else:
            assert (out / src).is_file(), src
    md = (out / "report.md").read_text()
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / path).is_file(), path


def test_each_row_has_a_command_that_reproduces_it(run):
    res, out = run
    md = (out / "report.md").read_text()
    cmd = "absorbphys benchmark --quick --only tiny-dp --seed 3 --config config.json"
    assert f"```bash\n{cmd}\n```" in md
    assert cmd in (out / "report.html").read_text()
    # the configuration it names is the run's, and loads as such
    assert load_config(out / "config.json") == [Entry(**TINY_DP)]
    # a built-in entry needs no configuration file
    builtin = default_config("quick")[0]
    other = BenchmarkResult(mode="quick", seed=0, out=None, config=[builtin.to_dict()])
    assert reproduce_command(other, builtin.name) == \
        f"absorbphys benchmark --quick --only {builtin.name} --seed 0"


def test_data_index_lists_every_netcdf_file(run):
    _, out = run
    md = (out / "report.md").read_text()
    rows = _tables(_section(md, "Data files"))[0]
    assert rows[0] == ["file", "holds"]
    listed = {}
    for f, what in rows[1:]:
        m = re.fullmatch(r"\[(.+)\]\((.+)\)", f)
        assert m and m.group(1) == m.group(2)
        listed[m.group(1)] = what
    on_disk = {p.relative_to(out).as_posix() for p in (out / "data").rglob("*.nc")}
    assert on_disk and set(listed) == on_disk
    assert all(len(w) > 20 for w in listed.values())
    assert "finite-size-scaling run" in listed["data/tiny-dp/fss_32.nc"]
    assert "L = 32" in listed["data/tiny-dp/fss_32.nc"]
    assert "(step)" in listed["data/tiny-dp/decay.nc"]


# ============================================================================ figures
def _labelled(fig):
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        assert ax.get_ylabel().strip(), ax
    assert axes[-1].get_xlabel().strip()
    return axes


def test_decay_figure_has_units_band_reference_and_a_tight_range(run):
    res, _ = run
    row = res.rows[0]
    fig = fig_decay("tiny-dp", row, res.datasets["tiny-dp"], {})
    top, bottom = _labelled(fig)[:2]
    assert bottom.get_xlabel() == "time step $t$"  # long_name of t, which names the unit
    assert any(isinstance(c, PolyCollection) for c in top.collections), "no error band"
    ref = catalog_value(row, "delta")
    dashed = [ln for ln in top.get_lines() if ln.get_linestyle() == "--"]
    assert dashed and "catalogue" in dashed[0].get_label()
    x, y = np.asarray(dashed[0].get_xdata()), np.asarray(dashed[0].get_ydata())
    slope = np.polyfit(np.log(x), np.log(y), 1)[0]
    assert slope == pytest.approx(-ref.value, rel=1e-6)
    assert any(ln.get_linestyle() == "--" for ln in bottom.get_lines())
    # y range: the critical curve with a margin, not the sweep's far-subcritical tail
    crit = res.datasets["tiny-dp"]["decay"]["rho"].mean("batch").values.ravel()
    lo, hi = top.get_ylim()
    assert lo > crit[crit > 0].min() / 10 and hi < crit.max() * 10
    # a colour bar (not a legend of end curves) for the sweep
    assert any(a.get_label() == "<colorbar>" for a in fig.axes)


def test_collapse_figure_uses_mathtext_labels_error_bars_and_reference(run):
    res, _ = run
    row = res.rows[0]
    results = res.analyses["tiny-dp"]["results"]
    fig = fig_collapse("tiny-dp", row, results, res.config[0])
    left, right = _labelled(fig)
    assert left.get_xlabel() == "time step $t$"
    assert re.fullmatch(r"\$t/L\^\{[\d.]+\}\$.*", right.get_xlabel())
    assert re.fullmatch(r"\$L\^\{[\d.]+\}\\,\\rho\(t\)\$", right.get_ylabel())
    assert right.containers, "no error bars"
    assert any(isinstance(c, PolyCollection) for c in left.collections)
    for ax in (left, right):
        assert any(ln.get_linestyle() == "--" for ln in ax.get_lines())


def test_class_map_text_is_readable_and_blanks_are_explained(run):
    res, _ = run
    fig = fig_classes(res)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    img = ax.images[0]
    for t in ax.texts:
        x, y = t.get_position()
        cell = img.cmap(img.norm(img.get_array()[int(round(y)), int(round(x))]))
        lt, lc = _luminance(to_rgba(t.get_color())), _luminance(cell)
        contrast = (max(lt, lc) + 0.05) / (min(lt, lc) + 0.05)
        assert contrast >= 4.5, (t.get_text(), t.get_color())
    hatched = [p for p in ax.patches if p.get_hatch()]
    n_blank = int(np.ma.getmaskarray(np.ma.masked_invalid(img.get_array())).sum())
    assert len(hatched) == n_blank
    if n_blank:
        texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert any("no catalogue value" in t for t in texts)


# ============================================================================ browser
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"),
                    reason="/usr/bin/chromium is not installed (not installed by the tests)")
def test_html_report_renders_in_a_headless_browser(run, tmp_path):
    _, out = run
    shot = tmp_path / "shot.png"
    cmd = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           "--window-size=1280,2000", (out / "report.html").absolute().as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    finally:
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert shot.is_file() and shot.stat().st_size > 10_000
    px = imread(shot)[:, :, :3]  # floats in [0, 1]
    assert px.std() > 0.04, "the screenshot is blank"
    assert (px.min(axis=2) < 0.4).mean() > 0.005, "no dark text or figures on the page"

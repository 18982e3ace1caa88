"""Calibration of the estimators on processes whose answers are known.

An error bar is a claim about frequencies: over independent seeds the 1-sigma interval should
hold the reference in ~68 % of the runs and the 2-sigma interval in ~95 %. For every case of
:data:`CASES` this script runs the estimator on K seeds (``seed = base + k``) and reports, per
quantity: the reference (and its source), the mean estimate, its standard deviation over seeds,
the median reported error, the bias in units of the reported error (mean of
``(value - ref) / error``), the 1- and 2-sigma coverage (over the seeds that produced an
estimate) and the failures (the estimator raised, or returned no finite value or no positive
error bar; counted over all K seeds, never hidden). Verdict cases (``classify``) report how
often each status and best class came out.

Only the public API is used (``absorbphys.simulate``/``sweep``, ``absorbphys.models``,
``absorbphys.analysis``), so changes to the estimators are picked up as they are.

Usage::

    python benchmarks/calibrate.py [--only CASE ...] [--seeds K] [--base-seed S]
                                   [--json out.json] [--list]
    python benchmarks/calibrate.py --verdicts [ROW ...] --seeds 10 --base-seed 0 [--jobs 2]

``--verdicts`` runs the quick benchmark (``absorbphys.benchmark``) over master seeds and
records how often each row's verdict came out in ``absorbphys/verdict_frequencies.json``,
which the report quotes beside each verdict.

Sizes are chosen so that one seed of a case takes at most a few seconds on one core after
Numba compilation (``NUMBA_NUM_THREADS=1``); ``--list`` shows the cases.

One file, past the ~600-line guide: a script whose cases (each a few lines with its reference
and source) and harness are read together.
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402

import numpy as np  # noqa: E402

import absorbphys as ap  # noqa: E402
from absorbphys import analysis as an  # noqa: E402
from absorbphys import models  # noqa: E402

CNN, MLP, DirectedPercolation = models.CNN, models.MLP, models.DirectedPercolation
ContactProcess, MeanFieldContactProcess = models.ContactProcess, models.MeanFieldContactProcess

try:  # optional progress bar
    from tqdm import tqdm
except ImportError:  # pragma: no cover - plain prints instead
    tqdm = None

# ----------------------------------------------------------------------------- references
JENSEN = "Jensen, J. Phys. A 32, 5233 (1999)"
HINRICHSEN = "Hinrichsen, Adv. Phys. 49, 815 (2000), Table 1"
P_BOND, P_SITE = 0.644700185, 0.70548522              # 1+1 bond / site DP, Jensen (1999)
P_BCC_BOND = 0.287338                                  # 2+1 bond DP, bcc lattice (G&Z 1996)
LAM_1D, LAM_2D = 3.29785, 1.64877                      # contact process d = 1, 2
SB_MLP = 0.3
SW_MLP = models.meanfield.critical_sigma_w(SB_MLP)            # 1.395584, infinite-width line
KAPPA_MLP = models.meanfield.kappa(SB_MLP)                    # 0.23350, infinite-width kappa
SW_CNN = 5.160                                         # hard_tanh LC CNN, C = 4, sigma_b = 5
DP1 = {"delta": 0.159464, "theta": 0.313686, "z": 1.580745, "beta": 0.276486}
DP2_DELTA = 0.451
DP2_BETA = 0.583
DP2_THETA = 0.229
DP2_Z = 1.766


def _cs(seed, i):
    """Seed of the i-th independent run inside one case seed."""
    return int(seed) * 1000 + i


def _run(model, t_max, samples, seed, init="full"):
    return ap.simulate(model, t_max=t_max, samples=samples, init=init, seed=seed,
                       times="log", progress=False)


def _sweep(model, grid, t_max, samples, seed, init="full"):
    return ap.sweep(model, grid, t_max=t_max, samples=samples, init=init, seed=seed,
                    times="log", workers=1, progress=False)


def _pick(result, *names, prefix=""):
    """``{prefix + name: (value, error)}``, or the reason when a quantity is not measured."""
    est = an.estimates(result) if not isinstance(result, dict) else result
    why = getattr(result, "attrs", {}).get("not_measured", "not measured")
    out = {}
    for n in names:
        e = est.get(n)
        out[prefix + n] = (e.value, e.error) if e is not None else f"{n}: {why}"
    return out


# ----------------------------------------------------------------------------------- cases
def dp1d_bond_decay(seed):
    ds = _run(DirectedPercolation(L=8192, p=P_BOND), 4096, 16, seed)
    out = _pick(an.fit_power_law(ds), "delta")
    out.update(_pick(an.analyze(ds)["estimates"], "delta", prefix="analyze:"))
    return out


def dp1d_site_decay(seed):
    ds = _run(DirectedPercolation(L=8192, p=P_SITE, kind="site"), 4096, 16, seed)
    return _pick(an.fit_power_law(ds), "delta")


def dp1d_spreading(seed):
    ds = _run(DirectedPercolation(L=4096, p=P_BOND), 2000, 4000, seed, init="seed")
    return _pick(an.spreading(ds), "delta_prime", "theta", "z")


def dp1d_critical_point(seed):
    ds = _sweep(DirectedPercolation(L=2048, p=P_BOND), {"p": list(np.linspace(0.638, 0.652, 9))},
                2000, 16, seed)
    return _pick(an.critical_point(ds), "p_c", "delta")


def dp1d_critical_point_4(seed):
    """As the quick benchmark's last level: a quadratic through 4 values around the crossing."""
    ds = _sweep(DirectedPercolation(L=2048, p=P_BOND), {"p": list(np.linspace(0.638, 0.652, 9))},
                2000, 16, seed)
    return _pick(an.critical_point(ds, n_fit=4), "p_c", "delta")


def mfcp_critical_point(seed):
    """As the quick benchmark's last level on the complete graph (N = 10^6, t <= 300), in its
    window: the last 35 % of the logarithmic time range (``fit_window=0.35``)."""
    grid = {"lam": list(np.linspace(0.991, 1.013, 9))}
    ds = _sweep(MeanFieldContactProcess(N=10**6, lam=1.0), grid, 300, 8, seed)
    t = ds["t"].values[ds["t"].values > 0]
    t_min = float(t[0] ** 0.35 * t[-1] ** 0.65)
    return _pick(an.critical_point(ds, n_fit=4, t_min=t_min), "lam_c", "delta")


BETA_OFFSETS = (0.01, 0.015, 0.02, 0.03, 0.04)  # relative to p_c, as the quick benchmark


def dp1d_beta(seed, L=8192):
    grid = {"p": [P_BOND * (1 + o) for o in BETA_OFFSETS]}
    ds = _sweep(DirectedPercolation(L=L, p=P_BOND), grid, 32768, 4, seed)
    return _pick(an.fit_beta(ds, critical=(P_BOND, 0.0), stationary_tol=0.1), "beta")


def _quick_entry(name):
    """The quick benchmark's configuration entry ``name``."""
    from absorbphys._benchmark.config import default_config

    return next(e for e in default_config("quick") if e.name == name)


def _quick_beta(name, make, x_c, seed):
    """The quick benchmark's beta stage of row ``name`` (its offsets, size, time, samples,
    window and stationarity test) at the exact critical value ``x_c``; ``make(size)`` builds
    the process."""
    e = _quick_entry(name)
    grid = {e.control: [x_c * (1 + o) for o in e.beta_offsets]}
    ds = _sweep(make(e.beta_size or e.size), grid, e.beta_t_max, e.beta_samples, seed)
    return _pick(an.fit_beta(ds, critical=(x_c, 0.0), t_min=e.beta_t_min * e.beta_t_max,
                             stationary_tol=e.beta_stationary_tol), "beta")


def dp1d_beta_quick(seed):
    return _quick_beta("dp1d", lambda n: DirectedPercolation(L=n, p=P_BOND), P_BOND, seed)


def cp2d_beta(seed):
    return _quick_beta("cp2d", lambda n: ContactProcess(L=n, lam=LAM_2D, dim=2), LAM_2D, seed)


def _critical_point_search(row, seed):
    """The quick benchmark's whole search for the critical value of ``row`` (its levels,
    sizes, times and samples), the later stages left out; master seed = ``seed``."""
    e = replace(_quick_entry(row), decay=False, spreading=None, fss_sizes=(), beta_offsets=(),
                drift=None)
    r = ap.benchmark(config=[e], processes=[row], seed=seed, out=None, progress=False)
    xc, key = r.rows[0].get("critical_point"), f"{e.control}_c"
    return {key: (xc.value, xc.error) if isinstance(xc, an.Estimate)
            else f"{key}: {r.rows[0].get('reason', 'not located')}"}


def mlp_critical_point_search(seed):
    return _critical_point_search("mlp", seed)


def mfcp_critical_point_search(seed):
    return _critical_point_search("mfcp", seed)


def dp1d_critical_point_search(seed):
    return _critical_point_search("dp1d", seed)


def mlp_beta(seed):
    return _quick_beta("mlp", lambda n: MLP(width=n, sigma_w=SW_MLP, sigma_b=SB_MLP), SW_MLP,
                       seed)


def mfcp_beta(seed):
    """5-20 % above lam_c = 1 at N = 2e5, t = 500."""
    return _quick_beta("mfcp", lambda n: MeanFieldContactProcess(N=n, lam=1.0), 1.0, seed)


def dp1d_beta_large(seed):
    return dp1d_beta(seed, L=2**17)


def cp1d_decay(seed):
    ds = _run(ContactProcess(L=4096, lam=LAM_1D), 2000, 16, seed)
    return _pick(an.fit_power_law(ds), "delta")


def dp2d_decay(seed):
    ds = _run(DirectedPercolation(L=256, p=P_BCC_BOND, dim=2), 1000, 16, seed)
    return _pick(an.fit_power_law(ds), "delta")


def cp2d_decay(seed):
    ds = _run(ContactProcess(L=256, lam=LAM_2D, dim=2), 1000, 16, seed)
    return _pick(an.fit_power_law(ds), "delta")


def cp2d_spreading(seed):
    """The quick benchmark's seed runs of the 2D contact process, at the literature lam_c."""
    sp = _quick_entry("cp2d").spreading
    ds = _run(ContactProcess(L=sp["size"], lam=LAM_2D, dim=2), sp["t_max"], sp["samples"], seed,
              init="seed")
    return _pick(an.spreading(ds), "delta_prime", "theta", "z")


def mfcp_decay(seed):
    ds = _run(MeanFieldContactProcess(N=10**6, lam=1.0), 300, 16, seed)
    return _pick(an.fit_power_law(ds), "delta")


def _fss(make, sizes, t_factor, t_power, t_min, samples, seed, size_dim, t_floor=0.0):
    """Finite-size collapse as the benchmark does it: size n runs to ``t_factor n^t_power``
    and contributes the times ``t >= t_min n^t_power`` (the finite-size regime), and
    ``t >= t_floor`` (an absolute start, after a transient)."""
    curves = []
    for i, n in enumerate(sizes):
        ds = _run(make(n), max(8.0, t_factor * n ** t_power), samples, _cs(seed, i))
        curves.append(ds.sel(t=slice(max(t_min * n ** t_power, t_floor), None)))
    return an.collapse(curves, form="size", size_dim=size_dim, n_boot=50, seed=seed)


def mfcp_fss(seed):
    r = _fss(lambda n: MeanFieldContactProcess(N=n, lam=1.0), (250, 500, 1000, 2000, 4000),
             4.0, 0.5, 0.3, 200, seed, "N")
    return _pick(r, "a", "b")


def mlp_decay(seed):
    # depth 512 at width 16384 (the quick benchmark's decay): depth / width = 0.03, where
    # depth 2000 at width 8192 (0.24) was already bending towards the finite-width regime
    ds = _run(MLP(width=16384, sigma_w=SW_MLP, sigma_b=SB_MLP), 512, 16, seed)
    out = _pick(an.fit_power_law(ds), "delta")
    out.update(_pick(an.kappa(ds), "kappa"))
    return out


def mlp_fss(seed, t_floor=0.0):
    r = _fss(lambda n: MLP(width=n, sigma_w=SW_MLP, sigma_b=SB_MLP), (64, 128, 256, 512),
             4.0, 1.0, 0.1, 128, seed, "width", t_floor)
    return _pick(r, "a", "b")


def mlp_fss_t32(seed):
    """mlp_fss on ``t >= 32`` layers: after the decay's early transient (REFERENCES.md)."""
    return mlp_fss(seed, t_floor=32.0)


def mlp_critical_point(seed, width=4096, prefix="", depth=512):
    grid = {"sigma_w": list(SW_MLP + np.linspace(-0.01, 0.01, 9))}
    ds = _sweep(MLP(width=width, sigma_w=SW_MLP, sigma_b=SB_MLP), grid, depth, 16, seed)
    return _pick(an.critical_point(ds), "sigma_w_c", prefix=prefix)


MLP_CP_WIDTHS = (1024, 2048, 4096, 8192, 16384)

MLP_CP_WIDTH_REFS = {f"N{w}:sigma_w_c": (SW_MLP, "infinite-width line; the finite-width value "
                                              "differs by a shift that falls with the width")
                     for w in MLP_CP_WIDTHS}


def mlp_critical_point_widths(seed, depth=512):
    """mlp_critical_point at every width of ``MLP_CP_WIDTHS`` (the same seed for each): how
    the located point approaches the infinite-width line (thirteenth session)."""
    out = {}
    for w in MLP_CP_WIDTHS:
        out.update(mlp_critical_point(seed, w, prefix=f"N{w}:", depth=depth))
    return out


def mlp_critical_point_widths_d1024(seed):
    """mlp_critical_point_widths at depth 1024."""
    return mlp_critical_point_widths(seed, depth=1024)


def cnn_hardtanh_decay(seed):
    net = CNN(L=1024, channels=4, sigma_w=SW_CNN, sigma_b=5.0, dim=1, activation="hard_tanh",
              weight_sharing=False)
    return _pick(an.fit_power_law(_run(net, 2048, 16, seed)), "delta")


def verdict_dp1d(seed, L=1024, t_max=1000, samples=8, window=(0.636, 0.654), n_seed=2000):
    sweep = _sweep(DirectedPercolation(L=L, p=P_BOND), {"p": list(np.linspace(*window, 9))},
                   t_max, samples, _cs(seed, 0))
    seeds = _run(DirectedPercolation(L=2 * t_max, p=P_BOND), t_max, n_seed, _cs(seed, 1),
                 init="seed")
    return an.classify(sweep, seeds)


def verdict_dp1d_large(seed):
    return verdict_dp1d(seed, L=4096, t_max=4096, samples=16, window=(0.640, 0.650),
                        n_seed=8000)


def verdict_mfcp(seed):
    sweep = _sweep(MeanFieldContactProcess(N=10**5, lam=1.0),
                   {"lam": list(np.linspace(0.9, 1.1, 9))}, 300, 8, _cs(seed, 0))
    seeds = _run(MeanFieldContactProcess(N=10**5, lam=1.0), 300, 2000, _cs(seed, 1),
                 init="seed")
    return an.classify(sweep, seeds)


@dataclass
class Case:
    fn: object
    refs: dict = field(default_factory=dict)   # quantity -> (value, source)
    setup: str = ""
    expect: str | None = None                   # verdict cases: the expected class
    k_max: int | None = None                    # at most this many seeds (slow cases)


CASES = {
    "dp1d_bond_decay": Case(
        dp1d_bond_decay,
        {"delta": (DP1["delta"], JENSEN), "analyze:delta": (DP1["delta"], JENSEN)},
        "1+1 bond DP at p_c = 0.644700185, full start, L = 8192, t = 4096, 16 samples; "
        "fit_power_law and analyze (default window)"),
    "dp1d_site_decay": Case(
        dp1d_site_decay, {"delta": (DP1["delta"], JENSEN)},
        "1+1 site DP at p_c = 0.70548522, L = 8192, t = 4096, 16 samples"),
    "dp1d_spreading": Case(
        dp1d_spreading,
        {"delta_prime": (DP1["delta"], JENSEN), "theta": (DP1["theta"], JENSEN),
         "z": (DP1["z"], JENSEN)},
        "1+1 bond DP at p_c, seed start, L = 4096, t = 2000, 4000 samples; spreading"),
    "dp1d_critical_point": Case(
        dp1d_critical_point,
        {"p_c": (P_BOND, JENSEN), "delta": (DP1["delta"], JENSEN)},
        "1+1 bond DP, 9 points p in [0.638, 0.652], L = 2048, t = 2000, 16 samples; "
        "critical_point"),
    "dp1d_critical_point_4": Case(
        dp1d_critical_point_4,
        {"p_c": (P_BOND, JENSEN), "delta": (DP1["delta"], JENSEN)},
        "as dp1d_critical_point with critical_point(n_fit=4): a quadratic through the 4 values "
        "around the crossing (as the benchmark's last level)"),
    "mfcp_critical_point": Case(
        mfcp_critical_point,
        {"lam_c": (1.0, "exact (mean field)"), "delta": (1.0, "exact (mean field)")},
        "mean-field CP, N = 10^6, 9 values of lam in [0.991, 1.013], t = 300, 8 samples; "
        "critical_point(n_fit=4) on the last 35 % of the log time range (the quick "
        "benchmark's fit_window)"),
    "dp1d_beta": Case(
        dp1d_beta, {"beta": (DP1["beta"], JENSEN)},
        "1+1 bond DP at p = p_c (1 + {0.01, 0.015, 0.02, 0.03, 0.04}), L = 8192, t = 32768, "
        "4 samples; fit_beta with the exact p_c, stationary_tol = 0.1 (a small, cheap variant "
        "of dp1d_beta_quick)"),
    "dp1d_beta_quick": Case(
        dp1d_beta_quick, {"beta": (DP1["beta"], JENSEN)},
        "the quick benchmark's beta stage of dp1d at the exact p_c: p = p_c (1 + {0.006, "
        "0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08}), L = 65536, t = 32768, 8 samples; "
        "fit_beta on t >= 16384, stationary_tol = 0.1"),
    "dp1d_beta_large": Case(
        dp1d_beta_large, {"beta": (DP1["beta"], JENSEN)},
        "as dp1d_beta with L = 131072 (16x the sites: errors ~4x smaller), at most 10 seeds",
        k_max=10),
    "cp1d_decay": Case(
        cp1d_decay, {"delta": (DP1["delta"], JENSEN + "; lam_c = 3.29785, Dickman & Jensen "
                               "1991")},
        "1D contact process at lam_c = 3.29785, L = 4096, t = 2000, 16 samples"),
    "dp2d_decay": Case(
        dp2d_decay, {"delta": (DP2_DELTA, HINRICHSEN + "; 0.451(3)")},
        "2+1 bond DP on the bcc lattice (the model's dim=2 lattice) at p_c = 0.287338 "
        "(Grassberger & Zhang 1996), L = 256, t = 1000, 16 samples"),
    "cp2d_decay": Case(
        cp2d_decay, {"delta": (DP2_DELTA, HINRICHSEN + "; 0.451(3)")},
        "2D contact process at lam_c = 1.64877 (Dickman 1999), L = 256, t = 1000, 16 samples"),
    "cp2d_spreading": Case(
        cp2d_spreading,
        {"delta_prime": (DP2_DELTA, HINRICHSEN + "; 0.451(3)"),
         "theta": (DP2_THETA, HINRICHSEN + "; 0.229(3)"), "z": (DP2_Z, HINRICHSEN + "; 1.766(2)")},
        "the quick benchmark's seed runs of the 2D contact process at lam_c = 1.64877: "
        "L = 256, t = 1000, 64000 runs; spreading (default window)"),
    "mfcp_decay": Case(
        mfcp_decay, {"delta": (1.0, "mean field, exact")},
        "mean-field contact process at lam = 1, N = 10^6, t = 300, 16 samples"),
    "mfcp_fss": Case(
        mfcp_fss, {"a": (0.5, "mean field, exact"), "b": (0.5, "mean field, exact")},
        "mean-field CP at lam = 1, N = 250..4000, t <= 4 sqrt(N), 200 samples, collapse on "
        "t >= 0.3 sqrt(N), n_boot = 50"),
    "mfcp_beta": Case(
        mfcp_beta, {"beta": (1.0, "mean field, exact")},
        "mean-field CP at lam = 1.05, 1.07, 1.1, 1.15, 1.2, N = 2e5, t = 500, 8 samples; "
        "fit_beta with lam_c = 1 on t >= 250, stationary_tol = 0.2 (the sizes of the quick "
        "benchmark)"),
    "cp2d_beta": Case(
        cp2d_beta, {"beta": (DP2_BETA, HINRICHSEN + "; 0.583(4)")},
        "the quick benchmark's beta stage of the 2D contact process at lam_c = 1.64877: "
        "lam = lam_c (1 + {0.02, 0.03, 0.04, 0.06, 0.08, 0.12}), L = 128, t = 1000, 16 "
        "samples; fit_beta on t >= 250, stationary_tol = 0.15"),
    "mlp_beta": Case(
        mlp_beta, {"beta": (1.0, "mean field, exact at infinite width (Poole et al. 2016)")},
        "the quick benchmark's beta stage of the MLP at the infinite-width critical line: "
        "sigma_w = 1.395584 (1 + {0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05}), width 16384, "
        "depth 2048, 16 samples; fit_beta on t >= 512, stationary_tol = 0.2"),
    "mlp_decay": Case(
        mlp_decay,
        {"delta": (1.0, "mean field (Tamai et al. 2025)"),
         "kappa": (KAPPA_MLP, "infinite-width map, meanfield.kappa(0.3)")},
        f"MLP tanh, sigma_b = 0.3, sigma_w = {SW_MLP:.6f} (infinite-width line), width 16384, "
        "depth 512, 16 samples; fit_power_law, kappa"),
    "mlp_fss": Case(
        mlp_fss, {"a": (1.0, "Tamai et al. 2025"), "b": (1.0, "Tamai et al. 2025")},
        "MLP at the infinite-width sigma_w_c, widths 64..512, depth 4N, 128 samples, collapse "
        "on t >= 0.1 N, n_boot = 50"),
    "mlp_fss_t32": Case(
        mlp_fss_t32, {"a": (1.0, "Tamai et al. 2025"), "b": (1.0, "Tamai et al. 2025")},
        "as mlp_fss, collapse on t >= 32 layers (after the early transient; twelfth session)"),
    "mlp_critical_point": Case(
        mlp_critical_point,
        {"sigma_w_c": (SW_MLP, "infinite-width line, models.meanfield.critical_sigma_w(0.3); the "
                       "finite-width value may differ")},
        "MLP tanh sigma_b = 0.3, 9 points sigma_w in sigma_w_c -+ 0.01, width 4096, depth 512, "
        "16 samples; critical_point"),
    "mlp_critical_point_widths": Case(
        mlp_critical_point_widths,
        MLP_CP_WIDTH_REFS,
        "as mlp_critical_point at widths 1024, 2048, 4096, 8192, 16384 (same seeds): the "
        "finite-width shift of the located point"),
    "mlp_critical_point_widths_d1024": Case(
        mlp_critical_point_widths_d1024,
        MLP_CP_WIDTH_REFS,
        "as mlp_critical_point_widths at depth 1024"),
    "mlp_critical_point_search": Case(
        mlp_critical_point_search,
        {"sigma_w_c": (SW_MLP, "infinite-width critical line (models.meanfield); at width "
                               "16384 and depth 1024 the finite-width value is not known "
                               "independently (a fixed 7-value grid, 8 seeds: +0.00001 +- "
                               "0.00012 from it)")},
        "the quick benchmark's search for sigma_w,c of the mlp row: its coarse level (width "
        "1024), middle and last levels (width 16384, depth 1024, 8 and 32 runs per value), "
        "read as the benchmark reads them"),
    "mfcp_critical_point_search": Case(
        mfcp_critical_point_search, {"lam_c": (1.0, "exact (mean field)")},
        "the quick benchmark's search for lam_c of the mfcp row, read as the benchmark reads "
        "it"),
    "dp1d_critical_point_search": Case(
        dp1d_critical_point_search, {"p_c": (P_BOND, JENSEN)},
        "the quick benchmark's search for p_c of the dp1d row, read as the benchmark reads "
        "it"),
    "cnn_hardtanh_decay": Case(
        cnn_hardtanh_decay,
        {"delta": (DP1["delta"], "DP 1+1 class, " + JENSEN + "; measured here 0.157(7) at "
                   "sigma_w = 5.160(10), REFERENCES.md")},
        "1D locally connected CNN, hard_tanh, 4 channels, sigma_b = 5, sigma_w = 5.160, "
        "L = 1024, depth 2048, 16 samples"),
    "verdict_dp1d": Case(
        verdict_dp1d, expect="dp_1d",
        setup="classify(decay sweep: 9 p in [0.636, 0.654], L = 1024, t = 1000, 8 samples; "
              "seed runs at p_c: L = 2048, t = 1000, 2000 samples)"),
    "verdict_dp1d_large": Case(
        verdict_dp1d_large, expect="dp_1d",
        setup="classify(decay sweep: 9 p in [0.640, 0.650], L = 4096, t = 4096, 16 samples; "
              "seed runs at p_c: L = 8192, t = 4096, 8000 samples)"),
    "verdict_mfcp": Case(
        verdict_mfcp, expect="mean_field",
        setup="classify(decay sweep: 9 lam in [0.9, 1.1], N = 10^5, t = 300, 8 samples; seed "
              "runs at lam = 1: N = 10^5, t = 300, 2000 samples)"),
}


# ----------------------------------------------------------------------------- the harness
def _reason(exc):
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:160]


def run_case(name, case, seeds, bar):
    per_seed, times = [], []
    for s in seeds:
        t0 = time.perf_counter()
        try:
            res = case.fn(s)
        except Exception as exc:  # noqa: BLE001 - counted as a failure with its reason
            res = _reason(exc)
        times.append(time.perf_counter() - t0)
        per_seed.append(res)
        bar(f"{name} seed {s}: {times[-1]:.1f} s")
    out = {"setup": case.setup, "seeds": list(seeds), "seconds": times,
           "total_s": float(sum(times))}
    if case.expect is not None:
        out["verdict"] = _verdicts(per_seed, case.expect)
    else:
        out["quantities"] = {q: _stats(q, per_seed, *case.refs[q]) for q in case.refs}
    return out


def _stats(q, per_seed, ref, source):
    vals, errs, fails = [], [], Counter()
    for res in per_seed:
        got = res.get(q, f"{q}: not returned") if isinstance(res, dict) else res
        if isinstance(got, str):
            fails[got] += 1
        elif not (math.isfinite(got[0]) and math.isfinite(got[1]) and got[1] > 0):
            fails[f"{q}: no finite value with a positive error bar"] += 1
        else:
            vals.append(float(got[0]))
            errs.append(float(got[1]))
    v, e = np.array(vals), np.array(errs)
    pull = (v - ref) / e
    n = len(v)
    nan = float("nan")
    return {
        "ref": ref, "source": source, "K": len(per_seed), "n_ok": n,
        "mean": float(v.mean()) if n else nan,
        "std": float(v.std(ddof=1)) if n > 1 else nan,
        "median_err": float(np.median(e)) if n else nan,
        "bias": float(pull.mean()) if n else nan,
        "cov1": float(np.mean(np.abs(pull) <= 1)) if n else nan,
        "cov2": float(np.mean(np.abs(pull) <= 2)) if n else nan,
        "failures": len(per_seed) - n, "failure_reasons": dict(fails.most_common()),
        "values": vals, "errors": errs,
    }


def _verdicts(per_seed, expect):
    status, best, outcome, fails = Counter(), Counter(), Counter(), Counter()
    seeds = []
    for v in per_seed:
        if isinstance(v, str):
            fails[v] += 1
            seeds.append({"failure": v})
            continue
        b = v.best or "(none)"  # an empty best: the data resolve no class
        status[v.status] += 1
        best[b] += 1
        outcome[f"{v.status} {b}"] += 1
        seeds.append({"status": v.status, "best": b, "reason": getattr(v, "reason", "")})
    return {"expect": expect, "K": len(per_seed), "status": dict(status.most_common()),
            "best": dict(best.most_common()), "outcome": dict(outcome.most_common()),
            "match_expected": outcome[f"match {expect}"], "failures": sum(fails.values()),
            "failure_reasons": dict(fails.most_common()), "per_seed": seeds}


def misses(st):
    """Reasons a quantity misses the targets (cov2 >= 0.9, |bias| <= 0.5, no failures)."""
    why = []
    if not st["n_ok"]:
        return ["no estimate"]
    if not st["cov2"] >= 0.9:
        why.append(f"cov2 {st['cov2']:.2f} < 0.90")
    if not abs(st["bias"]) <= 0.5:
        why.append(f"|bias| {abs(st['bias']):.2f} > 0.5")
    if st["failures"]:
        why.append(f"failed in {st['failures']}/{st['K']} seeds")
    return why


def _g(x, digits=4):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def report(results):
    head = ("| case | quantity | ref | K | mean | std | median err | std/err | bias/err | "
            "cov1 | cov2 | failures |")
    lines = [head, "|" + "---|" * 12]
    sources, verdicts, missed = {}, [], []
    for name, r in results.items():
        for q, st in r.get("quantities", {}).items():
            ratio = st["std"] / st["median_err"] if st["n_ok"] > 1 else float("nan")
            lines.append(
                f"| {name} | {q} | {_g(st['ref'], 7)} | {st['K']} | {_g(st['mean'], 5)} | "
                f"{_g(st['std'], 2)} | {_g(st['median_err'], 2)} | {_g(ratio, 2)} | "
                f"{st['bias']:+.2f} | {st['cov1']:.2f} | {st['cov2']:.2f} | "
                f"{st['failures']}/{st['K']} |")
            sources.setdefault(st["source"], []).append(f"{name}:{q}")
            why = misses(st)
            if why:
                missed.append(f"- {name} {q}: " + "; ".join(why))
            for reason, n in list(st["failure_reasons"].items())[:3]:
                missed.append(f"  - {n}x {reason}")
        if "verdict" in r:
            v = r["verdict"]
            fmt = lambda d: ", ".join(f"{k} {n}/{v['K']}" for k, n in d.items()) or "-"  # noqa: E731
            verdicts.append(f"- {name}: status {fmt(v['status'])}; best {fmt(v['best'])}; "
                            f"status and best {fmt(v['outcome'])}; match with {v['expect']} "
                            f"{v['match_expected']}/{v['K']}; failures {v['failures']}/{v['K']}")
            verdicts += [f"  - {n}x {reason}" for reason, n in
                         list(v["failure_reasons"].items())[:3]]
    out = lines
    if verdicts:
        out += ["", "Verdicts (frequency over seeds):", *verdicts]
    out += ["", "References:", *[f"- {s}: {', '.join(w)}" for s, w in sources.items()]]
    out += ["", "Setups and time:", *[f"- {n}: {r['setup']} ({r['total_s']:.0f} s for "
                                       f"{len(r['seeds'])} seeds, median "
                                       f"{np.median(r['seconds']):.1f} s)"
                                       for n, r in results.items()]]
    out += ["", "Missing the targets (cov2 >= 0.90, |bias/err| <= 0.5, no failures):",
            *(missed or ["- none"])]
    return "\n".join(out)


def _write_json(path, data):
    """Write ``data`` to ``path`` whole or not at all."""
    tmp = f"{path}.part"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def _git_state():
    import subprocess

    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                              text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _analysis_hash():
    """SHA-256 of the analysis sources: which estimator versions produced the numbers."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    for f in sorted(Path(an.__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- verdicts
VERDICT_FILE = os.path.join(os.path.dirname(ap.__file__), "verdict_frequencies.json")


def _one_benchmark(args):
    mode, rows, seed = args
    res = ap.benchmark(mode=mode, processes=rows, seed=seed, out=None, progress=False)
    return seed, res.wall_s, [(r["name"], r["verdict"], r["best"], r["reason"], r["time_s"])
                              for r in res.rows]


def verdict_frequencies(rows, seeds, mode="quick", jobs=1, write=True, json_path=None):
    """Run the benchmark's rows over master seeds; count each row's verdict and best class.

    Writes ``absorbphys/verdict_frequencies.json`` (read by the report's 'Calibration'
    lines) unless ``write`` is false; rows not run keep their earlier record. ``json_path``
    also gets every seed's record (row, verdict, best class, reason, time) and the code
    state.
    """
    from absorbphys._benchmark.config import default_config

    cfg = {e.name: e for e in default_config(mode)}
    rows = list(rows or cfg)
    code = {"git": _git_state(), "analysis_sha256": _analysis_hash()}  # the code as imported
    tasks = [(mode, rows, s) for s in seeds]
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs) as pool:
            out = list(pool.imap_unordered(_one_benchmark, tasks))
    else:
        out = [_one_benchmark(t) for t in tasks]
    counts = {r: Counter() for r in rows}
    reasons = {r: {} for r in rows}
    times = {r: [] for r in rows}
    for seed, _, rs in sorted(out):
        for name, verdict, best, reason, t in rs:
            key = f"{verdict} {best}".strip()
            counts[name][key] += 1
            reasons[name].setdefault(key, f"seed {seed}: {reason[:300]}")
            times[name].append(t)
    if json_path:
        per_seed = [{"seed": seed, "wall_s": wall, "row": name, "verdict": verdict,
                     "best": best, "reason": reason, "time_s": t}
                    for seed, wall, rs in sorted(out) for name, verdict, best, reason, t in rs]
        _write_json(json_path, {"command": " ".join(["python", *sys.argv]),
                                "absorbphys": ap.__version__, **code, "machine": MACHINE,
                                "date": time.strftime("%Y-%m-%d"), "mode": mode,
                                "master_seeds": list(seeds), "runs": per_seed})
    print(f"\nVerdict frequencies, {mode} mode, master seeds {list(seeds)}:")
    for r in rows:
        line = ", ".join(f"{k}: {v}" for k, v in counts[r].most_common())
        print(f"  {r:18s} {line}   (median {np.median(times[r]):.0f} s)")
    if write:
        try:
            with open(VERDICT_FILE) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        meta = data.setdefault(mode, {"rows": {}})
        meta.update(machine=MACHINE, date=time.strftime("%Y-%m-%d"),
                    command=" ".join(["python", "benchmarks/calibrate.py"] + sys.argv[1:]))
        for r in rows:
            # each row keeps the provenance of its own round (a later round may run others)
            meta["rows"][r] = {"command": meta["command"], "date": meta["date"],
                               "git": code["git"], "seeds": len(seeds),
                               "master_seeds": list(seeds),
                               "counts": dict(counts[r]), "example_reasons": reasons[r],
                               "median_time_s": float(np.median(times[r])),
                               "config": json.loads(json.dumps(cfg[r].to_dict()))}
        tmp = VERDICT_FILE + ".part"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, VERDICT_FILE)
        print(f"wrote {VERDICT_FILE}")
    return counts


MACHINE = "2-vCPU AMD EPYC Zen 5 development VM"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="CASE", choices=list(CASES))
    p.add_argument("--seeds", type=int, default=20, help="seeds per case (K)")
    p.add_argument("--base-seed", type=int, default=1, help="seed = base + k")
    p.add_argument("--json", metavar="PATH",
                   help="write the results as JSON (with --verdicts: every seed's record)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--verdicts", nargs="*", metavar="ROW",
                   help="instead of the cases: run the quick benchmark's rows (default: all) "
                        "over --seeds master seeds (base-seed + k) and record each row's "
                        "verdict frequencies in absorbphys/verdict_frequencies.json")
    p.add_argument("--jobs", type=int, default=1, help="benchmarks run at once (--verdicts)")
    p.add_argument("--no-write", action="store_true", help="--verdicts: print only")
    args = p.parse_args(argv)
    if args.verdicts is not None:
        seeds = [args.base_seed + k for k in range(args.seeds)]
        verdict_frequencies(args.verdicts, seeds, jobs=args.jobs, write=not args.no_write,
                            json_path=args.json)
        return 0
    if args.list:
        for n, c in CASES.items():
            print(f"{n}: {c.setup}")
        return 0
    if args.seeds < 2:
        p.error("--seeds must be >= 2")
    names = args.only or list(CASES)
    seeds = [args.base_seed + k for k in range(args.seeds)]
    total = sum(len(seeds[:CASES[n].k_max]) for n in names)
    if tqdm is not None:
        pbar = tqdm(total=total, file=sys.stderr)

        def bar(msg):
            pbar.set_description(msg)
            pbar.update()
    else:
        count = iter(range(1, total + 1))

        def bar(msg):
            print(f"[{next(count)}/{total}] {msg}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    code = {"git": _git_state(), "analysis_sha256": _analysis_hash()}  # the code as imported
    results = {n: run_case(n, CASES[n], seeds[:CASES[n].k_max], bar) for n in names}
    if tqdm is not None:
        pbar.close()
    print(report(results))
    if args.json:
        meta = {"command": " ".join(["python", *sys.argv]), "absorbphys": ap.__version__,
                **code,
                "python": platform.python_version(), "machine": platform.processor()
                or platform.machine(), "date": time.strftime("%Y-%m-%d"),
                "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS"),
                "total_s": time.perf_counter() - t0}
        _write_json(args.json, {"meta": meta, "cases": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

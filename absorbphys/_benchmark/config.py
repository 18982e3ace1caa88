"""Configuration of ``absorbphys benchmark``: the processes, search windows, sizes and budgets.

Every entry is a :class:`Entry`; :func:`default_config` returns the built-in list for a mode.
Nothing here is a result: search windows bound where the critical point is *looked for*
(the value itself always comes out of the data), and the mean-field line used as the starting
guess for networks is computed theory (:func:`absorbphys.models.meanfield.critical_sigma_w`),
not a measured value.

Budgets
-------
``budget_s`` is the wall-clock time the quick sizes were chosen for on a 2-vCPU x86 VM; the
report shows it next to the measured time of every process. The quick configuration sums to
about 9 minutes of budget; measured (2026-11-28, fresh Numba cache, compilation included)
the whole quick run takes 3-5 minutes on such a VM when it is otherwise idle.

Full mode
---------
Publication-grade sizes (hours). Every stage is checkpointed in ``OUT/.checkpoints/<process>``:
the sweep keeps one file per finished grid point while a stage runs, and a finished stage is
stored with a description of its request; rerunning the same command after an interruption
skips the finished stages and resumes the interrupted one from its point files (seeds are
derived from the master seed and the stage, so the result is the same as an uninterrupted
run's). ``resume=True`` gives quick mode the same behaviour.

One file, past the ~600-line guide: the field documentation, the validation of every field and
the two built-in configurations (about 280 lines of data, each entry beside its measured
reasons) belong together.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from absorbphys._params import Param, UsageError, first_line, number_text, short
from absorbphys.analysis import N_BOOT_MAX

MODES = ("quick", "full")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")

# Upper bounds of the integer fields: far above every built-in value (in parentheses) and
# low enough that an absurd entry (``sweep_samples: 1e18``) is refused before any work.
#: System sizes (1e7, the complete graph of mfcp in full mode).
MAX_SIZE = 10**10
#: Points of one sweep level (13).
MAX_POINTS = 1000
#: Samples of one run (1e5, the seed runs of dp1d and cp2d in full mode).
MAX_SAMPLES = 10**7
#: Refinement levels after the coarse sweep (3).
MAX_REFINE = 20
#: Bootstrap resamples of the collapse (50): the limit of ``absorbphys.analysis.collapse``.
MAX_N_BOOT = N_BOOT_MAX
#: Samples simulated by one entry over all its stages (about 4e5 in full mode): a bound on
#: the combined cost of fields that are each within range (e.g. 1000 points x 1e7 samples).
MAX_TOTAL_SAMPLES = 10**9


@dataclass(frozen=True)
class Entry:
    """One process of the benchmark and how to measure it.

    Parameters
    ----------
    name : str
        Short name used by ``--only`` (e.g. ``"dp1d"``).
    label : str
        Human-readable description for the report.
    model : str
        Registry name of the process (``"dk"``, ``"contact"``, ``"mlp"``...).
    params : dict
        Fixed constructor arguments (everything except the control and size parameters).
    control : str
        Control parameter swept to locate the critical point.
    window : tuple of float
        ``(low, high)`` search window of the coarse sweep.
    size : int
        System size (value of the model's size parameter) of the sweep and the decay run.
    t_max : float
        Last time of the sweep runs (later times for the decay run, see ``decay_t_max``).
    sweep_points : int
        Points per sweep level.
    sweep_samples : int
        Samples per sweep point.
    coarse_t_frac : float
        The first (coarse) level runs to ``coarse_t_frac * t_max`` when refinement follows.
    final_samples : int
        Samples per point of the last refinement level (0: ``sweep_samples``).
    fit_window : float
        Fraction of the logarithmic time range (its end) in which the curvature of
        ``ln rho`` is measured (0.5: the upper half; smaller against strong early-time
        corrections).
    final_points : int
        Points of the last refinement level (0: ``sweep_points``).
    coarse_size : int
        System size of the first level when refinement follows (0: ``size``).
    refine : int
        Number of refinement levels after the coarse sweep (coarse-to-fine).
    decay_t_max : float
        Last time of the decay run at the critical point.
    decay_samples : int
        Samples of the decay run.
    locate_init : {"full", "seed"}
        Runs of the critical-point sweep: from the fully active state (``rho``), or from a
        seed (``survival``) for processes whose fully active state is absorbing too.
    decay : bool
        Measure the decay from the fully active state at the critical point.
    guess : str or None
        ``"meanfield"``: centre the window on the infinite-width critical line (networks).
    window_halfwidth : float
        Half-width of the window around the mean-field guess, when ``guess`` is used.
    spreading : dict or None
        Seed-spreading run ``{"size", "t_max", "samples"}`` at the critical point (optional
        ``"params"``: extra fixed parameters; ``"shift"``: also run at ``x_c -+ 2 error`` and
        add half the shift of the exponents to their errors, default true).
    drift : dict or None
        Drift check right after locating (optional): a sweep ``{"window": [lo, hi],
        "points", "t_max", "samples"}`` on a geometric grid (optional ``"size"``, ``"ratio"``,
        ``"n_windows"`` of :func:`absorbphys.analysis.critical_drift`); when the located
        critical value drifts with the observation time the row's verdict is "no transition"
        and the later stages are skipped (they would measure a depth, not a process).
    fss_sizes : tuple of int
        Sizes of the finite-size-scaling runs at the critical point (empty: no FSS).
    fss_t_factor : float
        Last time of the FSS run of size ``n`` is ``fss_t_factor * n**fss_t_power``.
    fss_t_power : float
        See ``fss_t_factor``.
    fss_t_min : float
        The collapse uses the times ``t >= fss_t_min * n**fss_t_power`` of size ``n`` (the
        finite-size regime; earlier times carry no information on the cutoff).
    fss_samples : int
        Samples per FSS size.
    fss_shift : bool
        Also run every size at ``x_c -+ 2 error`` and add half the shift of ``a``, ``b`` to
        their errors (the collapse assumes criticality; triples the FSS cost).
    beta_offsets : tuple of float
        Relative distances ``(x - x_c)/x_c`` above the critical point for the stationary
        density (beta); empty: no beta.
    beta_t_max : float
        Relaxation time allowed to the off-critical runs.
    beta_samples : int
        Samples per off-critical point.
    beta_size : int
        System size of the off-critical runs (0: ``size``).
    beta_t_min : float
        The stationary density is averaged over ``t >= beta_t_min * beta_t_max``.
    beta_stationary_tol : float
        A run counts as stationary when ``|d ln rho / d ln t| + 2 sigma <= tol`` in that
        window (see :func:`absorbphys.analysis.fit_beta`).
    budget_s : float
        Wall-clock budget (seconds) the sizes were chosen for, on a 2-core VM after Numba
        compilation; the report compares it with the measured time.
    notes : str
        Remark shown in the report.
    extra : dict
        Tuning of the analysis: ``{"n_boot": int}`` (bootstrap resamples of the collapse,
        >= 2; default 50).

    Every field is validated on construction (types, finite values, ranges, the structure of
    ``spreading``): a bad value raises :class:`absorbphys.UsageError` (a ``ValueError``) with
    one line naming the entry, the field and its valid range. Lists are accepted for the tuple
    fields and integral floats (``256.0``) for the integer fields. Integer fields have upper
    bounds far above the built-in values (:data:`MAX_SIZE` for sizes, :data:`MAX_POINTS`,
    :data:`MAX_SAMPLES`, :data:`MAX_REFINE`, :data:`MAX_N_BOOT`), and the samples of all
    stages together are at most :data:`MAX_TOTAL_SAMPLES`: an absurd value is refused before
    any work.
    """

    name: str
    label: str
    model: str
    params: dict
    control: str
    window: tuple
    size: int
    t_max: float
    sweep_points: int = 9
    sweep_samples: int = 8
    refine: int = 1
    coarse_t_frac: float = 0.5
    final_samples: int = 0
    final_points: int = 0
    fit_window: float = 0.5
    coarse_size: int = 0
    decay_t_max: float = 0
    decay_samples: int = 16
    locate_init: str = "full"
    decay: bool = True
    guess: str | None = None
    window_halfwidth: float = 0.0
    spreading: dict | None = None
    drift: dict | None = None
    fss_sizes: tuple = ()
    fss_t_factor: float = 1.0
    fss_t_power: float = 1.0
    fss_samples: int = 16
    fss_t_min: float = 0.1
    fss_shift: bool = True
    beta_offsets: tuple = ()
    beta_t_max: float = 0
    beta_samples: int = 4
    beta_size: int = 0
    beta_t_min: float = 0.5
    beta_stationary_tol: float = 0.05
    budget_s: float = 60.0
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        _validate(self)

    def replace(self, **changes) -> Entry:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Return the entry as a JSON-serialisable dict (recorded in the outputs)."""
        return dataclasses.asdict(self)


# ============================================================================ validation
# Every scalar field is a Param (the one validation of model parameters, CLI values and
# configurations), checked with ``text=False``: JSON has types, so "yes" is not a boolean
# and "16" not a number. Cross-field rules and the structure of lists and sub-objects follow.
_SIZE, _POINTS, _SAMPLES = (Param("int", 2, MAX_SIZE), Param("int", 3, MAX_POINTS),
                            Param("int", 2, MAX_SAMPLES))
_TIME = Param("float", 4)
#: Valid values of the scalar fields of an :class:`Entry`.
FIELDS = {
    "label": Param("str"), "model": Param("str"), "control": Param("str"),
    "size": _SIZE, "t_max": _TIME,
    "sweep_points": _POINTS, "sweep_samples": _SAMPLES,
    "refine": Param("int", 0, MAX_REFINE),
    "coarse_t_frac": Param("float", 0, 1, low_open=True),
    "final_samples": dataclasses.replace(_SAMPLES, or_zero=True),
    "final_points": dataclasses.replace(_POINTS, or_zero=True),
    "fit_window": Param("float", 0.1, 1),
    "coarse_size": dataclasses.replace(_SIZE, or_zero=True),
    "decay_t_max": dataclasses.replace(_TIME, or_zero=True),
    "decay_samples": _SAMPLES,
    "locate_init": Param("str", choices=("full", "seed")),
    "decay": Param("bool"),
    "window_halfwidth": Param("float", 0),
    "fss_t_factor": Param("float", 0, low_open=True),
    "fss_t_power": Param("float", 0, low_open=True),
    "fss_samples": _SAMPLES,
    "fss_t_min": Param("float", 0),
    "fss_shift": Param("bool"),
    "beta_t_max": dataclasses.replace(_TIME, or_zero=True),
    "beta_samples": _SAMPLES,
    "beta_size": dataclasses.replace(_SIZE, or_zero=True),
    "beta_t_min": Param("float", 0, 1, high_open=True),
    "beta_stationary_tol": Param("float", 0, low_open=True),
    "budget_s": Param("float", 0, low_open=True),
    "notes": Param("str"),
}
#: Keys of ``Entry.spreading`` (``params`` is a dict of model parameters).
SPREADING = {"size": _SIZE, "t_max": _TIME, "samples": _SAMPLES, "params": None,
             "shift": Param("bool")}
SPREADING_REQUIRED = ("size", "t_max", "samples")
#: Keys of ``Entry.drift`` (``window`` is ``[lo, hi]`` with ``0 < lo < hi``).
DRIFT = {"window": None, "points": _POINTS, "t_max": _TIME, "samples": _SAMPLES,
         "size": _SIZE, "ratio": Param("float", 1, low_open=True),
         "n_windows": Param("int", 2, 20)}
DRIFT_REQUIRED = ("window", "points", "t_max", "samples")
#: Keys of ``Entry.extra`` (tuning of the analysis).
EXTRA = {"n_boot": Param("int", 2, MAX_N_BOOT)}


class _Entry:
    """Checks of one entry: every failure is one line naming the entry and field."""

    def __init__(self, name):
        self.prefix = f"entry {short(name)}: "

    def fail(self, msg):
        raise UsageError(self.prefix + msg)

    def check(self, key, spec: Param, v):
        """Return ``v`` checked and coerced by ``spec`` (a one-line error naming ``key``)."""
        try:
            return spec.check(key, v, text=False)
        except (TypeError, ValueError) as exc:
            self.fail(first_line(exc))

    def items(self, key, v, spec: Param, what: str) -> list:
        """Return a list field's items checked by ``spec``; ``what`` describes the list."""
        items = v.tolist() if hasattr(v, "tolist") and not isinstance(v, (str, bytes)) else v
        try:
            if not isinstance(items, (list, tuple)):
                raise TypeError
            return [spec.check(key, x, text=False) for x in items]
        except (TypeError, ValueError):
            self.fail(f"{key} must be {what}, got {short(v)}")

    def mapping(self, key, v, what="an object (dict) of parameter names to values"):
        if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
            self.fail(f"{key} must be {what}, got {short(v)}")
        return dict(v)

    def keys(self, key, obj, specs: dict, required: tuple) -> dict:
        """Return a sub-object (``spreading``, ``drift``, ``extra``) with its values checked.

        Unknown and missing keys fail; keys whose spec is ``None`` are left to the caller.
        """
        optional = [k for k in specs if k not in required]
        listed = (", ".join(required) + "[, " + ", ".join(optional) + "]" if required
                  else ", ".join(optional))
        if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
            self.fail(f"{key} must be {'null (None) or ' if required else ''}an object "
                      f"{{{listed}}}, got {short(obj)}")
        bad = [k for k in obj if k not in specs]
        if bad:
            self.fail(f"{key} has unknown key {bad[0]!r}; valid: {', '.join(specs)}")
        miss = [k for k in required if k not in obj]
        if miss:
            self.fail(f"{key} lacks the key {miss[0]!r} (it needs {', '.join(required)})")
        return {k: (self.check(f"{key}.{k}", specs[k], v) if specs[k] is not None else v)
                for k, v in obj.items()}


def _validate(e: Entry):
    """Validate and normalise every field of an entry (see the :class:`Entry` docstring)."""
    name = e.name
    c = _Entry(name)
    put = lambda k, v: object.__setattr__(e, k, v)  # noqa: E731 - frozen dataclass
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        c.fail("name must be a non-empty string of letters, digits, '.', '_', '+', '-' "
               f"(not starting with '.', '_', '+' or '-'; it names files), got {short(name)}")
    for key, spec in FIELDS.items():
        put(key, c.check(key, spec, getattr(e, key)))
    for key in ("model", "control"):
        if not getattr(e, key).strip():
            c.fail(f"{key} must be a non-empty string, got {short(getattr(e, key))}")
    put("params", c.mapping("params", e.params))
    win = c.items("window", e.window, Param("float"), "two finite numbers [low, high]")
    if len(win) != 2:
        c.fail(f"window must be two finite numbers [low, high], got {short(e.window)}")
    lo, hi = win
    if not lo < hi:
        c.fail(f"window must have low < high, got {short(e.window)}")
    put("window", (lo, hi))
    if e.refine > 0 and e.coarse_t_frac * e.t_max < 4:
        c.fail(f"coarse_t_frac * t_max (the last time of the coarse level) must be >= 4, got "
               f"{number_text(e.coarse_t_frac)} * {number_text(e.t_max)} = "
               f"{e.coarse_t_frac * e.t_max:g}")
    if e.guess is not None:
        if e.guess != "meanfield":
            c.fail(f"guess must be null (None) or 'meanfield', got {short(e.guess)}")
        if e.control != "sigma_w" or "sigma_b" not in e.params:
            c.fail("guess 'meanfield' needs control 'sigma_w' and 'sigma_b' in params (it "
                   "centres the window on the infinite-width critical line of networks)")
    if e.spreading is not None:
        sp = c.keys("spreading", e.spreading, SPREADING, SPREADING_REQUIRED)
        if "params" in sp:
            sp["params"] = c.mapping("spreading.params", sp["params"])
        put("spreading", sp)
    if e.drift is not None:
        dr = c.keys("drift", e.drift, DRIFT, DRIFT_REQUIRED)
        what = "[lo, hi] with 0 < lo < hi (a geometric grid)"
        w = c.items("drift.window", dr["window"], Param("float", 0, low_open=True), what)
        if len(w) != 2 or not w[0] < w[1]:
            c.fail(f"drift.window must be {what}, got {short(dr['window'])}")
        put("drift", {**dr, "window": tuple(w)})
    sizes = c.items("fss_sizes", e.fss_sizes, _SIZE,
                    f"a list of sizes, each {_SIZE.describe()}")
    if len(set(sizes)) != len(sizes):
        c.fail(f"fss_sizes must not repeat a size, got {short(e.fss_sizes)}")
    if len(sizes) == 1:
        c.fail(f"fss_sizes must be empty (no FSS) or hold at least 2 sizes (a collapse needs "
               f"two), got {short(e.fss_sizes)}")
    put("fss_sizes", tuple(sizes))
    if e.fss_t_min >= e.fss_t_factor:
        c.fail(f"fss_t_min must be below fss_t_factor (= {number_text(e.fss_t_factor)}: the "
               f"collapse needs times before the last), got {number_text(e.fss_t_min)}")
    offsets = c.items("beta_offsets", e.beta_offsets, Param("float", 0, low_open=True),
                      "a list of finite numbers > 0 (relative distances above the critical "
                      "point)")
    if any(b <= a for a, b in zip(offsets, offsets[1:])):
        c.fail(f"beta_offsets must be strictly increasing, got {short(e.beta_offsets)}")
    if 0 < len(offsets) < 3:
        c.fail(f"beta_offsets must be empty (no beta) or hold at least 3 offsets (the fit of "
               f"beta needs three points), got {short(e.beta_offsets)}")
    put("beta_offsets", tuple(offsets))
    put("extra", c.keys("extra", e.extra, EXTRA, ()))
    if not e.decay_t_max:
        put("decay_t_max", e.t_max)
    if not e.beta_t_max:
        put("beta_t_max", e.t_max)
    _check_total_samples(c, e)


def _stage_samples(e: Entry) -> dict:
    """Return the samples each stage of an entry simulates (as ``_benchmark_measure`` runs them)."""
    sweep = 0
    for level in range(e.refine + 1):
        last = level == e.refine and level > 0
        pts = e.final_points if (last and e.final_points) else e.sweep_points
        sweep += pts * ((e.final_samples or e.sweep_samples) if last else e.sweep_samples)
    out = {"sweep_points x sweep_samples x (refine + 1)": sweep}
    if e.decay:
        out["decay_samples"] = e.decay_samples
    if e.spreading is not None:
        out["spreading.samples"] = e.spreading["samples"] * (
            3 if e.spreading.get("shift", True) else 1)
    if e.drift is not None:
        out["drift.points x drift.samples"] = e.drift["points"] * e.drift["samples"]
    out["fss_samples x len(fss_sizes)"] = (e.fss_samples * len(e.fss_sizes)
                                           * (3 if e.fss_shift else 1))
    out["beta_samples x len(beta_offsets)"] = e.beta_samples * len(e.beta_offsets)
    return out


def _check_total_samples(c: _Entry, e: Entry):
    """Refuse an entry whose stages simulate more than :data:`MAX_TOTAL_SAMPLES` samples."""
    parts = _stage_samples(e)
    total = sum(parts.values())
    if total > MAX_TOTAL_SAMPLES:
        worst = max(parts, key=parts.get)
        c.fail(f"the stages would simulate {total:.3g} samples in all, at most "
               f"{MAX_TOTAL_SAMPLES:.0e}; most of them come from {worst} ({parts[worst]:.3g})")


def _quick() -> list[Entry]:
    """Sizes for about 10 minutes on a 2-core VM (budgets measured on one, 2026-11-28)."""
    return [
        Entry(
            name="dp1d", label="1+1 bond DP (Domany-Kinzel automaton, p1 = p, p2 = p(2-p))",
            model="dp", params={"kind": "bond", "dim": 1}, control="p", window=(0.60, 0.69),
            size=16384, t_max=8192, sweep_points=9, sweep_samples=16, refine=3,
            final_samples=64, decay_t_max=16384, decay_samples=16,
            spreading={"size": 4096, "t_max": 2048, "samples": 4000},
            fss_sizes=(32, 64, 128, 256), fss_t_factor=8.0, fss_t_power=1.58,
            fss_samples=200, beta_offsets=(0.006, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08),
            beta_t_max=32768, beta_size=65536, beta_t_min=0.5, beta_samples=8,
            beta_stationary_tol=0.1, budget_s=45,
        ),
        Entry(
            name="cp2d", label="2D contact process (square lattice)", model="contact",
            params={"dim": 2}, control="lam", window=(1.50, 1.80), size=128, t_max=1000.0,
            sweep_points=9, sweep_samples=6, refine=2, final_samples=96,
            decay_t_max=1000.0, decay_samples=128,
            spreading={"size": 256, "t_max": 1000.0, "samples": 64000},
            beta_offsets=(0.02, 0.03, 0.04, 0.06, 0.08, 0.12), beta_t_max=1000.0, beta_samples=16,
            beta_t_min=0.25, beta_stationary_tol=0.15,
            budget_s=75,
            notes="96 samples per value on the last sweep level locate lam_c to ~0.001 "
                  "(32 gave ~0.003, which dominated the errors of delta, delta' and theta); "
                  "beta from 2-12 % above lam_c: closer, at L = 128 and t <= 1000, the "
                  "density is not yet stationary (1-4 % gave beta = 0.52 +- 0.10; calibration "
                  "case cp2d_beta); "
                  "only z separates DP from Manna in 2D (the catalog has no Manna delta' or "
                  "theta), so z needs an error below ~0.05; the drift of z between the halves "
                  "of its window is noise at t <= 1000 (-0.005 +- 0.055 over 40 seeds of 16000 "
                  "runs; calibration case cp2d_spreading), and at 16000 runs that noise put z's "
                  "window error at 0.05-0.09 in a third of the seeds: 64000 halve it; "
                  "no finite-size scaling in quick "
                  "mode: a collapse needs the critical point to better than 1e-3 and larger "
                  "sizes than 60 s allow in 2D",
        ),
        Entry(
            name="mfcp", label="Mean-field contact process (complete graph)", model="mfcp",
            params={}, control="lam", window=(0.90, 1.10), size=1_000_000, t_max=300.0,
            sweep_points=7, sweep_samples=8, refine=3, coarse_t_frac=1 / 3, final_samples=16,
            final_points=9,
            coarse_size=100_000, decay_t_max=150.0, decay_samples=16,
            fss_sizes=(250, 500, 1000, 2000, 4000), fss_t_factor=4.0, fss_t_power=0.5,
            fss_t_min=0.3, fss_samples=200, beta_offsets=(0.05, 0.07, 0.1, 0.15, 0.2),
            beta_size=200_000, beta_t_max=500.0, beta_samples=8, beta_t_min=0.5,
            beta_stationary_tol=0.2, budget_s=60, fit_window=0.35,
            notes="the critical point is located on the last 35 % of the logarithmic time "
                  "range: the analytic 1/t correction of the mean-field decay, "
                  "rho = 1/(1 + t), puts the zero of the curvature 0.6 errors above lam_c = 1 "
                  "in the upper half (calibration case mfcp_critical_point); "
                  "beta from 5-20 % above lam_c at N = 2e5: closer to lam_c the stationary "
                  "density of the complete graph fluctuates by ~1/(Delta^1.5 N^0.5) (hence "
                  "also the relaxed stationarity test); the analytic correction of "
                  "rho_s = 1 - 1/lam is fitted (calibration case mfcp_beta)",
        ),
        Entry(
            name="mlp", label="MLP, tanh, sigma_b = 0.3 (exact Gaussian transition)",
            model="mlp", params={"sigma_b": 0.3, "activation": "tanh"}, control="sigma_w",
            window=(1.30, 1.50), guess="meanfield", window_halfwidth=0.1, size=16384,
            coarse_size=1024, t_max=1024, sweep_points=7, sweep_samples=8, refine=2,
            final_samples=32, decay_t_max=512, decay_samples=64,
            fss_sizes=(64, 128, 256, 512), fss_t_factor=4.0, fss_t_power=1.0, fss_t_min=0.1,
            fss_samples=1024, beta_offsets=(0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05),
            beta_t_max=2048, beta_samples=16, beta_size=16384, beta_t_min=0.25,
            beta_stationary_tol=0.2, budget_s=75,
            notes="finite width: rho fluctuates slowly around its stationary value, so the "
                  "stationarity test of beta is relaxed to |slope| + 2 sigma <= 0.2 over "
                  "t in [512, 2048]; offsets of 0.5-5 %: the infinite-width map bends (an "
                  "effective beta of 0.92 at 3-5 %), which the correction term of fit_beta "
                  "takes, and the farther points pin its exponent down (0.5-2 % alone gave "
                  "beta = 0.91 +- 0.12-0.16; calibration case mlp_beta); the sweep runs to depth "
                  "1024: to depth 512 the zero of the late-time curvature lies 0.0004 above "
                  "the infinite-width line on average (up to 0.001 on the coarser grid of the "
                  "last level), and the width FSS at that point came out low (a = 0.85 +- "
                  "0.08: no match), to depth 1024 it is unbiased (+0.00001, 8 seeds) and "
                  "twice as precise (~0.0003); the decay stops at depth 512: with nu_par = 1 "
                  "the scaling "
                  "variable Delta t reaches ~0.8 by depth 2048, where the decay bends towards "
                  "its stationary value (delta's window error 0.2-0.33 in seeds 0-3), ~0.2 "
                  "by 512; 1024 samples per width so that the collapse tells a = b = 1 from "
                  "plain mean field's 0.5 (512 left a = 0.86 +- 0.36 at seed 4)",
        ),
        Entry(
            name="resmlp", label="Residual MLP, tanh, sigma_b = 0.3, alpha = 1",
            model="resmlp", params={"sigma_b": 0.3, "activation": "tanh", "alpha": 1.0},
            control="sigma_w", window=(0.005, 0.5), size=1024, t_max=1024, sweep_points=9,
            sweep_samples=8, refine=1, final_samples=8, decay_t_max=4096, decay_samples=16,
            drift={"window": [0.004, 0.6], "points": 33, "t_max": 4096, "samples": 16},
            budget_s=45,
            notes="the variance of a residual network grows without a fixed point and the "
                  "replica distance never shrinks on average: the drift check asks whether "
                  "the located sigma_w,c is a property of the network or of the depth "
                  "(docs/physics.md)",
        ),
        Entry(
            name="cnn1d", label="1D CNN, tanh, 8 channels, weight-shared", model="cnn",
            params={"channels": 8, "sigma_b": 0.3, "dim": 1, "activation": "tanh",
                    "weight_sharing": True},
            control="sigma_w", window=(1.40, 2.00), size=256, t_max=1024, sweep_points=13,
            sweep_samples=24, refine=0,
            decay_t_max=2048, decay_samples=32, fss_sizes=(64, 128, 256),
            fss_t_factor=4.0, fss_t_power=1.0, fss_samples=16, fss_shift=False, budget_s=50,
            notes="one kernel per layer makes the noise global: sample-to-sample "
                  "fluctuations of ln rho are large (the mean is carried by the samples that "
                  "have not collapsed), hence many samples and a single sweep level",
        ),
        Entry(
            name="cnn1d-lc", label="1D CNN, tanh, 8 channels, locally connected",
            model="cnn", params={"channels": 8, "sigma_b": 0.3, "dim": 1, "activation": "tanh",
                                 "weight_sharing": False},
            control="sigma_w", window=(1.30, 1.60), size=256, t_max=512, sweep_points=9,
            sweep_samples=4, refine=1, final_samples=8, decay_t_max=1024, decay_samples=8,
            spreading={"size": 256, "t_max": 256, "samples": 200},
            fss_sizes=(32, 64, 128), fss_t_factor=2.0, fss_t_power=1.5, fss_samples=16,
            budget_s=45,
        ),
        Entry(
            name="cnn2d", label="2D CNN, tanh, 4 channels, weight-shared", model="cnn",
            params={"channels": 4, "sigma_b": 0.3, "dim": 2, "activation": "tanh",
                    "weight_sharing": True},
            control="sigma_w", window=(1.40, 2.40), size=32, t_max=512, sweep_points=9,
            sweep_samples=16, refine=0, decay_t_max=1024,
            decay_samples=16, fss_sizes=(8, 16, 32), fss_t_factor=4.0, fss_t_power=1.0,
            fss_samples=32, budget_s=45,
        ),
        Entry(
            name="cnn2d-lc", label="2D CNN, tanh, 4 channels, locally connected", model="cnn",
            params={"channels": 4, "sigma_b": 0.3, "dim": 2, "activation": "tanh",
                    "weight_sharing": False},
            control="sigma_w", window=(1.30, 1.70), size=32, t_max=512, sweep_points=9,
            sweep_samples=4, refine=1, final_points=7, final_samples=12, decay_t_max=1024,
            decay_samples=12, budget_s=30,
            notes="no seed spreading in quick mode: from a seed the locally connected tanh "
                  "network never resynchronises a site exactly (survival 1) and the light "
                  "cone fills the small lattice",
        ),
        Entry(
            name="cnn1d-lc-hardtanh",
            label="1D CNN, hard_tanh, 4 channels, sigma_b = 5, locally connected",
            model="cnn", params={"channels": 4, "sigma_b": 5.0, "dim": 1,
                                 "activation": "hard_tanh", "weight_sharing": False},
            control="sigma_w", window=(4.8, 5.6), size=1024, coarse_size=256, t_max=2048,
            sweep_points=9, sweep_samples=6, refine=1, final_samples=12, decay_t_max=4096,
            decay_samples=16,
            spreading={"size": 256, "t_max": 512, "samples": 400,
                       "params": {"seed_rho": 1.0}},
            fss_sizes=(32, 64, 128), fss_t_factor=4.0, fss_t_power=1.58, fss_samples=96,
            budget_s=100,
            notes="seed runs start from one fully decorrelated site (seed_rho = 1): with "
                  "strong saturation an infinitesimal difference dies out exactly; no beta "
                  "in quick mode (the stationary density, ~0.07 at L = 512, fluctuates too "
                  "much to pass the stationarity test)",
        ),
    ]


def _full() -> list[Entry]:
    """Publication-grade sizes (hours; resumable through the sweep checkpoints)."""
    q = {e.name: e for e in _quick()}
    return [
        q["dp1d"].replace(size=65536, coarse_size=16384, t_max=16384, sweep_points=11,
                          sweep_samples=32, refine=2, final_samples=64, decay_t_max=65536,
                          decay_samples=128,
                          spreading={"size": 16384, "t_max": 8192, "samples": 100000},
                          fss_sizes=(64, 128, 256, 512, 1024), fss_samples=2000,
                          beta_offsets=(0.004, 0.006, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08),
                          beta_t_max=131072, beta_size=262144, beta_samples=16,
                          budget_s=3 * 3600),
        q["cp2d"].replace(size=512, coarse_size=128, t_max=4000.0, sweep_points=11,
                          sweep_samples=16, refine=2, final_samples=64, decay_t_max=8000.0,
                          decay_samples=64,
                          spreading={"size": 512, "t_max": 4000.0, "samples": 100000},
                          fss_sizes=(16, 32, 64, 128), fss_t_factor=4.0, fss_t_power=1.77,
                          fss_samples=1000, beta_offsets=(0.005, 0.01, 0.015, 0.02, 0.03),
                          beta_t_max=8000.0, beta_size=256, beta_samples=16,
                          budget_s=4 * 3600),
        q["mfcp"].replace(size=10_000_000, coarse_size=1_000_000, t_max=1000.0,
                          sweep_samples=32, refine=2, final_samples=64, decay_t_max=1000.0,
                          decay_samples=64, fss_sizes=(10**3, 10**4, 10**5, 10**6),
                          fss_samples=1000, beta_offsets=(0.05, 0.07, 0.1, 0.15, 0.2),
                          beta_t_max=1000.0, beta_size=10_000_000, beta_samples=8,
                          budget_s=4 * 3600),
        q["mlp"].replace(size=65536, coarse_size=4096, t_max=8192, sweep_samples=32, refine=2,
                         final_samples=64, decay_t_max=8192, decay_samples=128,
                         fss_sizes=(128, 256, 512, 1024, 2048, 4096), fss_samples=512,
                         beta_offsets=(0.01, 0.015, 0.02, 0.03, 0.04), beta_size=8192,
                         beta_t_max=4096, beta_samples=64, budget_s=3 * 3600),
        q["resmlp"].replace(size=4096, t_max=4096, sweep_samples=32, final_samples=32,
                            decay_t_max=16384, decay_samples=64,
                            drift={"window": [0.002, 0.6], "points": 41, "t_max": 32768,
                                   "samples": 32, "n_windows": 4},
                            budget_s=3600),
        q["cnn1d"].replace(size=1024, t_max=4096, sweep_samples=128, refine=1,
                           final_samples=128, decay_t_max=8192, decay_samples=256,
                           fss_sizes=(64, 128, 256, 512, 1024), fss_samples=128,
                           budget_s=3 * 3600),
        q["cnn1d-lc"].replace(size=2048, coarse_size=512, t_max=4096, sweep_samples=16,
                              refine=2, final_samples=64, decay_t_max=8192, decay_samples=64,
                              spreading={"size": 2048, "t_max": 2048, "samples": 2000},
                              fss_sizes=(64, 128, 256, 512), fss_samples=64,
                              budget_s=3 * 3600),
        q["cnn2d"].replace(size=128, t_max=2048, sweep_samples=64, refine=1,
                           final_samples=64, decay_t_max=4096, decay_samples=64,
                           fss_sizes=(16, 32, 64, 128), fss_samples=64, budget_s=3 * 3600),
        q["cnn2d-lc"].replace(size=128, coarse_size=32, t_max=2048, sweep_samples=16,
                              refine=2, final_samples=32, decay_t_max=4096, decay_samples=32,
                              spreading={"size": 128, "t_max": 1024, "samples": 1000},
                              fss_sizes=(16, 32, 64, 128), fss_t_factor=2.0, fss_t_power=1.5,
                              fss_samples=32, budget_s=3 * 3600),
        q["cnn1d-lc-hardtanh"].replace(size=8192, coarse_size=1024, t_max=8192,
                                       sweep_samples=16, refine=2, final_samples=64,
                                       decay_t_max=16384, decay_samples=64,
                                       spreading={"size": 4096, "t_max": 8192,
                                                  "samples": 20000,
                                                  "params": {"seed_rho": 1.0}},
                                       fss_sizes=(64, 128, 256, 512, 1024), fss_samples=512,
                                       beta_offsets=(0.005, 0.01, 0.015, 0.02, 0.03),
                                       beta_t_max=32768, beta_size=8192, beta_samples=8,
                                       budget_s=4 * 3600),
    ]


def default_config(mode: str = "quick") -> list[Entry]:
    """Return the built-in benchmark configuration for a mode.

    Parameters
    ----------
    mode : {"quick", "full"}
        ``"quick"``: about 10 minutes on a 2-core machine (Numba compilation included);
        ``"full"``: publication-grade sizes (hours), resumable.

    Returns
    -------
    list of Entry
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of 'quick', 'full', got {mode!r}")
    return _quick() if mode == "quick" else _full()


def load_config(path) -> list[Entry]:
    """Read a benchmark configuration from a JSON file.

    The file holds a list of entries (or ``{"entries": [...]}``), each an object with the
    fields of :class:`Entry` (``name``, ``label``, ``model``, ``params``, ``control``,
    ``window``, ``size``, ``t_max`` required; the others optional).

    Parameters
    ----------
    path : str or os.PathLike
        JSON file.

    Returns
    -------
    list of Entry

    Raises
    ------
    ValueError
        Unreadable file, unknown or missing fields, a field with a wrong type or out of its
        range (one line naming the entry and field; see :class:`Entry`).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except OSError as exc:
        raise ValueError(f"config: cannot read {str(p)!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"config: {str(p)!r} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"config: {str(p)!r} is nested too deeply to be a benchmark "
                         "configuration (a list of flat entries)") from None
    if isinstance(data, dict):
        data = data.get("entries")
    if not isinstance(data, list) or not data:
        raise ValueError("config: expected a non-empty list of entries (or {\"entries\": "
                         "[...]})")
    fields = {f.name: f for f in dataclasses.fields(Entry)}
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    out, names = [], set()
    for i, d in enumerate(data):
        if not isinstance(d, dict):
            raise ValueError(f"config: entry {i} must be an object, got {type(d).__name__}")
        label = d.get("name", f"#{i}")
        if not isinstance(label, str):
            label = f"#{i}"
        bad = [k for k in d if k not in fields]
        if bad:
            raise ValueError(f"config: entry {label!r} has unknown field {bad[0]!r}; valid: "
                             f"{', '.join(fields)}")
        miss = [k for k in required if k not in d]
        if miss:
            raise ValueError(f"config: entry {label!r} lacks the field {miss[0]!r}")
        e = Entry(**d)  # validates every field (one line naming the entry and field)
        if e.name in names:
            raise ValueError(f"config: duplicate entry name {e.name!r}")
        names.add(e.name)
        out.append(e)
    return out

"""The whole pipeline: measure what a dataset allows, compare with the catalog, decide."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from absorbphys._params import check_int

from ._catalog import ALPHA, EXPONENTS, check_alpha, check_classes, check_dim, dim_range
from ._collapse import N_BOOT_MAX, collapse
from ._critical import critical_point
from ._decay import fit_power_law, kappa, spreading
from ._estimate import Estimate, as_estimate, estimates
from ._estimate import estimates as _result_estimates
from ._off_critical import fit_beta, fit_nu_par
from ._verdict import decide, groups_of

#: Exponents a full classification would use (for the "missing" list).
_WANTED = ("delta", "delta_prime", "theta", "z", "a", "b", "beta", "nu_par")


def _role(ds: xr.Dataset) -> str:
    control, size = ds.attrs.get("control"), ds.attrs.get("size_param")
    seed = str(ds.attrs.get("init", "full")) == "seed"
    c_swept = control in ds.dims and ds.sizes[control] > 1
    s_swept = size in ds.dims and ds.sizes[size] > 1
    if c_swept and s_swept:
        return "size-control sweep"
    if c_swept:
        return "seed sweep" if seed else "decay sweep"
    if s_swept:
        return "seed size sweep" if seed else "size sweep"
    return "seed run" if seed else "decay run"


def _check_boot(n_boot, seed):
    """Validate ``n_boot`` (in [2, N_BOOT_MAX]) and ``seed`` (an integer >= 0)."""
    return check_int("n_boot", n_boot, low=2, high=N_BOOT_MAX), check_int("seed", seed, low=0)


def _dim_attr(ds) -> int:
    """Return the ``dim`` attribute as an int (-1 when absent); one-line error otherwise."""
    raw = ds.attrs.get("dim")
    if raw is None:
        return -1
    v = raw.item() if isinstance(raw, np.ndarray) and raw.size == 1 else raw
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        d = int(v)
    elif isinstance(v, (float, np.floating)) and float(v).is_integer():
        d = int(v)
    elif isinstance(v, str) and v.strip().lstrip("+-").isdigit():
        d = int(v)
    else:
        raise ValueError(f"dataset attribute 'dim' must be an integer (spatial dimension, 0 "
                         f"for mean field/networks), got {raw!r}")
    if d < 0:
        raise ValueError(f"dataset attribute 'dim' must be >= 0 (spatial dimension, 0 for mean "
                         f"field/networks), got {d}")
    return d


def _check_schema(ds):
    """Check the attributes that say what a run is: ``init``, ``control``, ``size_param``.

    :func:`analyze` decides between decay and seed runs from ``init`` and reads a swept
    dimension as the control parameter or the size only through these attributes: without
    them the kind of run would be a guess. One-line errors naming the attribute and how to
    add it (``ds.assign_attrs`` returns a copy; the schema of :func:`absorbphys.simulate`
    has them).
    """
    init = ds.attrs.get("init")
    if init is None:
        raise ValueError("dataset has no 'init' attribute, needed to tell decay runs from the "
                         "fully active state from seed runs; add it with "
                         "ds.assign_attrs(init='full') or ds.assign_attrs(init='seed')")
    if not isinstance(init, str):
        raise ValueError(f"dataset attribute 'init' must be a string ('full', 'seed' or "
                         f"'c0=...'), got {init!r}")
    for name in ("control", "size_param"):
        v = ds.attrs.get(name)
        if v is not None and not isinstance(v, str):
            raise ValueError(f"dataset attribute {name!r} must be a dimension name, got {v!r}")
        if v in ("t", "batch"):
            what = "time" if v == "t" else "batch"
            raise ValueError(f"dataset attribute {name!r} names the {what} dimension {v!r}; it "
                             "must name a swept parameter (e.g. ds.assign_attrs("
                             f"{name}={'p' if name == 'control' else 'L'!r}))")


def _check_dims(ds):
    """Every swept dim must be the ``control`` or the ``size_param`` attribute."""
    control, size = ds.attrs.get("control"), ds.attrs.get("size_param")
    other = [str(d) for d in ds.dims if d not in ("t", "batch", control, size)]
    if other:
        if control is None and size is None:
            raise ValueError(f"dataset is swept over {other[0]!r} but has no 'control' or "
                             "'size_param' attribute to say what it is; add one, e.g. "
                             f"ds.assign_attrs(control={other[0]!r}), or select one value "
                             "(ds.sel)")
        raise ValueError(f"dataset is swept over {other[0]!r}, which is neither its 'control' "
                         f"attribute ({control!r}) nor its 'size_param' ({size!r}); use "
                         f"ds.assign_attrs(control={other[0]!r}) or select one value (ds.sel)")


def _squeeze(ds):
    """Drop length-1 swept dims (a sweep over one value is a single run)."""
    for d in list(ds.dims):
        if d not in ("t", "batch") and ds.sizes[d] == 1:
            ds = ds.isel({d: 0})
    return ds


def _interp_at(x, val, err, xc: Estimate):
    """Linear interpolation of ``val(x)`` at ``xc`` with errors (incl. the slope * err(xc))."""
    ok = np.isfinite(val) & np.isfinite(err)
    x, val, err = x[ok], val[ok], err[ok]
    if x.size == 0:
        raise ValueError("no finite values to interpolate")
    if x.size == 1 or xc.value <= x[0] or xc.value >= x[-1]:
        i = int(np.argmin(np.abs(x - xc.value)))
        return Estimate(val[i], err[i]), False
    j = int(np.searchsorted(x, xc.value))
    f = (xc.value - x[j - 1]) / (x[j] - x[j - 1])
    v = (1 - f) * val[j - 1] + f * val[j]
    slope = (val[j] - val[j - 1]) / (x[j] - x[j - 1])
    e = math.sqrt(((1 - f) * err[j - 1]) ** 2 + (f * err[j]) ** 2 + (slope * xc.error) ** 2)
    return Estimate(v, e), True


def analyze(ds: xr.Dataset, *, n_boot=100, seed=0, t_min=None, t_max=None):
    """Measure everything a dataset allows, by its shape (dims and ``init`` attribute).

    * decay sweep over the control parameter: critical value and ``delta``
      (:func:`critical_point`), ``beta`` from stationary active curves
      (:func:`fit_beta`) and ``nu_par`` from relaxing absorbing curves (:func:`fit_nu_par`)
      when the sweep has enough of them;
    * seed sweep: critical value and ``delta'`` from the survival, ``theta`` and ``z``
      interpolated to it (:func:`spreading`);
    * size sweep (at criticality): finite-size collapse ``a``, ``b`` (:func:`collapse`) and the
      metric factors;
    * single decay or seed run (assumed critical): ``delta`` (and ``kappa`` for dim 0 when
      ``delta`` is consistent with 1), or
      ``delta'``, ``theta``, ``z``.

    The kind of run is read from the schema attributes, never guessed: ``init`` (``"full"``,
    ``"seed"`` or ``"c0=..."``) is required, and a swept dimension must be named by the
    ``control`` or ``size_param`` attribute (one-line errors say how to add them with
    ``ds.assign_attrs``). The input is never modified.

    Parameters
    ----------
    ds : xarray.Dataset
        Data in the absorbphys schema.
    n_boot : int
        Bootstrap resamples of the collapse, in [2, 100000].
    seed : int
        Bootstrap seed (>= 0).
    t_min, t_max : float, optional
        Fit window in time, passed to every estimator (:func:`critical_point`,
        :func:`fit_power_law`, :func:`spreading`, :func:`collapse`, :func:`kappa`; the
        stationary density and relaxation fits of a sweep use their own windows). Default:
        each estimator's own choice.

    Returns
    -------
    dict
        ``{"kind": str, "estimates": {name: Estimate}, "notes": [str], "size_kind": str}``.
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"expected an xarray Dataset, got {type(ds).__name__}")
    n_boot, seed = _check_boot(n_boot, seed)
    _check_schema(ds)
    dim = _dim_attr(ds)
    ds = _squeeze(ds)
    _check_dims(ds)
    kind = _role(ds)
    control, size = ds.attrs.get("control"), ds.attrs.get("size_param")
    est, notes = {}, []
    if kind == "size-control sweep":
        big = ds[size].values.max()
        notes.append(f"size and control both swept: critical point from {size}={big:g} only")
        ds = ds.sel({size: big})
        kind = "seed sweep" if str(ds.attrs.get("init")) == "seed" else "decay sweep"
    if kind == "decay sweep":
        cp = critical_point(ds, control, t_min=t_min, t_max=t_max)
        key = f"{control}_c"
        est[key] = Estimate(float(cp[key]), float(cp[f"{key}_error"]))
        if "not_measured" in cp.attrs:
            notes.append(cp.attrs["not_measured"])
        else:
            est["delta"] = Estimate(float(cp["delta"]), float(cp["delta_error"]))
        for fn, name in ((fit_beta, "beta"), (fit_nu_par, "nu_par")):
            try:
                r = fn(ds, cp, control)
                est[name] = Estimate(float(r[name]), float(r[f"{name}_error"]))
            except ValueError as exc:
                notes.append(f"{name} not measured: {str(exc).splitlines()[0]}")
    elif kind == "seed sweep":
        cp = critical_point(ds, control, var="survival", t_min=t_min, t_max=t_max)
        key = f"{control}_c"
        xc = Estimate(float(cp[key]), float(cp[f"{key}_error"]))
        est[key] = xc
        if "not_measured" in cp.attrs:
            notes.append(cp.attrs["not_measured"].replace("delta:", "delta_prime:", 1))
        else:
            est["delta_prime"] = Estimate(float(cp["delta"]), float(cp["delta_error"]))
        sp = spreading(ds.sortby(control), t_min=t_min, t_max=t_max)
        x = np.asarray(sp[control].values, dtype=float)
        if "not_measured" in sp.attrs:
            notes.append(sp.attrs["not_measured"])
        for name in ("theta", "z"):
            if name in sp:
                if not np.any(np.isfinite(sp[name].values) & np.isfinite(sp[f"{name}_error"])):
                    notes.append(f"{name} not measured: no finite value over the sweep")
                    continue
                e, inside = _interp_at(x, sp[name].values, sp[f"{name}_error"].values, xc)
                est[name] = e
                if not inside:
                    notes.append(f"{name}: critical value outside the sweep, nearest value "
                                 "used")
    elif kind in ("size sweep", "seed size sweep"):
        if kind == "seed size sweep":
            notes.append("seed runs over sizes: collapse of the survival probability")
        var = "survival" if kind == "seed size sweep" else "rho"
        r = collapse(ds, var=var, size_dim=size, n_boot=n_boot, seed=seed, t_min=t_min,
                     t_max=t_max)
        est.update(estimates(r))
        est.pop("quality", None)
        notes.append(f"collapse quality {float(r['quality']):.3g} (about 1 = within errors)")
        if r.attrs.get("warning"):
            notes.append(f"collapse: {r.attrs['warning']}")
        if kind == "seed size sweep":
            for k in ("a", "b", "amplitude", "mu"):
                est.pop(k, None)
            notes.append("finite-size exponents of the survival are not compared")
    elif kind == "seed run":
        sp = spreading(ds, t_min=t_min, t_max=t_max)
        est.update(estimates(sp))
        if "not_measured" in sp.attrs:
            notes.append(sp.attrs["not_measured"])
        notes.append("single seed run: assumed to be at the critical point")
    else:
        r = fit_power_law(ds, t_min=t_min, t_max=t_max)
        est.update({k: v for k, v in estimates(r).items() if k == "delta"})
        notes.append("single decay run: assumed to be at the critical point")
        if dim == 0 and "delta" in est:
            d = est["delta"]
            if abs(d.value - 1.0) < 3 * d.error + 0.05:
                k = kappa(ds, t_min=t_min, t_max=t_max)
                est.update(estimates(k))
                if "not_measured" in k.attrs:
                    notes.append(k.attrs["not_measured"])
            else:
                notes.append("kappa not reported: the decay is not rho ~ 1/(kappa t)")
    for k in [k for k in est if k in EXPONENTS and not est[k].error > 0]:
        notes.append(f"{k} not measured: zero error bar ({est.pop(k).value:.6g} from data "
                     "without spread between batches)")
    size_kind = "N" if dim == 0 else "L"
    return {"kind": kind, "estimates": est, "notes": notes, "size_kind": size_kind,
            "dim": dim}


@dataclass
class Verdict:
    """Outcome of :func:`classify` (the rule of :func:`~absorbphys.analysis.decide`).

    Attributes
    ----------
    status : {"match", "inconclusive", "no match"}
        ``"match"``: one class is consistent with every independent group of measurements
        (decay, spreading, finite-size scaling, stationary density, relaxation), at least two
        groups resolve it and the runner-up is rejected; ``"inconclusive"``: fewer than two
        groups resolve the best class, or the data cannot separate it from the runner-up;
        ``"no match"``: every class is rejected by some group.
    best, runner_up : str
        Best and second-best class ids ("" when no measurement resolves any class).
    reason : str
        One sentence with the numbers that decided.
    family : str
        The family shared by every consistent class (e.g. ``"mean field"``), or "".
    score : dict
        ``chi2``, ``ndof`` and ``p_value`` of the best class over all groups.
    candidates : list of str
        Classes consistent with every group (p-value >= ``alpha`` in each).
    groups : dict
        ``{group: {class: p-value}}`` and the exponents of each group in ``group_members``.
    estimates : dict of str to Estimate
        Every measured quantity (exponents, critical values, metric factors).
    measurements : list of str
        What was measured from which input.
    missing : list of str
        Exponents of a full classification that were not measured.
    notes : list of str
        Caveats of the pipeline.
    table : xarray.Dataset
        The comparison (:func:`compare`) in the verdict's ranking, ``consistent`` meaning
        every group and ``groups`` the number of resolving groups per class.
    """

    status: str
    best: str
    runner_up: str
    score: dict
    candidates: list
    estimates: dict
    measurements: list
    missing: list
    notes: list = field(default_factory=list)
    table: xr.Dataset | None = None
    alpha: float = ALPHA
    reason: str = ""
    family: str = ""
    groups: dict = field(default_factory=dict)
    group_members: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able summary: estimates as ``{"value", "error"}``, classes ranked."""
        t = self.table
        classes = []
        if t is not None:
            for c in t["class"].values:
                row = t.sel({"class": c})
                classes.append({
                    "class": str(c), "name": str(row["name"].values),
                    "rank": int(row["rank"]), "chi2": float(row["chi2"]),
                    "ndof": int(row["ndof"]), "consistent": bool(row["consistent"]),
                    "groups": int(row["groups"]) if "groups" in row else 0,
                    "p_value": None if not np.isfinite(row["p_value"]) else
                    float(row["p_value"]),
                    "deviation": {str(k): (None if not np.isfinite(v) else float(v))
                                  for k, v in zip(t["exponent"].values,
                                                  row["deviation"].values)}})
        return {"status": self.status, "best": self.best, "runner_up": self.runner_up,
                "reason": self.reason, "family": self.family,
                "score": self.score, "candidates": list(self.candidates),
                "groups": {g: {"exponents": list(self.group_members.get(g, [])),
                               "p_value": dict(p)} for g, p in self.groups.items()},
                "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
                "measurements": list(self.measurements), "missing": list(self.missing),
                "notes": list(self.notes), "alpha": self.alpha, "classes": classes}

    def to_json(self, **kw) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), **kw)

    def group_lines(self) -> list:
        """One line per group: its estimates and p-values for the best and runner-up."""
        out = []
        show = [c for c in (self.best, self.runner_up) if c]
        for g, ps in self.groups.items():
            ests = ", ".join(f"{k} = {self.estimates[k]}" for k in self.group_members.get(g, [])
                             if k in self.estimates)
            pv = ", ".join(f"p({c}) = {ps[c]:.2g}" for c in show if c in ps)
            out.append(f"{g}: {ests}" + (f"  [{pv}]" if pv else ""))
        return out

    def __str__(self):
        lines = [f"verdict: {self.status}"]
        if self.status == "match":
            lines.append(f"  class: {self.best} (p = {self.score['p_value']:.3g}, "
                         f"{self.score['ndof']} exponents)")
        elif self.status == "inconclusive":
            lines.append(f"  candidates: {', '.join(self.candidates) or '-'}")
            if self.family:
                lines.append(f"  family: {self.family}")
        elif self.best:
            lines.append(f"  closest: {self.best} (p = {self.score['p_value']:.2g})")
        lines.append(f"  reason: {self.reason}")
        lines += [f"  group {g}" for g in self.group_lines()]
        other = [k for k in self.estimates if k not in EXPONENTS]
        if other:
            lines.append("  also measured: " + ", ".join(f"{k} = {self.estimates[k]}"
                                                         for k in other))
        lines.append("  measured from: " + "; ".join(self.measurements))
        if self.missing:
            lines.append("  not measured: " + ", ".join(self.missing))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__


def _merge(a: Estimate, b: Estimate) -> Estimate:
    wa, wb = 1 / max(a.error, 1e-300) ** 2, 1 / max(b.error, 1e-300) ** 2
    return Estimate((a.value * wa + b.value * wb) / (wa + wb), math.sqrt(1 / (wa + wb)))


def classify(*datasets, estimates=None, classes=None, dim=None, alpha=ALPHA, n_boot=100,
             seed=0):
    """Run the whole pipeline on one or more datasets and decide the universality class.

    Each dataset is measured by :func:`analyze` (a decay sweep, seed runs, a size sweep,
    ...); the exponents are merged (inverse-variance mean when two inputs measure the same
    one) and decided by the one verdict rule of the package (:func:`decide`, also used by
    the benchmark and the command line): the measurements form independent groups (decay,
    spreading, finite-size scaling, stationary density, relaxation); a class is rejected
    when some group's p-value is below ``alpha``; ``"match"`` needs the best class
    consistent with every group, resolved by at least two of them, and the runner-up
    rejected. One exponent, or one group, is never a match; several consistent classes:
    ``"inconclusive"`` with the candidates and the reason; every class rejected:
    ``"no match"`` with the numbers. The result prints the same per-group report as the
    benchmark.

    Parameters
    ----------
    *datasets : xarray.Dataset
        Inputs in the absorbphys schema (any number, at least one unless ``estimates``);
        each only once (the same object or equal data twice is an error).
    estimates : dict, optional
        Extra measured exponents (name -> Estimate or ``(value, error)``).
    classes : list of str, optional
        Restrict the comparison to these class ids (at least one, each once).
    dim : int, optional
        Spatial dimension, in the catalog's range 0 to 6 (default: the ``dim`` attribute of
        the datasets).
    alpha : float
        Rejection threshold on the p-value, in (0, 1).
    n_boot : int
        Bootstrap resamples for collapses, in [2, 100000].
    seed : int
        Bootstrap seed (>= 0).

    Returns
    -------
    Verdict
    """
    alpha = check_alpha(alpha)
    n_boot, seed = _check_boot(n_boot, seed)
    classes = check_classes(classes)
    dim = check_dim(dim)
    if isinstance(estimates, xr.Dataset):
        estimates = _result_estimates(estimates)
    if estimates is not None and not isinstance(estimates, dict):
        raise TypeError("estimates must be a dict of name -> Estimate/(value, error) or a "
                        f"result Dataset, got {type(estimates).__name__}")
    if not datasets and not estimates:
        raise ValueError("classify needs at least one dataset or some estimates")
    for i, ds in enumerate(datasets):
        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"input {i + 1}: expected an xarray Dataset, got "
                            f"{type(ds).__name__}")
        for j in range(i):
            if ds is datasets[j] or ds.equals(datasets[j]):
                raise ValueError(f"datasets: input {i + 1} is the same data as input {j + 1}; "
                                 "give each dataset once (it would be counted twice)")
    est, meas, notes, dims, kinds = {}, [], [], set(), set()
    for i, ds in enumerate(datasets):
        r = analyze(ds, n_boot=n_boot, seed=seed)
        if r["dim"] >= 0:
            dims.add(r["dim"])
        kinds.add(r["size_kind"])
        names = [k for k in r["estimates"]]
        meas.append(f"input {i + 1} ({r['kind']}): {', '.join(names)}")
        notes += [f"input {i + 1}: {n}" for n in r["notes"]]
        for k, v in r["estimates"].items():
            if k in est:
                notes.append(f"{k} measured twice ({est[k]} and {v}): combined")
                est[k] = _merge(est[k], v)
            else:
                est[k] = v
    for k, v in (estimates or {}).items():
        if not isinstance(k, str):
            raise TypeError(f"estimates: names must be strings, got {k!r}")
        est[k] = as_estimate(v, f"estimates[{k!r}]")
        meas.append(f"given: {k}")
    if dim is None:
        if len(dims) > 1:
            raise ValueError(f"datasets disagree on 'dim' ({sorted(dims)}); pass dim=...")
        dim = dims.pop() if dims else None
        if dim is not None and not dim_range()[0] <= dim <= dim_range()[1]:
            lo, hi = dim_range()
            raise ValueError(f"dim: the datasets have dim={dim}, outside the catalog's "
                             f"dimensions [{lo}, {hi}]; pass dim=... (0 for mean field)")
    if dim is None and ("a" in est or "b" in est):
        # the finite-size exponents are compared per linear size L or per number of sites N
        raise ValueError("dim: no dataset has a 'dim' attribute, needed to compare the "
                         "finite-size exponents a, b (scaling with L or with N); pass dim=... "
                         "(0 for mean field and networks)")
    size_kind = "N" if dim == 0 else "L"
    exps = {k: v for k, v in est.items() if k in EXPONENTS}
    if not exps:
        raise ValueError("no exponent could be measured from the inputs")
    d = decide(exps, dim=dim, size_kind=size_kind, classes=classes, alpha=alpha)
    if d["table"] is None:
        raise ValueError(f"classify: {d['reason']}")
    table = d["table"]
    if len(exps) < 2:
        notes.append(f"only one exponent measured ({', '.join(exps)}): not enough to "
                     "identify a class")
    i0 = list(map(str, table["class"].values)).index(d["best"]) if d["best"] else 0
    p0 = float(table["p_value"].values[i0])
    score = {"chi2": float(table["chi2"].values[i0]), "ndof": int(table["ndof"].values[i0]),
             "p_value": p0 if np.isfinite(p0) else None}
    members = groups_of(exps)
    missing = [k for k in _WANTED if k not in exps]
    return Verdict(status=d["verdict"], best=d["best"], runner_up=d["runner_up"],
                   score=score, candidates=d["candidates"], estimates=est, measurements=meas,
                   missing=missing, notes=notes, table=table, alpha=alpha, reason=d["reason"],
                   family=d["family"], groups=d["groups"], group_members=members)

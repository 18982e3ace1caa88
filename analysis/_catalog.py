"""Universality-class catalog (``catalog.json``) and the comparison of measured exponents."""

from __future__ import annotations

import functools
import json
import math
from importlib import resources

import numpy as np
import xarray as xr

from ._estimate import Estimate, as_estimate, estimates

#: Exponent names understood by :func:`compare` (``a``, ``b``: finite-size scaling).
EXPONENTS = ("beta", "nu_perp", "nu_par", "z", "delta", "delta_prime", "theta", "a", "b")
_BULK = EXPONENTS[:7]


def _prop(f, args):
    """Value and first-order propagated error of ``f`` at independent Estimates ``args``."""
    v = f(*[a.value for a in args])
    var = 0.0
    for i, a in enumerate(args):
        if a.error == 0:
            continue
        h = 1e-6 * max(abs(a.value), 1e-3)
        vals = [x.value for x in args]
        vals[i] += h
        up = f(*vals)
        vals[i] -= 2 * h
        dn = f(*vals)
        var += ((up - dn) / (2 * h) * a.error) ** 2
    return Estimate(v, math.sqrt(var))


_RELATIONS = {
    "z = nu_par / nu_perp": ("z", ("nu_par", "nu_perp"), lambda a, b: a / b),
    "nu_par = z nu_perp": ("nu_par", ("z", "nu_perp"), lambda a, b: a * b),
    "delta = beta / nu_par": ("delta", ("beta", "nu_par"), lambda a, b: a / b),
    "delta_prime = delta": ("delta_prime", ("delta",), lambda a: a),
}


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    text = resources.files("absorbphys.analysis").joinpath("catalog.json").read_text()
    raw = json.loads(text)
    out = {}
    for cid, c in raw["classes"].items():
        ex = {k: dict(v, derived=False, verify=bool(v.get("verify", False)))
              for k, v in c["exponents"].items()}
        d = c["dims"][0]
        for _ in range(3):
            for rel in c.get("relations", []):
                if rel.startswith("theta"):
                    key, deps = "theta", ("z", "delta")

                    def f(zz, dd, d=d):
                        return d / zz - 2 * dd
                else:
                    key, deps, f = _RELATIONS[rel]
                if key in ex or not all(k in ex for k in deps):
                    continue
                e = _prop(f, [Estimate(ex[k]["value"], ex[k]["error"]) for k in deps])
                ex[key] = {"value": e.value, "error": e.error, "derived": True,
                           "verify": any(ex[k]["verify"] for k in deps),
                           "source": f"derived: {rel}"}
        out[cid] = {"name": c["name"], "dims": list(c["dims"]),
                    "upper_critical": bool(c.get("upper_critical", False)), "exponents": ex,
                    "relations": list(c.get("relations", [])),
                    "fss_N": c.get("fss_N")}
    return out


def dim_range() -> tuple:
    """Smallest and largest spatial dimension of the catalog's classes (0: mean field)."""
    dims = [d for c in _load().values() for d in c["dims"]]
    return min(dims), max(dims)


def check_dim(dim, name="dim"):
    """Validate a spatial dimension: ``None`` or an integer in :func:`dim_range`."""
    if dim is None:
        return None
    lo, hi = dim_range()
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        if isinstance(dim, (float, np.floating)) and float(dim).is_integer():
            dim = int(dim)
        else:
            raise TypeError(f"{name} must be an integer in [{lo}, {hi}] (spatial dimension, 0 "
                            f"for mean field/networks), got {dim!r}")
    dim = int(dim)
    if not lo <= dim <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}] (the dimensions the "
                         f"catalog covers, 0 for mean field/networks), got {dim}")
    return dim


#: Default rejection threshold of the verdict rule: a class is inconsistent with a group of
#: measurements whose chi-square p-value is below it (:func:`compare`, :func:`decide`,
#: :func:`classify` and the benchmark all use this one value).
ALPHA = 0.01


def check_alpha(alpha):
    """Validate the rejection threshold ``alpha`` (a p-value in (0, 1))."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"alpha must be a number in (0, 1), got {alpha!r}")
    alpha = float(alpha)
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def check_classes(classes):
    """Validate a list of class ids (``None``: all); return it as a list."""
    if classes is None:
        return None
    cat = _load()
    if isinstance(classes, str):
        classes = [classes]
    try:
        ids = list(classes)
    except TypeError:
        raise TypeError(f"classes must be a list of class ids, got {classes!r}") from None
    if not ids:
        raise ValueError(f"classes: give at least one class id (valid: {', '.join(cat)})")
    for c in ids:
        if not isinstance(c, str):
            raise TypeError(f"classes must be a list of class ids (str), got {c!r}")
        if c not in cat:
            raise ValueError(f"classes: unknown class {c!r}; valid: {', '.join(cat)}")
    dup = sorted({c for c in ids if ids.count(c) > 1})
    if dup:
        raise ValueError(f"classes: {dup[0]!r} given twice")
    return ids


def catalog() -> xr.Dataset:
    """Return the universality-class catalog as a Dataset.

    Returns
    -------
    xarray.Dataset
        Dims ``class`` and ``exponent``: ``value``, ``error`` (NaN where the class has no
        value), ``derived`` and ``verify`` flags (0/1), ``name`` and ``source`` strings.
        Derived exponents come from the scaling relations of each class (``delta =
        beta/nu_par``, ``z = nu_par/nu_perp``, hyperscaling ``theta = d/z - 2 delta`` for DP,
        ``delta' = delta`` by rapidity reversal).
    """
    cat = _load()
    ids = list(cat)
    shape = (len(ids), len(_BULK))
    val, err = np.full(shape, np.nan), np.full(shape, np.nan)
    der, ver = np.zeros(shape, np.int8), np.zeros(shape, np.int8)
    src = np.full(shape, "", dtype=object)
    for i, cid in enumerate(ids):
        for j, k in enumerate(_BULK):
            e = cat[cid]["exponents"].get(k)
            if e:
                val[i, j], err[i, j] = e["value"], e["error"]
                der[i, j], ver[i, j] = e["derived"], e["verify"]
                src[i, j] = e["source"]
    return xr.Dataset(
        {"value": (("class", "exponent"), val), "error": (("class", "exponent"), err),
         "derived": (("class", "exponent"), der), "verify": (("class", "exponent"), ver),
         "source": (("class", "exponent"), src.astype(str)),
         "name": (("class",), np.array([cat[c]["name"] for c in ids]))},
        coords={"class": ids, "exponent": list(_BULK)})


def class_exponents(cls: str) -> dict:
    """Exponents of one class (catalog and derived) as :class:`Estimate` objects.

    Parameters
    ----------
    cls : str
        Class id, e.g. ``"dp_1d"`` (see :func:`catalog`).

    Returns
    -------
    dict of str to Estimate
    """
    cat = _load()
    if not isinstance(cls, str) or cls not in cat:
        raise ValueError(f"cls must be one of {', '.join(cat)}; got {cls!r}")
    return {k: Estimate(v["value"], v["error"]) for k, v in cat[cls]["exponents"].items()}


def fss_exponents(cls: str, size_kind: str = "L", dim: int | None = None) -> dict:
    """Finite-size-scaling exponents ``a``, ``b`` of ``rho(t, S) = S^-a F(t / S^b)``.

    For a lattice class in ``d`` dimensions: ``a = delta z``, ``b = z`` in the linear size
    ``L``, and ``a = delta z / d``, ``b = z / d`` in the number of sites ``N = L^d``. For the
    mean-field class the number of sites is the scaling variable: ``a = b = 1/2`` in ``N``
    (complete graph: ``rho = N^-1/2 f(t / N^1/2)``), ``a = b = d/2`` in ``L`` for ``d >= 4``;
    a class may state its own width scaling (``fss_N`` in ``catalog.json``; two-replica
    networks, ``mean_field_multiplicative``: ``a = b = 1``).

    Parameters
    ----------
    cls : str
        Class id.
    size_kind : {"L", "N"}
        Linear size or number of sites (an MLP's width is an ``N``).
    dim : int, optional
        Spatial dimension of the data (needed for the mean-field class with ``L``).

    Returns
    -------
    dict of str to Estimate
        ``{"a": ..., "b": ...}``, or empty when the class says nothing for this size kind.
    """
    if not isinstance(size_kind, str) or size_kind not in ("L", "N"):
        raise ValueError(f"size_kind must be 'L' (linear size) or 'N' (number of sites), "
                         f"got {size_kind!r}")
    if not isinstance(cls, str) or cls not in _load():
        raise ValueError(f"cls must be one of {', '.join(_load())}; got {cls!r}")
    dim = check_dim(dim)
    c = _load()[cls]
    ex = {k: Estimate(v["value"], v["error"]) for k, v in c["exponents"].items()}
    if size_kind == "N" and c.get("fss_N"):  # a class with its own width scaling (networks)
        return {k: Estimate(c["fss_N"][k]["value"], c["fss_N"][k]["error"]) for k in ("a", "b")}
    if c["upper_critical"]:
        if size_kind == "N":
            return {"a": Estimate(0.5, 0.0), "b": Estimate(0.5, 0.0)}
        if dim is not None and dim >= 4:
            return {"a": Estimate(dim / 2, 0.0), "b": Estimate(dim / 2, 0.0)}
        return {}
    if "delta" not in ex or "z" not in ex:
        return {}
    d = c["dims"][0]
    div = 1.0 if size_kind == "L" else float(d)
    return {"a": _prop(lambda dd, zz: dd * zz / div, [ex["delta"], ex["z"]]),
            "b": _prop(lambda zz: zz / div, [ex["z"]])}


def _normalise(measured) -> dict:
    if isinstance(measured, xr.Dataset):
        measured = estimates(measured)
    if not isinstance(measured, dict):
        raise TypeError("estimates must be a dict of name -> Estimate/(value, error) or a "
                        f"result Dataset, got {type(measured).__name__}")
    out = {}
    for k, v in measured.items():
        if not isinstance(k, str):
            raise TypeError(f"estimates: names must be strings, got {k!r}")
        if k in EXPONENTS:
            e = as_estimate(v, k)
            if e.error <= 0:
                raise ValueError(f"{k}: a measured exponent needs a positive error, got "
                                 f"{e.error}")
            out[k] = e
    return out


def compare(estimates, classes=None, dim=None, size_kind=None, alpha=ALPHA):
    """Rank universality classes by their agreement with measured exponents.

    Each exponent's deviation is ``(measured - catalog) / sqrt(err_meas^2 + err_cat^2)``; the
    score is ``chi2 = sum deviation^2`` over the exponents the class has, its p-value uses
    ``ndof`` = number of compared exponents. A class is *consistent* when ``p >= alpha`` and
    *complete* when the catalog has a value for every measured exponent. Ranking: consistent
    and complete classes first, then consistent but incomplete ones (a class that says
    nothing about a measurement cannot be confirmed by it), then rejected ones; within each
    tier by p-value, then ``chi2/ndof``. A class with no comparable exponent comes last.

    Parameters
    ----------
    estimates : dict or xarray.Dataset
        Measured exponents by name (``beta``, ``nu_perp``, ``nu_par``, ``z``, ``delta``,
        ``delta_prime``, ``theta``; ``a``, ``b`` from a finite-size collapse), each an
        :class:`Estimate`, ``(value, error)`` or ``{"value", "error"}``. Other keys are ignored.
    classes : list of str, optional
        Class ids to compare (default: all, filtered by ``dim``); at least one, each once (a
        single id may be given as a string).
    dim : int, optional
        Spatial dimension of the data, in the catalog's range (:func:`dim_range`, 0 to 6; 0
        for mean field/networks): keeps classes of that dimension plus mean field.
    size_kind : {"L", "N"}, optional
        What the size variable of ``a``, ``b`` counts (required when they are given).
    alpha : float
        Rejection threshold on the p-value, in (0, 1).

    Returns
    -------
    xarray.Dataset
        Dims ``class`` (ranked, best first) and ``exponent``: ``measured``,
        ``measured_error``, ``expected``, ``expected_error``, ``deviation``; per class
        ``chi2``, ``ndof``, ``p_value``, ``consistent`` and ``complete`` (0/1), ``rank``
        (1 = best) and ``name``.
    """
    from scipy.stats import chi2 as _chi2  # deferred: scipy.stats takes seconds to import

    alpha = check_alpha(alpha)
    dim = check_dim(dim)
    classes = check_classes(classes)
    if size_kind is not None and (not isinstance(size_kind, str) or size_kind not in ("L", "N")):
        raise ValueError(f"size_kind must be 'L' (linear size) or 'N' (number of sites), "
                         f"got {size_kind!r}")
    meas = _normalise(estimates)
    if not meas:
        raise ValueError("estimates: no known exponent given (expected some of "
                         f"{', '.join(EXPONENTS)})")
    if ("a" in meas or "b" in meas) and size_kind is None:
        raise ValueError("size_kind: give 'L' (linear size) or 'N' (number of sites) to "
                         "compare finite-size exponents a, b")
    cat = _load()
    if classes is None:
        ids = [c for c in cat if dim is None or dim in cat[c]["dims"]
               or cat[c]["upper_critical"]]
    else:
        ids = classes
    names = [k for k in EXPONENTS if k in meas]
    K, M = len(ids), len(names)
    exp_v, exp_e = np.full((K, M), np.nan), np.full((K, M), np.nan)
    for i, cid in enumerate(ids):
        ex = class_exponents(cid)
        if size_kind is not None:
            ex.update(fss_exponents(cid, size_kind, dim))
        for j, k in enumerate(names):
            if k in ex:
                exp_v[i, j], exp_e[i, j] = ex[k].value, ex[k].error
    mv = np.array([meas[k].value for k in names])
    me = np.array([meas[k].error for k in names])
    dev = (mv - exp_v) / np.sqrt(me ** 2 + exp_e ** 2)
    chi2 = np.nansum(dev ** 2, axis=1)
    ndof = np.sum(np.isfinite(dev), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(ndof > 0, _chi2.sf(chi2, np.maximum(ndof, 1)), np.nan)
        red = np.where(ndof > 0, chi2 / np.maximum(ndof, 1), np.inf)
    consistent = np.nan_to_num(p, nan=-1.0) >= alpha
    complete = ndof == M
    tier = np.where(consistent & complete, 0, np.where(consistent, 1, 2))
    tier = np.where(ndof == 0, 3, tier)
    order = np.lexsort((red, -np.nan_to_num(p, nan=-1.0), tier))
    ds = xr.Dataset(
        {"measured": (("exponent",), mv), "measured_error": (("exponent",), me),
         "expected": (("class", "exponent"), exp_v[order]),
         "expected_error": (("class", "exponent"), exp_e[order]),
         "deviation": (("class", "exponent"), dev[order]),
         "chi2": (("class",), chi2[order]), "ndof": (("class",), ndof[order]),
         "p_value": (("class",), p[order]),
         "consistent": (("class",), consistent[order].astype(np.int8)),
         "complete": (("class",), complete[order].astype(np.int8)),
         "rank": (("class",), np.arange(1, K + 1)),
         "name": (("class",), np.array([cat[ids[i]]["name"] for i in order]))},
        coords={"class": [ids[i] for i in order], "exponent": names},
        attrs={"size_kind": size_kind or "", "dim": -1 if dim is None else int(dim),
               "alpha": float(alpha)})
    return ds

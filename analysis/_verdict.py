"""The one verdict rule: independent groups of measurements against the catalog.

:func:`classify`, the ``absorbphys classify`` command, the accessor ``ds.absorb.classify`` and
the benchmark all decide through :func:`decide`, so that the same measurements always get the
same verdict.
"""

from __future__ import annotations

import math

import numpy as np

from ._catalog import ALPHA, EXPONENTS, compare
from ._estimate import Estimate

#: The independent groups of measurements (catalog exponent names). Exponents measured from
#: the same runs share a group; every other exponent is a group of its own.
GROUPS = {
    "decay": ("delta",),
    "spreading": ("delta_prime", "theta", "z"),
    "fss": ("a", "b"),
    "stationary": ("beta",),
    "relaxation": ("nu_par",),
}

#: A measurement *resolves* a class only if it could have told it apart: its combined error
#: (measured and catalogued) is at most ``RESOLUTION[0] * |value| + RESOLUTION[1]``, so that
#: a 20 % deviation from the class value would be a 2-sigma effect.
RESOLUTION = (0.10, 0.02)

#: Classes that share their bulk exponents and differ only in finite-size scaling: when the
#: data cannot separate the members, the family is still determined.
FAMILIES = {"mean field": ("mean_field", "mean_field_multiplicative")}

#: The signatures of a critical point that a measurement can show: at an absorbing-state
#: critical point the density decays with time (``delta``), seed runs die out
#: (``delta_prime``) and the density falls with the system size (``a``). When none of those
#: measured is positive at :data:`SIGNIFICANCE` standard errors, the data do not show that the
#: measured point is critical (it may sit in an active phase, or its dynamics froze), and no
#: class is tested against them.
CRITICAL_SIGNATURES = ("delta", "delta_prime", "a")

#: Standard errors by which a signature must exceed 0 to show criticality.
SIGNIFICANCE = 2.0


def family_of(classes) -> str:
    """Return the family shared by all ``classes`` ("" if none or if they differ).

    Parameters
    ----------
    classes : iterable of str
        Class ids.

    Returns
    -------
    str
        A key of :data:`FAMILIES`, the single class id when all are the same class, or "".
    """
    classes = [c for c in classes if c]
    if not classes:
        return ""
    for fam, members in FAMILIES.items():
        if all(c in members for c in classes):
            return fam
    return classes[0] if len(set(classes)) == 1 else ""


def groups_of(names) -> dict:
    """Group measured exponent names into independent groups (:data:`GROUPS`).

    Parameters
    ----------
    names : iterable of str
        Measured exponents (catalog names).

    Returns
    -------
    dict
        ``{group: [names]}`` in the order of :data:`GROUPS`, then one group per other name.
    """
    names = [n for n in EXPONENTS if n in set(names)]
    out = {g: [k for k in ks if k in names] for g, ks in GROUPS.items()}
    out = {g: ks for g, ks in out.items() if ks}
    grouped = {k for ks in out.values() for k in ks}
    out.update({k: [k] for k in names if k not in grouped})
    return out


def decide(estimates: dict, dim=None, size_kind=None, classes=None, alpha=ALPHA,
           labels=None) -> dict:
    """Compare every group of measurements with the catalog and combine them into a verdict.

    A class is *consistent* with a group when the group's chi-square p-value is at least
    ``alpha``; a consistent group *resolves* the class when one of its measurements has a
    combined error small enough to tell a 20 % deviation (:data:`RESOLUTION`). The verdict is

    * ``"match"``: the best class is consistent with every group, resolved by at least two
      independent groups, and the runner-up is rejected by some group;
    * ``"inconclusive"``: fewer than two groups measured or resolving the best class, or
      the runner-up is consistent too (the data cannot separate them);
    * ``"no match"``: every class is rejected by some group.

    One matching exponent, or one group, is never enough. Before any class is weighed, the
    data must show a critical point: when none of the measured signatures
    (:data:`CRITICAL_SIGNATURES`: the decay of the density, of the survival of seeds, the
    fall of the density with size) is positive by :data:`SIGNIFICANCE` standard errors, the
    verdict is ``"inconclusive"`` and says so (a density that neither decays nor depends on
    size rejects every class, but says nothing about a class until the point is critical).

    Parameters
    ----------
    estimates : dict of str to Estimate
        Measured exponents by catalog name (other keys are ignored; zero errors are dropped).
    dim : int, optional
        Spatial dimension (0: fully connected), passed to :func:`compare`.
    size_kind : {"L", "N"}, optional
        What the size of the finite-size exponents ``a``, ``b`` counts.
    classes : list of str, optional
        Restrict the comparison to these class ids.
    alpha : float
        Rejection threshold on a group's p-value.
    labels : dict of str to str, optional
        Names to show for exponents in ``reason`` (e.g. ``{"z": "z_spreading"}``).

    Returns
    -------
    dict
        ``verdict``, ``reason`` (one sentence with the numbers), ``best``, ``runner_up``,
        ``family``, ``score`` (chi-square per degree of freedom of the best class over all
        groups), ``p_value`` (of the best class over all groups), ``groups``
        (``{group: {class: p-value}}``), ``ranking`` (list of ``(class, chi2/dof, consistent
        with every group, resolving groups)``), ``candidates`` (classes consistent with
        every group) and ``table`` (the :func:`compare` Dataset in this ranking, with
        ``consistent`` meaning every group and ``groups`` the resolving groups per class).
    """
    from scipy.stats import chi2 as _chi2  # deferred: scipy.stats takes seconds to import

    meas = {k: v for k, v in estimates.items()
            if k in EXPONENTS and isinstance(v, Estimate) and v.error > 0
            and math.isfinite(v.value) and math.isfinite(v.error)}
    empty = {"verdict": "inconclusive", "best": "", "runner_up": "", "family": "",
             "score": float("nan"), "p_value": float("nan"), "groups": {}, "ranking": [],
             "candidates": [], "table": None}
    if not meas:
        return {**empty, "reason": "no exponent could be measured"}
    if "a" not in meas and "b" not in meas:
        size_kind = None
    table = compare(meas, classes=classes, dim=dim, size_kind=size_kind, alpha=alpha)
    present = groups_of(meas)
    signs = [k for k in CRITICAL_SIGNATURES if k in meas]
    flat = bool(signs) and not any(meas[k].value - SIGNIFICANCE * meas[k].error > 0
                                   for k in signs)
    ex_names = [str(e) for e in table["exponent"].values]
    me = table["measured_error"].values
    rows, pgroups = [], {g: {} for g in present}
    for i, cls in enumerate(str(c) for c in table["class"].values):
        dev = dict(zip(ex_names, table["deviation"].values[i]))
        ev, ee = table["expected"].values[i], table["expected_error"].values[i]
        resolved = {k for j, k in enumerate(ex_names) if np.isfinite(ev[j])
                    and math.hypot(me[j], ee[j]) <= RESOLUTION[0] * abs(ev[j]) + RESOLUTION[1]}
        tot, dof, ok_all, n_res = 0.0, 0, True, 0
        for g, ks in present.items():
            ks = [k for k in ks if np.isfinite(dev[k])]
            if not ks:
                continue
            c2 = float(sum(dev[k] ** 2 for k in ks))
            p = float(_chi2.sf(c2, len(ks)))
            pgroups[g][cls] = p
            tot += c2
            dof += len(ks)
            ok_all &= p >= alpha
            if p >= alpha and any(k in resolved for k in ks):
                n_res += 1   # a consistent group that could have told the class apart
        if dof:
            rows.append({"class": cls, "chi2_dof": tot / dof, "consistent": bool(ok_all),
                         "groups": n_res, "p": float(_chi2.sf(tot, dof)), "i": i})
    if not rows:
        return {**empty, "groups": pgroups,
                "reason": "the catalog has no values for the measured exponents"}
    # Consistent classes with the widest coverage first, then by the total p-value.
    rows.sort(key=lambda r: (not r["consistent"], -min(r["groups"], 2), -r["p"],
                             r["chi2_dof"]))
    best = rows[0]
    runner = rows[1] if len(rows) > 1 else None
    labels = labels or {}
    summary = "; ".join(f"{g}: " + ", ".join(f"{labels.get(k, k)} = {meas[k]}" for k in ks)
                        for g, ks in present.items())
    if flat:
        verdict = "inconclusive"
        shown = ", ".join(f"{labels.get(k, k)} = {meas[k]}" for k in signs)
        reason = ("the data do not show a critical point: "
                  + (f"{shown} is not" if len(signs) == 1 else f"none of {shown} is")
                  + f" positive by {SIGNIFICANCE:g} standard errors (no resolved decay"
                  + (" or fall with size" if "a" in signs else "")
                  + "), as at a point in an active phase, where the dynamics froze, or with "
                  f"too few samples; no class is tested; {summary}")
    elif not best["consistent"]:
        bad = [g for g in present if pgroups[g].get(best["class"], 1.0) < alpha]
        verdict = "no match"
        reason = (f"no catalogued class fits every measurement (closest: {best['class']}, "
                  f"chi2/dof = {best['chi2_dof']:.3g}, inconsistent in {', '.join(bad)}); "
                  f"{summary}")
    elif len(present) < 2:
        verdict = "inconclusive"
        reason = (f"only one independent group of measurements ({', '.join(present)}) is "
                  f"consistent with {best['class']}; one matching group is not enough "
                  f"({summary})")
    elif best["groups"] < 2:
        verdict = "inconclusive"
        reason = (f"{best['class']} is consistent, but only {best['groups']} of the measured "
                  "groups resolve it (the others lack catalog values or are too imprecise "
                  f"to tell a 20% deviation); {summary}")
    elif runner is not None and runner["consistent"]:
        verdict = "inconclusive"
        fam = family_of([best["class"], runner["class"]])
        same = (f" (both are {fam} classes: same bulk exponents, different finite-size "
                "scaling)") if fam in FAMILIES else ""
        reason = (f"{best['class']} and {runner['class']} are both consistent with every "
                  f"measurement they predict (chi2/dof {best['chi2_dof']:.3g} vs "
                  f"{runner['chi2_dof']:.3g}); the data cannot separate them{same}; "
                  f"{summary}")
    else:
        verdict = "match"
        reason = (f"{best['class']} is consistent with, and resolved by, {best['groups']} "
                  f"independent groups (chi2/dof = {best['chi2_dof']:.3g}, "
                  f"p = {best['p']:.2g})"
                  + (f"; runner-up {runner['class']} is excluded" if runner else
                     "; no other catalogued class applies to this dimension")
                  + f"; {summary}")
    candidates = [r["class"] for r in rows if r["consistent"]]
    fam = family_of(candidates) if verdict != "no match" else ""
    name_best, name_runner = best["class"], runner["class"] if runner else ""
    if flat:
        name_best, name_runner, fam = "", "", ""
    elif best["consistent"] and best["groups"] == 0:
        # nothing the data resolve: naming a "best" class would only reflect the catalog
        reason = f"closest by chi2/dof: {best['class']}; " + reason
        name_best, name_runner, fam = "", "", ""
    order = [r["i"] for r in rows] + [i for i in range(table.sizes["class"])
                                      if i not in {r["i"] for r in rows}]
    table = table.isel({"class": order})
    by = {r["class"]: r for r in rows}
    cls_ids = [str(c) for c in table["class"].values]
    table["consistent"] = ("class", np.array([int(by[c]["consistent"]) if c in by else 0
                                              for c in cls_ids], dtype=np.int8))
    table["groups"] = ("class", np.array([by[c]["groups"] if c in by else 0
                                          for c in cls_ids], dtype=np.int64))
    table["rank"] = ("class", np.arange(1, len(cls_ids) + 1))
    table.attrs["rule"] = "groups"
    ranking = [(r["class"], float(r["chi2_dof"]), r["consistent"], r["groups"]) for r in rows]
    score, p_value = float(best["chi2_dof"]), float(best["p"])
    if flat:
        # no class is tested: no ranking, candidate or score to show (the table keeps the
        # deviations for whoever wants them)
        ranking, candidates, score, p_value = [], [], float("nan"), float("nan")
    return {"verdict": verdict, "reason": reason, "best": name_best,
            "runner_up": name_runner, "family": fam, "score": score, "p_value": p_value,
            "groups": pgroups, "ranking": ranking, "candidates": candidates, "table": table}


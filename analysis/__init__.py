"""Analysis suite: exponents, critical points, scaling collapses, universality classes.

Reads only the Dataset schema of ``docs/schema.md`` (dims ``batch``, ``t`` and swept
parameters; variables ``rho``, ``rho2``, ``survival``, ``n_active``, ``r2``; attributes
``control``, ``size_param``, ``dim``, ``init``). Layering: NumPy core on axes
(``_core``), functions on xarray dims, and the accessor ``ds.absorb.<method>`` (also
``da.absorb`` on a DataArray), registered on import.

Every estimator returns values *with* errors: an :class:`xarray.Dataset` holding each
quantity ``q`` next to ``q_error`` (0-d for a single run, over the swept dims otherwise);
:func:`estimates` turns the 0-d ones into :class:`Estimate` objects (``value``, ``error``,
JSON-able via ``to_dict``). Errors are jackknife errors over ``batch`` weighted by the
``n_samples`` coordinate, bootstrap over batches for collapses. An exponent whose fit is the
same in every batch (no spread, e.g. a survival of 1 throughout) has no error bar: it is NaN,
explained in the result's ``not_measured`` attribute, and left out by :func:`estimates`,
:func:`analyze` and :func:`classify` (never reported as exact).

Exponents and critical points
-----------------------------
``local_slope(obj, var="rho", b=4)``
    ``d ln y / d ln t`` between ``t/b`` and ``t`` -> ``slope``, ``slope_error`` over ``t``.
``effective_exponent(obj, var="rho", b=4)``
    ``delta_eff(t) = -d ln rho / d ln t`` -> ``delta_eff``, ``delta_eff_error``.
``fit_power_law(obj, var="rho", t_min=None, t_max=None, correction=False, omega=None)``
    ``rho = A t^-delta (1 + a t^-omega)`` -> ``delta``, ``amplitude`` (``a``, ``omega``).
``critical_point(obj, control=None, var="rho", t_min=None, t_max=None, n_fit=2)``
    Zero of the late-time curvature of ``ln rho`` vs ``ln t`` across the sweep ->
    ``{control}_c`` and ``delta`` there (``var="survival"`` on seed runs gives ``delta'``).
``critical_drift(obj, control=None, ratio=8, n_windows=3)``
    ``critical_point`` in disjoint time windows -> how the critical value moves with the
    observation time (``drifts``: a pseudo-critical point, no transition).
``late_curvature(obj, control=None, var="rho", t_min=None, t_max=None)``
    The curvature of ``ln rho`` vs ``ln t`` per control value whose sign change
    ``critical_point`` locates -> ``curvature``, ``positive``.
``stationary_density(obj, var="rho", t_min=None)`` -> ``rho_s``.
``fit_beta(obj, critical, control=None)`` -> ``beta`` from ``rho_s = A Delta^beta``.
``relaxation_time(obj, decay=0.01)`` -> ``tau = int t rho dt / int rho dt``.
``fit_nu_par(obj, critical, control=None)`` -> ``nu_par`` from ``tau ~ |Delta|^-nu_par``.
``spreading(ds, t_min=None, t_max=None)``
    Seed runs: ``delta_prime`` (``P ~ t^-delta'``), ``theta`` (``N ~ t^theta``), ``z``
    (``R^2 ~ t^(2/z)``).
``kappa(obj, delta=1.0)`` -> metric factor ``kappa`` of ``rho ~ (kappa t)^-delta``.
``width_cost(runs, kappa)`` -> width cost ``mu`` of ``rho(t; N) = N^-1 f(t/N)`` per width.

Scaling collapse
----------------
``collapse(data, var="rho", form="size", size_dim=None, ..., n_boot=100)`` (``n_boot`` <= 100000)
    ``rho(t, S) = S^-a F(t / S^b)`` (``form="size"``; ``S`` = ``L``, ``N`` or a network's
    width; also metric factors ``amplitude`` and ``mu``) or ``rho(t, Delta) = t^-delta
    G(Delta t^(1/nu_par))`` (``form="control"``). Houdayer–Hartmann quality, Nelder–Mead
    from several starts, bootstrap errors; ragged input (list of runs or NaN padding).
``scaled_curves(data, result)`` -> the curves on the scaled axes.

Universality classes
--------------------
``catalog()`` -> Dataset of the classes in ``catalog.json`` (values, errors, sources, derived
and verify flags); ``class_exponents(cls)``, ``fss_exponents(cls, size_kind, dim)``.
``compare(estimates, classes=None, dim=None, size_kind=None)``
    Ranked Dataset over ``class``: ``deviation`` per exponent in combined standard errors,
    ``chi2``, ``ndof``, ``p_value``, ``rank``.
``analyze(ds)`` -> what one dataset measures (decay sweep, seed runs, size sweep, ...).
``classify(*datasets, estimates=None, alpha=0.01)`` -> :class:`Verdict` with ``status``
    ``"match"`` / ``"inconclusive"`` / ``"no match"``, ``best``, ``runner_up``, ``reason``,
    ``family``, ``groups``, ``score``, ``candidates``, ``estimates``, ``measurements``,
    ``missing``, ``table``.
``decide(estimates, dim=None, size_kind=None)`` -> the one verdict rule over independent
    groups of measurements (``GROUPS``), used by ``classify``, the CLI and the benchmark.

Plots (return ``(fig, axes)``, never call ``plt.show()``)
---------------------------------------------------------
``plot_decay``, ``plot_collapse``, ``plot_compare``, ``plot_phase_diagram``.
"""

from ._accessor import register as _register_accessors
from ._catalog import EXPONENTS, catalog, class_exponents, compare, fss_exponents
from ._classify import Verdict, analyze, classify
from ._collapse import N_BOOT_MAX, collapse, scaled_curves
from ._critical import QUADRATIC_FROM, critical_drift, critical_point, late_curvature
from ._decay import (
    effective_exponent,
    fit_power_law,
    kappa,
    local_slope,
    spreading,
    width_cost,
)
from ._estimate import Estimate, estimates
from ._off_critical import fit_beta, fit_nu_par, relaxation_time, stationary_density
from ._plot import plot_collapse, plot_compare, plot_decay, plot_phase_diagram
from ._verdict import (
    CRITICAL_SIGNATURES,
    FAMILIES,
    GROUPS,
    RESOLUTION,
    SIGNIFICANCE,
    decide,
    family_of,
)

_register_accessors()

__all__ = [
    "CRITICAL_SIGNATURES",
    "EXPONENTS",
    "FAMILIES",
    "GROUPS",
    "N_BOOT_MAX",
    "QUADRATIC_FROM",
    "RESOLUTION",
    "SIGNIFICANCE",
    "Estimate",
    "Verdict",
    "analyze",
    "catalog",
    "class_exponents",
    "classify",
    "collapse",
    "compare",
    "critical_drift",
    "critical_point",
    "decide",
    "effective_exponent",
    "estimates",
    "family_of",
    "fit_beta",
    "fit_nu_par",
    "fit_power_law",
    "fss_exponents",
    "kappa",
    "late_curvature",
    "local_slope",
    "plot_collapse",
    "plot_compare",
    "plot_decay",
    "plot_phase_diagram",
    "relaxation_time",
    "scaled_curves",
    "spreading",
    "stationary_density",
    "width_cost",
]

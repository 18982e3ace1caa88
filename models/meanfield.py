r"""Infinite-width (mean-field) signal propagation in random networks.

For a fully connected network with weights :math:`W_{ij}\sim N(0,\sigma_w^2/N)` and biases
:math:`b_i\sim N(0,\sigma_b^2)` the pre-activation variance and the correlation of two inputs
obey, as :math:`N\to\infty` (Poole et al. 2016; Schoenholz et al. 2017),

.. math::

    q_{l+1} = \sigma_w^2\,E[\phi(\sqrt{q_l}\,z)^2] + \sigma_b^2, \qquad
    c_{l+1} = \frac{\sigma_w^2\,E[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q_{l+1}},

with :math:`u_1=\sqrt{q}\,z_1`, :math:`u_2=\sqrt{q}(c z_1+\sqrt{1-c^2}z_2)`. The order
parameter is :math:`\rho = 1-c`; it is propagated in the *difference form*

.. math::

    \rho_{l+1} = \frac{\sigma_w^2\,E[(\phi(u_1+\Delta)-\phi(u_1))^2]}{2 q_{l+1}}, \qquad
    \Delta = \sqrt{q_l}\,(-\rho_l z_1 + \sqrt{\rho_l(2-\rho_l)}\,z_2),

which keeps full relative accuracy down to :math:`\rho\sim10^{-300}`. The ordered
(:math:`\chi_1<1`) and chaotic (:math:`\chi_1>1`) phases are separated by
:math:`\chi_1 = \sigma_w^2 E[\phi'(\sqrt{q^*}z)^2] = 1`; at the critical line
:math:`\rho_l \simeq 1/(\kappa l)` with :math:`\kappa = \tfrac12\sigma_w^2 q^*
E[\phi''(\sqrt{q^*}z)^2]`.

Expectations use composite Gauss–Legendre quadrature of the normal density on
:math:`|z| \le 9`, with segments no longer than :math:`\min(1, 0.8/\sqrt q)` (so the complex
poles of ``tanh`` are resolved at any variance; plain Gauss–Hermite with 201 nodes is still
off by 1e-6 at :math:`\sigma_b = 1`) and split at the kinks of ``relu``/``hard_tanh`` (or
user ``breakpoints``); roots use Brent's method.

Residual networks :math:`h_{l+1} = h_l + \alpha(W\phi(h_l) + b)` (:mod:`absorbphys.models.resmlp`)
have their own maps, :func:`resmlp_q_map`, :func:`resmlp_rho_map`,
:func:`resmlp_correlation_map` and :func:`resmlp_trajectory`: the variance has no fixed point
there and grows without bound, so their quadrature resolves only the window
:math:`|\sqrt q z| \le 20` on the scale 1 (68 segments at any ``q``; closed forms for
``linear``, ``relu`` and ``sin``).

One file, past the ~600-line guide: one subject, the infinite-width theory of the network
processes; the MLP's and the residual MLP's maps share the quadrature (Gauss-Legendre segments
and windows) and the variance bounds defined at the top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
import xarray as xr
from scipy import optimize

import absorbphys
from absorbphys._params import Param
from absorbphys._process import AbsorbingProcess
from absorbphys.models.activations import (
    ACTIVATIONS,
    ERF,
    HARD_TANH,
    LINEAR,
    RELU,
    SIN,
    TANH,
    get_activation,
)

__all__ = ["MeanFieldNetwork", "chi1", "correlation_map", "critical_line",
           "critical_sigma_w", "depth_scale", "kappa", "q_star", "resmlp_correlation_map",
           "resmlp_q_map", "resmlp_rho_map", "resmlp_trajectory", "rho_map", "variance_map"]

_N_GL = 8        # Gauss-Legendre nodes per segment
_SEG = 1.0       # segment length in z (at most)
_SEG_Q = 0.8     # ... and at most _SEG_Q / sqrt(q): resolves the complex poles of tanh
_MAX_SEG = 400
_ZMAX = 9.0
_QMAX = 1e100    # expectations are taken at min(q, _QMAX)

#: Largest weight or bias standard deviation any network function accepts. Physical values
#: are O(1-10) (the critical lines of the built-in activations lie below sigma_w = 10 for
#: sigma_b <= 5); up to 1e12 the arithmetic stays far from float64 overflow for every
#: activation: ``sigma_w**2 q + sigma_b**2`` and the fixed point ``q* <= sigma_w**2 +
#: sigma_b**2 <= 2e24`` of the bounded activations, ``sigma_b**2 / (1 - chi)`` (<= 1e40) of
#: relu/linear below their critical slope, and the Gram sums ``(N q)**2`` of a width-N
#: network (below 1e250 for any N < 1e75), whereas ``sigma_w >= 1e154`` overflowed
#: ``sigma_w**2`` itself and ``sigma_w >= 1e15`` made ``q* > 1e30`` read as infinite.
SIGMA_MAX = 1e12
#: Largest input variance ``q0``: ``SIGMA_MAX**2``, the variance scale the bound allows.
Q0_MAX = 1e24
#: Largest finite fixed point the search of ``q*`` looks for (beyond: ``inf``); above every
#: finite ``q*`` the sigma bounds allow (``sigma_b**2 / 2**-53 < 1e41``).
_QSTAR_MAX = 1e60
#: Variance above which a finite-width network is refused (see :func:`overflow_layer`): the
#: Gram sums of ``N`` units reach ``(N q)**2``, which must stay below float64's 1.8e308.
Q_OVERFLOW = 1e100

#: Shared parameter specifications of the network models and the mean-field functions.
SIGMA_W = Param("float", 0.0, SIGMA_MAX, doc="weight standard deviation (control parameter)")
SIGMA_B = Param("float", 0.0, SIGMA_MAX, doc="bias standard deviation")
Q0 = Param("float", 0.0, Q0_MAX, default=0.0, doc="input variance (0: the fixed point q*)")
_Q = Param("float", 0.0, _QMAX)


@lru_cache(maxsize=None)
def _gl(n):
    return np.polynomial.legendre.leggauss(n)


def _segments(edges, n):
    """Composite Gauss-Legendre nodes/weights (with the normal density) on sorted edges.

    ``edges`` has shape (..., m+1); returns nodes and weights of shape (..., m*n).
    """
    x, w = _gl(n)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    half = 0.5 * (hi - lo)
    nodes = 0.5 * (hi + lo) + half * x
    weights = half * w * np.exp(-0.5 * nodes * nodes) / math.sqrt(2.0 * math.pi)
    shape = edges.shape[:-1] + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


def _regular_edges(q):
    """Segment edges on [-ZMAX, ZMAX], finer where sqrt(q) z varies fast (poles of tanh)."""
    h = min(_SEG, _SEG_Q / math.sqrt(max(q, 1e-300)))
    m = min(_MAX_SEG, int(math.ceil(2.0 * _ZMAX / h)))
    return np.linspace(-_ZMAX, _ZMAX, m + 1)


def _nodes1(act, q):
    """Nodes z and weights for E[f(sqrt(q) z)], z ~ N(0, 1) (composite Gauss-Legendre)."""
    sq = math.sqrt(q)
    bps = [b / sq for b in act.breakpoints if abs(b / sq) < _ZMAX]
    edges = np.unique(np.concatenate([_regular_edges(q), bps]))
    return _segments(edges, _N_GL)


def _expect1(act, q, f):
    q = min(float(q), _QMAX)
    z, w = _nodes1(act, q)
    return float(np.dot(w, f(math.sqrt(q) * z)))


def _check_sw_sb(sigma_w, sigma_b):
    return SIGMA_W.check("sigma_w", sigma_w), SIGMA_B.check("sigma_b", sigma_b)


def variance_map(q, sigma_w, sigma_b, activation="tanh"):
    r"""Return the next-layer variance :math:`\sigma_w^2 E[\phi(\sqrt q z)^2] + \sigma_b^2`.

    Parameters
    ----------
    q : float
        Current pre-activation variance, in [0, 1e100].
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation (see :func:`absorbphys.models.activations.get_activation`).

    Returns
    -------
    float
    """
    q = _Q.check("q", q)
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    return _variance_map(q, sigma_w, sigma_b, get_activation(activation))


def _variance_map(q, sigma_w, sigma_b, act):
    return sigma_w ** 2 * _expect1(act, q, lambda x: act.np_phi(x) ** 2) + sigma_b ** 2


def q_star(sigma_w, sigma_b, activation="tanh"):
    """Return the stable fixed point :math:`q^*` of the variance map.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation.

    Returns
    -------
    float
        ``q*``; ``0`` when the only fixed point is ``q = 0`` (``sigma_b = 0`` in the ordered
        phase), ``inf`` when the variance grows without bound (e.g. ``relu`` with
        ``sigma_w**2 >= 2``).
    """
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    return _q_star(sigma_w, sigma_b, get_activation(activation))


def _q_star(sigma_w, sigma_b, act):
    def g(q):
        return _variance_map(q, sigma_w, sigma_b, act) - q

    lo = sigma_b ** 2 if sigma_b > 0 else 1e-300
    if sigma_w == 0:
        return sigma_b ** 2
    glo = g(lo)
    if glo <= 0:
        if sigma_b == 0:
            # q = 0 is a fixed point; look for a nonzero stable one above
            lo = 1e-12
            glo = g(lo)
            if glo <= 0:
                return 0.0
        else:
            return lo
    hi = max(2.0 * lo, 1.0)
    while g(hi) > -1e-13 * hi:
        hi *= 4.0
        if hi > _QSTAR_MAX:
            return math.inf
    return optimize.brentq(g, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=200)


def chi1(sigma_w, sigma_b, activation="tanh"):
    r"""Return :math:`\chi_1 = \sigma_w^2 E[\phi'(\sqrt{q^*} z)^2]`.

    The slope of the correlation map at ``c = 1``: ``chi1 < 1`` ordered (signals collapse),
    ``chi1 > 1`` chaotic, ``chi1 = 1`` the critical line.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation.

    Returns
    -------
    float
    """
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    act = get_activation(activation)
    return _chi1(sigma_w, sigma_b, act)


def _chi1(sigma_w, sigma_b, act, q=None):
    q = _q_star(sigma_w, sigma_b, act) if q is None else q
    if q == 0.0:
        return sigma_w ** 2 * float(act.np_dphi(np.array(0.0))) ** 2
    return sigma_w ** 2 * _expect1(act, q, lambda x: act.np_dphi(x) ** 2)


def critical_sigma_w(sigma_b, activation="tanh"):
    r"""Return the critical weight scale :math:`\sigma_{w,c}(\sigma_b)` where ``chi1 = 1``.

    Parameters
    ----------
    sigma_b : float
        Bias standard deviation, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``chi1`` stays below 1 up to ``sigma_w = 1e4`` (no transition).
    """
    sigma_b = SIGMA_B.check("sigma_b", sigma_b)
    act = get_activation(activation)
    return _critical(sigma_b, act)


def _critical(sigma_b, act):
    def f(sw):
        return _chi1(sw, sigma_b, act) - 1.0

    lo, hi = 1e-3, 1.0
    while f(hi) < 0:
        lo, hi = hi, hi * 2.0
        if hi > 1e4:
            raise ValueError(f"no critical point for activation {act.name!r} at "
                             f"sigma_b={sigma_b:g}: chi1 < 1 up to sigma_w = 1e4")
    return optimize.brentq(f, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)


def critical_line(sigma_b_values, activation="tanh"):
    r"""Return the critical line :math:`\sigma_{w,c}(\sigma_b)` of the infinite-width network.

    The result is a DataArray over ``sigma_b``, so it plots and feeds
    :func:`absorbphys.analysis.plot_phase_diagram` as it is.

    Parameters
    ----------
    sigma_b_values : float or array_like
        Bias standard deviations (one value or a 1-d list), each in [0, 1e12]
        (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation.

    Returns
    -------
    xarray.DataArray
        ``sigma_w_c`` over the dimension ``sigma_b`` (coordinate: the given values), with
        ``long_name``, ``units`` and the activation's name in its attributes.

    Examples
    --------
    >>> from absorbphys.models import meanfield
    >>> line = meanfield.critical_line([0.0, 0.3, 1.0])
    >>> [round(float(v), 4) for v in line]
    [1.0, 1.3956, 1.8556]
    """
    sb = np.atleast_1d(np.asarray(sigma_b_values, dtype=np.float64))
    if sb.ndim != 1:
        raise ValueError(f"sigma_b_values: one value or a 1-d list of values, got an array "
                         f"of shape {sb.shape}")
    act = get_activation(activation)
    out = np.array([_critical(SIGMA_B.check("sigma_b", float(s)), act) for s in sb])
    return xr.DataArray(
        out, dims="sigma_b", name="sigma_w_c",
        coords={"sigma_b": ("sigma_b", sb, {"long_name": "bias standard deviation",
                                            "units": "1"})},
        attrs={"long_name": "critical weight standard deviation (infinite width)",
               "units": "1", "activation": act.name})


# ------------------------------------------------------------------ two-replica expectations
def _nodes2(act, q, rho):
    """Nodes (z1, z2) and weights for the pair (u1, Delta) at variance q and 1 - c = rho."""
    s = math.sqrt(rho * (2.0 - rho)) if rho < 2.0 else 0.0
    sq = math.sqrt(q)
    c = 1.0 - rho
    reg = _regular_edges(q)
    # outer: kinks of u1, refined around them on the scale s of the replica difference
    e1 = list(reg)
    for b in act.breakpoints:
        for k in (0.0, -0.5, 0.5, -2.0, 2.0, -8.0, 8.0):
            v = b / sq + k * s
            if abs(v) < _ZMAX:
                e1.append(v)
    z1, w1 = _segments(np.unique(np.array(e1)), _N_GL)
    # inner: kinks of u2 = sqrt(q) (c z1 + s z2) at z2 = (b/sqrt(q) - c z1) / s
    if s > 0 and act.breakpoints:
        bz = [np.clip((b / sq - c * z1) / s, -_ZMAX, _ZMAX) for b in act.breakpoints]
        edges = np.sort(np.concatenate([np.broadcast_to(reg, z1.shape + reg.shape),
                                        np.stack(bz, axis=-1)], axis=-1), axis=-1)
    else:
        edges = reg
    z2, w2 = _segments(edges, _N_GL)
    if z2.ndim == 1:
        return z1[:, None], z2[None, :], w1[:, None] * w2[None, :]
    return z1[:, None], z2, w1[:, None] * w2


def _rho_map(act, sigma_w, sigma_b, q, rho, q_next):
    """One layer of the correlation map in difference form; q is this layer's variance."""
    if rho == 0.0:
        return 0.0
    q = min(q, _QMAX)
    if q == 0.0:
        return 0.0
    z1, z2, w = _nodes2(act, q, rho)
    sq = math.sqrt(q)
    s = math.sqrt(rho * (2.0 - rho)) if rho < 2.0 else 0.0
    u1 = sq * z1
    delta = sq * (-rho * z1 + s * z2)
    dphi = act.np_diff(np.broadcast_to(u1, delta.shape), delta)
    e = float(np.sum(w * dphi * dphi))
    return sigma_w ** 2 * e / (2.0 * q_next)


def rho_map(rho, sigma_w, sigma_b, activation="tanh", q=None):
    r"""Return :math:`\rho_{l+1}` from :math:`\rho_l = 1 - c_l` (accurate difference form).

    Parameters
    ----------
    rho : float or array_like
        ``1 - c`` at the current layer, in [0, 2].
    sigma_w, sigma_b : float
        Weight and bias standard deviations.
    activation : str or callable
        Activation.
    q : float, optional
        Current variance (default: the fixed point ``q*``).

    Returns
    -------
    float or numpy.ndarray
    """
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    act = get_activation(activation)
    q = _q_star(sigma_w, sigma_b, act) if q is None else _Q.check("q", q)
    qn = _variance_map(q, sigma_w, sigma_b, act)
    r = np.asarray(rho, dtype=np.float64)
    if np.any((r < 0) | (r > 2)):
        raise ValueError("rho must be in [0, 2]")
    out = np.array([_rho_map(act, sigma_w, sigma_b, q, float(x), qn) for x in r.ravel()])
    return out.reshape(r.shape) if r.ndim else float(out[0])


def correlation_map(c, sigma_w, sigma_b, activation="tanh"):
    """Return the next-layer correlation :math:`c_{l+1}` at the fixed point variance ``q*``.

    Parameters
    ----------
    c : float or array_like
        Correlation coefficient in [-1, 1].
    sigma_w, sigma_b : float
        Weight and bias standard deviations.
    activation : str or callable
        Activation.

    Returns
    -------
    float or numpy.ndarray
        ``c_{l+1}``. Near ``c = 1`` use :func:`rho_map`, which keeps ``1 - c`` accurate.
    """
    c = np.asarray(c, dtype=np.float64)
    if np.any((c < -1) | (c > 1)):
        raise ValueError("c must be in [-1, 1]")
    return 1.0 - rho_map(1.0 - c, sigma_w, sigma_b, activation)


def depth_scale(sigma_w, sigma_b, activation="tanh"):
    r"""Return the correlation depth scale :math:`\xi_c = -1/\ln\chi_c` (Schoenholz et al.).

    :math:`\chi_c = \sigma_w^2 E[\phi'(u_1)\phi'(u_2)]` at the stable fixed point
    :math:`c^*` of the correlation map (:math:`c^* = 1`, :math:`\chi_c = \chi_1` in the
    ordered phase). Correlations approach :math:`c^*` as :math:`e^{-l/\xi_c}`; ``xi``
    diverges on the critical line.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Weight and bias standard deviations.
    activation : str or callable
        Activation.

    Returns
    -------
    float
        ``xi`` (``inf`` at criticality).
    """
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    act = get_activation(activation)
    q = _q_star(sigma_w, sigma_b, act)
    x1 = _chi1(sigma_w, sigma_b, act, q)
    if x1 <= 1.0:
        return math.inf if x1 == 1.0 else -1.0 / math.log(x1)
    if q == 0.0:
        return math.inf
    rs = _rho_star(act, sigma_w, sigma_b, q)
    z1, z2, w = _nodes2(act, q, rs)
    sq = math.sqrt(q)
    s = math.sqrt(rs * (2.0 - rs))
    u1 = sq * z1
    u2 = u1 + sq * (-rs * z1 + s * z2)
    chic = sigma_w ** 2 * float(np.sum(w * act.np_dphi(np.broadcast_to(u1, u2.shape))
                                       * act.np_dphi(u2)))
    return math.inf if chic >= 1.0 else -1.0 / math.log(chic)


def _rho_star(act, sigma_w, sigma_b, q):
    def f(r):
        return _rho_map(act, sigma_w, sigma_b, q, r, q) - r

    lo = 1e-10
    while f(lo) <= 0 and lo < 1e-2:
        lo *= 10.0
    return optimize.brentq(f, lo, 2.0, xtol=1e-14, maxiter=200)


def kappa(sigma_b, activation="tanh"):
    r"""Return the critical amplitude :math:`\kappa` in :math:`\rho(l) \simeq 1/(\kappa l)`.

    :math:`\kappa = \tfrac12\sigma_{w,c}^2 q^* E[\phi''(\sqrt{q^*}z)^2]` at the critical
    point :math:`\sigma_{w,c}(\sigma_b)` (a non-universal metric factor).

    Parameters
    ----------
    sigma_b : float
        Bias standard deviation, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        A twice-differentiable activation.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For activations with kinks (``relu``, ``hard_tanh``): their second derivative is a
        delta function, the map has :math:`\rho^{3/2}` corrections and no finite ``kappa``.
    """
    sigma_b = SIGMA_B.check("sigma_b", sigma_b)
    act = get_activation(activation)
    if not act.smooth:
        raise ValueError(f"kappa needs a twice-differentiable activation, got {act.name!r} "
                         "(it has kinks)")
    swc = _critical(sigma_b, act)
    q = _q_star(swc, sigma_b, act)
    return 0.5 * swc ** 2 * q * _expect1(act, q, lambda x: act.np_d2phi(x) ** 2)


def mean_field_trajectory(sigma_w, sigma_b, activation, t_max, rho0, q0=None):
    """Return ``(rho, q)`` arrays of length ``t_max + 1`` of the infinite-width network.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Weight and bias standard deviations.
    activation : str or callable
        Activation.
    t_max : int
        Last layer.
    rho0 : float
        ``1 - c0`` at layer 0, in [0, 2].
    q0 : float, optional
        Variance at layer 0 (default ``q*``; 1 where ``q*`` is 0 or infinite).

    Returns
    -------
    rho, q : numpy.ndarray
    """
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    t_max = Param("int", 0).check("t_max", t_max)
    rho0 = Param("float", 0.0, 2.0).check("rho0", rho0)
    q0 = None if q0 is None else Q0.check("q0", q0)
    return _trajectory(get_activation(activation), sigma_w, sigma_b,
                       np.arange(t_max + 1, dtype=np.int64), rho0, q0)


def _trajectory(act, sigma_w, sigma_b, times, rho0, q0):
    """``(rho, q)`` at the sorted layers ``times`` only: memory O(len(times)), not O(t_max).

    Once a layer maps to itself (same ``q`` and ``rho``: absorbed, or a fixed point reached
    to the last bit) every later layer is the same, and the iteration stops there.
    """
    q = _q_star(sigma_w, sigma_b, act) if q0 is None else float(q0)
    fixed = q0 is None
    if fixed and not (0.0 < q < math.inf):
        # no finite nonzero fixed point (e.g. relu with sigma_w**2 >= 2, or sigma_b = 0 in
        # the ordered phase): start from q = 1 and follow the variance map, as MLP does
        q, fixed = 1.0, False
    times = np.asarray(times, dtype=np.int64)
    rho = np.empty(times.size)
    qs = np.empty(times.size)
    r = float(rho0)
    t, i = 0, 0
    while i < times.size:
        while i < times.size and times[i] == t:
            rho[i], qs[i] = r, q
            i += 1
        if i == times.size:
            break
        qn = q if fixed else _variance_map(q, sigma_w, sigma_b, act)
        rn = _rho_map(act, sigma_w, sigma_b, q, r, qn)
        if rn == r and qn == q:  # stationary from here on
            rho[i:], qs[i:] = r, q
            break
        r, q = rn, qn
        t += 1
    return rho, qs


@absorbphys.register
@dataclass(frozen=True)
class MeanFieldNetwork(AbsorbingProcess):
    r"""Infinite-width random network as a deterministic process: rho(l) = 1 - c(l).

    The N -> infinity limit of :class:`~absorbphys.models.mlp.MLP` (and of a CNN with many
    channels): the correlation map in difference form (see the module docstring). Every
    sample gives the same trajectory. There is no size parameter: ``size_param`` is ``""``
    and the ``size`` attribute is ``0`` (meaning N = infinity).

    Parameters
    ----------
    sigma_w : float
        Weight standard deviation, in [0, 1e12] (:data:`SIGMA_MAX`); the control parameter.
    sigma_b : float
        Bias standard deviation, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation (``"tanh"``, ``"erf"``, ``"relu"``, ``"hard_tanh"``, ``"sin"``,
        ``"linear"`` or a function).
    q0 : float
        Pre-activation variance of the inputs at layer 0; ``0`` (default) means the fixed
        point ``q*``, so that ``q`` stays at ``q*`` (where ``q*`` is 0 or infinite, ``q0 = 1``
        and ``q`` follows the variance map, as in :class:`~absorbphys.models.mlp.MLP`).
    seed_rho : float
        ``1 - c0`` of the ``"seed"`` initial condition (default 1e-6).
    eps : float
        Absorption threshold: ``survival`` is 1 while ``rho > eps`` (default 1e-12).

    Notes
    -----
    Initial conditions: ``"full"`` (``c0 = 0``), ``"seed"`` (``c0 = 1 - seed_rho``) or a
    float ``c0`` in [-1, 1]. Cost: one 2-D quadrature per layer (about 160 x 160 nodes for
    tanh at ``q* < 1``; 4000 layers take about 0.7 s).
    """

    sigma_w: float
    sigma_b: float
    activation: object = "tanh"
    q0: float = 0.0
    seed_rho: float = 1e-6
    eps: float = 1e-12

    name: ClassVar[str] = "mf_network"
    params: ClassVar[dict] = {
        "sigma_w": SIGMA_W,
        "sigma_b": SIGMA_B,
        "activation": Param("callable", choices=ACTIVATIONS, default="tanh",
                            doc="activation function"),
        "q0": Q0,
        "seed_rho": Param("float", 0.0, 2.0, low_open=True, default=1e-6,
                          doc="1 - c0 of the 'seed' initial condition"),
        "eps": Param("float", 0.0, default=1e-12, doc="absorption threshold on rho"),
    }
    control: ClassVar[str] = "sigma_w"
    size_param: ClassVar[str] = ""
    time_unit: ClassVar[str] = "layer"
    seed_observables: ClassVar[tuple] = ()

    @property
    def size(self) -> int:
        """Return 0: infinite width."""
        return 0

    def _check(self):
        get_activation(self.activation)
        if self.sigma_w == 0.0 and self.sigma_b == 0.0:
            raise ValueError("sigma_w and sigma_b must not both be 0 (the variance map has no "
                             "fixed point q* > 0)")

    def _check_init(self, init):
        return check_c0_init(init)

    def is_absorbed(self, rho):
        """Return whether ``rho <= eps`` (the threshold of the absorbing state)."""
        return np.asarray(rho) <= self.eps

    def _run(self, backend, times, sample_edges, init, seed):
        rho0 = init_rho(init, self.seed_rho)
        q0 = None if self.q0 == 0 else self.q0
        r, _ = _trajectory(get_activation(self.activation), self.sigma_w, self.sigma_b,
                           times, rho0, q0)
        n = np.diff(sample_edges).astype(np.float64)[:, None]
        return {"rho": n * r, "rho2": n * r * r,
                "survival": n * (r > self.eps).astype(np.float64)}


def overflow_layer(sigma_w, sigma_b, activation, q0, t_max):
    r"""Return the first layer ``<= t_max`` whose variance leaves float64's safe range, or None.

    Follows the infinite-width variance map :math:`q_{l+1} = \sigma_w^2 E[\phi(\sqrt{q_l}
    z)^2] + \sigma_b^2` from ``q0`` and returns the first layer where ``q`` exceeds
    :data:`Q_OVERFLOW` (1e100): a finite-width network (whose variance follows this map up
    to fluctuations) would overflow there and report ``rho = 2``. Bounded activations
    (``tanh``, ``erf``, ``hard_tanh``, ``sin``) keep ``q <= sigma_w**2 + sigma_b**2``;
    ``linear`` and ``relu`` grow by :math:`g = \sigma_w^2` (``relu``: :math:`\sigma_w^2/2`)
    per layer and are solved in closed form; user functions are followed for up to 64
    layers and extrapolated geometrically from the last ratio.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Validated weight and bias standard deviations.
    activation : str, Activation or callable
        Activation.
    q0 : float
        Variance at layer 0.
    t_max : int
        Last layer.

    Returns
    -------
    int or None
    """
    act = get_activation(activation)
    q0 = float(q0)
    if act.code in (TANH, ERF, HARD_TANH, SIN) or t_max < 1:
        return None
    if act.code in (LINEAR, RELU):
        g = sigma_w ** 2 if act.code == LINEAR else 0.5 * sigma_w ** 2
        if g <= 1.0:  # bounded, or q0 + l sigma_b**2 (< 1e43 for any int64 l): no overflow
            return None
        # q_l = g**l (q0 + c) - c with c = sigma_b**2 / (g - 1)
        c = sigma_b ** 2 / (g - 1.0)
        base = q0 + c
        if base <= 0.0:
            return None
        layer = max(1, math.ceil(math.log((Q_OVERFLOW + c) / base) / math.log(g)))
        return layer if layer <= t_max else None
    q, prev = q0, q0
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(1, min(int(t_max), 64) + 1):
            prev, q = q, _variance_map(q, sigma_w, sigma_b, act)
            if not q <= Q_OVERFLOW:  # also NaN/inf from a function that overflows itself
                return layer
            if abs(q - prev) <= 1e-12 * q:
                return None
    if t_max <= 64 or not (q > prev > 0.0):
        return None
    layer = 64 + math.ceil(math.log(Q_OVERFLOW / q) / math.log(q / prev))
    return layer if layer <= t_max else None


def check_overflow(sigma_w, sigma_b, activation, q0, t_max):
    """Raise a one-line ``ValueError`` if a network's variance overflows by layer ``t_max``.

    See :func:`overflow_layer`; the message names ``t_max`` and the largest depth allowed.
    """
    act = get_activation(activation)
    layer = overflow_layer(sigma_w, sigma_b, act, q0, t_max)
    if layer is None:
        return
    how = {LINEAR: "sigma_w <= 1", RELU: "sigma_w <= sqrt(2)"}.get(act.code, "a smaller sigma_w")
    raise ValueError(f"t_max: with activation {act.name!r} and sigma_w={sigma_w:g} the "
                     f"variance of the pre-activations grows without bound and exceeds "
                     f"{Q_OVERFLOW:g} (float64 overflow of the sums) at layer {layer}; use "
                     f"t_max <= {layer - 1} or {how}")


def check_c0_init(init):
    """Validate a network initial condition: ``"full"``, ``"seed"`` or a float c0 in [-1, 1].

    Parameters
    ----------
    init : str or float
        The initial condition.

    Returns
    -------
    str or float
    """
    if isinstance(init, str):
        if init in ("full", "seed"):
            return init
        try:
            init = float(init.removeprefix("c0="))
        except ValueError:
            raise ValueError(f"init must be 'full', 'seed' or a correlation c0 in [-1, 1], "
                             f"got {init!r}") from None
    if isinstance(init, bool) or not isinstance(init, (int, float, np.integer, np.floating)):
        raise TypeError(f"init must be 'full', 'seed' or a correlation c0 in [-1, 1], "
                        f"got {init!r}")
    c0 = float(init)
    if not -1.0 <= c0 <= 1.0:
        raise ValueError(f"init c0 must be in [-1, 1], got {c0:g}")
    return c0


def input_variance(q0, sigma_w, sigma_b, activation):
    """Return the layer-0 variance of a network: ``q0``, or ``q*`` when ``q0 == 0``.

    Parameters
    ----------
    q0 : float
        Requested input variance (``<= 0``: use the fixed point ``q*``).
    sigma_w, sigma_b : float
        Weight and bias standard deviations.
    activation : str or callable
        Activation.

    Returns
    -------
    float
        ``q0`` if positive, else ``q*``; ``1`` where ``q*`` is ``0`` or infinite.
    """
    if q0 > 0:
        return float(q0)
    q = _q_star(sigma_w, sigma_b, get_activation(activation))
    return float(q) if np.isfinite(q) and q > 0 else 1.0


def init_rho(init, seed_rho):
    """Return ``1 - c0`` for a validated initial condition (``seed``: ``seed_rho``)."""
    if init == "full":
        return 1.0
    if init == "seed":
        return float(seed_rho)
    return 1.0 - float(init)


# ============================================================================ residual MLP
# h_{l+1} = h_l + alpha (W phi(h_l) + b), fresh W ~ N(0, sigma_w^2/N), b ~ N(0, sigma_b^2):
# the branch is uncorrelated with h_l (W is independent of it), so the variance and the
# replica covariance add up layer by layer (see the docstrings below and models/resmlp.py).

#: Largest residual branch scale ``alpha``: with ``sigma_w, sigma_b <= 1e12`` the branch
#: variance ``alpha**2 sigma**2 <= 1e30`` keeps every product of the exact transition (the
#: conditional variance ``~ (alpha sigma)**4 (N q)**2 / N**2``) below 1e270 while ``q``
#: stays below :data:`Q_OVERFLOW`.
ALPHA_MAX = 1e3
#: Specification of the residual branch scale (shared by the residual model and its maps).
ALPHA = Param("float", 0.0, ALPHA_MAX, default=1.0, doc="residual branch scale alpha")
#: Input variance of the residual MLP: it has no fixed point ``q*`` to default to.
RES_Q0 = Param("float", 0.0, Q0_MAX, low_open=True, default=1.0,
               doc="input variance q0 (> 0; there is no fixed point q*)")
#: Half-width in ``u = sqrt(q) z`` of the finely resolved window of the residual maps'
#: quadrature: beyond ``|u| = 20`` saturating activations are constant to double precision
#: (``1 - tanh 20 = 8e-18``) and the others smooth on the scale ``sqrt(q)``.
_U_WIN = 20.0
#: Offsets (in units of the replica scale ``s``) of the outer edges placed around the
#: window's ends and the kinks: the inner integral varies there on the scale ``s``.
_S_OFFSETS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, -0.25, -0.5, -1.0, -2.0, -4.0, -8.0,
              -16.0)
_COARSE = np.linspace(-_ZMAX, _ZMAX, 19)


def _window(centre, half, seg):
    """Edges of ``[centre - half, centre + half]`` in pieces of at most ``seg`` (clipped)."""
    n = max(1, int(math.ceil(2.0 * half / seg)))
    return np.clip(np.linspace(centre - half, centre + half, n + 1), -_ZMAX, _ZMAX)


def _res_edges1(act, q):
    """Segment edges in ``z`` for ``E[f(sqrt(q) z)]``: coarse, plus a fine window |u| <= 20.

    Unlike :func:`_regular_edges` (uniform segments of ``0.8 / sqrt(q)`` over the whole
    range, capped at 400), only ``|u| <= 20`` is resolved on the scale 1 of ``u``: at most
    68 segments at any ``q``, accurate for activations that are constant or smooth on the
    scale ``sqrt(q)`` beyond (all built-ins but ``sin``, which has a closed form).
    """
    sq = math.sqrt(q)
    parts = [_COARSE]
    if sq > _SEG_Q:
        parts.append(_window(0.0, _U_WIN / sq, _SEG_Q / sq))
    bps = [b / sq for b in act.breakpoints if abs(b / sq) < _ZMAX]
    parts.append(np.array(bps))
    return np.unique(np.concatenate(parts)), sq


def _res_expect1(act, q, f):
    q = min(float(q), _QMAX)
    edges, sq = _res_edges1(act, q)
    z, w = _segments(edges, _N_GL)
    return float(np.dot(w, f(sq * z)))


def _res_nodes2(act, q, rho):
    """Nodes (z1, z2) and weights for the pair (u1, Delta) at variance q, ``1 - c = rho``.

    Outer (``z1``): the grid of :func:`_res_edges1` plus edges at distances ``k s``
    (``s = sqrt(rho (2 - rho))``, ``|k| <= 16``) around the window's ends and the kinks.
    Inner (``z2``, per row): ``u2 = sqrt(q) (c z1 + s z2)`` varies on the scale
    ``1 / (sqrt(q) s)`` in ``z2``; a fine window ``|u2| <= 20`` centred at ``-c z1 / s`` and
    the kinks of ``u2`` are added to the coarse grid (68 segments per row at most).
    """
    s = math.sqrt(rho * (2.0 - rho)) if rho < 2.0 else 0.0
    c = 1.0 - rho
    e1, sq = _res_edges1(act, q)
    centres = [b / sq for b in act.breakpoints]
    if sq > _SEG_Q:
        w = min(_ZMAX, _U_WIN / sq)
        centres += [-w, w]
    if s > 0:
        extra = [x + k * s for x in centres for k in _S_OFFSETS]
        e1 = np.unique(np.clip(np.concatenate([e1, extra]), -_ZMAX, _ZMAX))
    z1, w1 = _segments(e1, _N_GL)
    parts = []
    if s > 0 and sq * s > _SEG_Q:
        centre = -c * z1 / s
        half = _U_WIN / (sq * s)
        n = int(math.ceil(2.0 * _U_WIN / _SEG_Q))
        parts.append(np.clip(centre[:, None] + np.linspace(-half, half, n + 1), -_ZMAX, _ZMAX))
    if s > 0:
        for b in act.breakpoints:
            parts.append(np.clip((b / sq - c * z1) / s, -_ZMAX, _ZMAX)[:, None])
    if parts:
        edges = np.sort(np.concatenate(
            [np.broadcast_to(_COARSE, z1.shape + _COARSE.shape)] + parts, axis=-1), axis=-1)
        z2, w2 = _segments(edges, _N_GL)
        return z1[:, None], z2, w1[:, None] * w2
    z2, w2 = _segments(_COARSE, _N_GL)
    return z1[:, None], z2[None, :], w1[:, None] * w2[None, :]


def _sin_minus_theta_cos(theta):
    """``sin t - t cos t`` without cancellation for small ``t`` (series below 0.5)."""
    if theta >= 0.5:
        return math.sin(theta) - theta * math.cos(theta)
    t2 = theta * theta
    term, out = theta * t2 / 6.0, 0.0  # t^(2k+1) / (2k+1)! for k = 1
    for k in range(1, 12):  # sum_k (-1)^(k+1) 2k t^(2k+1) / (2k+1)!
        out += (-1) ** (k + 1) * 2 * k * term
        term *= t2 / ((2 * k + 2) * (2 * k + 3))
    return out


def _res_phi2(act, q):
    """``E[phi(sqrt(q) z)^2]`` (closed forms for linear, relu, sin)."""
    q = min(float(q), _QMAX)
    if act.code == LINEAR:
        return q
    if act.code == RELU:
        return 0.5 * q
    if act.code == SIN:
        return -0.5 * math.expm1(-2.0 * q)
    return _res_expect1(act, q, lambda x: act.np_phi(x) ** 2)


def _res_half_msd(act, q, rho):
    r"""``E[(phi(u2) - phi(u1))^2] / 2`` at variance ``q`` and ``1 - c = rho`` (difference form).

    Closed forms: linear ``q rho``; relu ``q (pi rho - sin t + t cos t) / (2 pi)`` with
    ``t = arccos c``; sin ``-expm1(-q rho) (1 + e^{-q (2 - rho)}) / 2``; otherwise the
    quadrature of :func:`_res_nodes2` on the accurate difference ``act.np_diff``.
    """
    if rho == 0.0:
        return 0.0
    q = min(float(q), _QMAX)
    if q == 0.0:
        return 0.0
    if act.code == LINEAR:
        return q * rho
    if act.code == RELU:
        theta = 2.0 * math.asin(min(1.0, math.sqrt(0.5 * rho)))
        return q * (math.pi * rho - _sin_minus_theta_cos(theta)) / (2.0 * math.pi)
    if act.code == SIN:
        return -0.5 * math.expm1(-q * rho) * (1.0 + math.exp(-q * (2.0 - rho)))
    z1, z2, w = _res_nodes2(act, q, rho)
    sq = math.sqrt(q)
    s = math.sqrt(rho * (2.0 - rho)) if rho < 2.0 else 0.0
    u1 = sq * z1
    delta = sq * (-rho * z1 + s * z2)
    dphi = act.np_diff(np.broadcast_to(u1, delta.shape), delta)
    return 0.5 * float(np.sum(w * dphi * dphi))


def _res_check(q, sigma_w, sigma_b, alpha, activation):
    q = _Q.check("q", q)
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    return q, sigma_w, sigma_b, ALPHA.check("alpha", alpha), get_activation(activation)


def _res_q_next(act, q, sigma_w, sigma_b, alpha):
    return q + alpha ** 2 * (sigma_w ** 2 * _res_phi2(act, q) + sigma_b ** 2)


def _res_rho_next(act, q, rho, sigma_w, sigma_b, alpha, q_next):
    if q_next == 0.0:
        return 0.0
    r = (q * rho + alpha ** 2 * sigma_w ** 2 * _res_half_msd(act, q, rho)) / q_next
    return min(r, 2.0)


def resmlp_q_map(q, sigma_w, sigma_b, activation="tanh", alpha=1.0):
    r"""Return the next-layer variance of the infinite-width residual MLP.

    .. math::

        q_{l+1} = q_l + \alpha^2\left(\sigma_w^2\,E[\phi(\sqrt{q_l}\,z)^2] + \sigma_b^2\right)

    (the branch :math:`\alpha(W\phi(h)+b)` is uncorrelated with :math:`h`). There is no
    fixed point: for bounded activations ``q`` grows linearly with depth (by about
    :math:`\alpha^2(\sigma_w^2+\sigma_b^2)` per layer once they saturate), for ``relu`` and
    ``linear`` geometrically (factor :math:`1+\alpha^2\sigma_w^2/2`, resp.
    :math:`1+\alpha^2\sigma_w^2`).

    Parameters
    ----------
    q : float
        Current variance, in [0, 1e100].
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12] (:data:`SIGMA_MAX`).
    activation : str or callable
        Activation.
    alpha : float
        Residual branch scale, in [0, 1000] (:data:`ALPHA_MAX`).

    Returns
    -------
    float
    """
    q, sigma_w, sigma_b, alpha, act = _res_check(q, sigma_w, sigma_b, alpha, activation)
    return _res_q_next(act, q, sigma_w, sigma_b, alpha)


def resmlp_rho_map(rho, q, sigma_w, sigma_b, activation="tanh", alpha=1.0):
    r"""Return :math:`\rho_{l+1} = 1 - c_{l+1}` of the infinite-width residual MLP.

    With :math:`c` the cosine similarity of the two replicas' states :math:`h, h'` (equal
    variances :math:`q`), the covariances add up, :math:`q\,c` gaining
    :math:`\alpha^2(\sigma_w^2E[\phi(u_1)\phi(u_2)]+\sigma_b^2)`; in difference form

    .. math::

        \rho_{l+1} = \frac{q_l\,\rho_l + \tfrac12\alpha^2\sigma_w^2\,
        E[(\phi(u_1+\Delta)-\phi(u_1))^2]}{q_{l+1}},

    :math:`u_1=\sqrt{q_l}z_1`, :math:`\Delta=\sqrt{q_l}(-\rho_l z_1+\sqrt{\rho_l(2-\rho_l)}z_2)`,
    accurate down to :math:`\rho\sim10^{-300}`. The replica distance :math:`q\rho` never
    decreases, so :math:`\rho_l \ge \rho_0 q_0/q_l`: the decay is at most as fast as the
    variance grows (no exponential approach to the absorbing state ``rho = 0``).

    Parameters
    ----------
    rho : float or array_like
        ``1 - c`` at the current layer, in [0, 2].
    q : float
        Variance at the current layer, in [0, 1e100] (the model has no fixed point ``q*``).
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12].
    activation : str or callable
        Activation.
    alpha : float
        Residual branch scale, in [0, 1000].

    Returns
    -------
    float or numpy.ndarray
    """
    q, sigma_w, sigma_b, alpha, act = _res_check(q, sigma_w, sigma_b, alpha, activation)
    r = np.asarray(rho, dtype=np.float64)
    if np.any(~((r >= 0) & (r <= 2))):
        raise ValueError("rho must be in [0, 2]")
    qn = _res_q_next(act, q, sigma_w, sigma_b, alpha)
    out = np.array([_res_rho_next(act, q, float(x), sigma_w, sigma_b, alpha, qn)
                    for x in r.ravel()])
    return out.reshape(r.shape) if r.ndim else float(out[0])


def resmlp_correlation_map(c, q, sigma_w, sigma_b, activation="tanh", alpha=1.0):
    r"""Return :math:`c_{l+1}` of the infinite-width residual MLP from :math:`c_l` and :math:`q_l`.

    .. math::

        c_{l+1} = \frac{q_l c_l + \alpha^2(\sigma_w^2 E[\phi(u_1)\phi(u_2)] + \sigma_b^2)}
        {q_{l+1}}

    (``q_{l+1}`` from :func:`resmlp_q_map`). Near ``c = 1`` use :func:`resmlp_rho_map`,
    which keeps ``1 - c`` accurate.

    Parameters
    ----------
    c : float or array_like
        Correlation (cosine similarity of the states ``h``) in [-1, 1].
    q : float
        Variance at the current layer, in [0, 1e100].
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12].
    activation : str or callable
        Activation.
    alpha : float
        Residual branch scale, in [0, 1000].

    Returns
    -------
    float or numpy.ndarray
    """
    c = np.asarray(c, dtype=np.float64)
    if np.any(~((c >= -1) & (c <= 1))):
        raise ValueError("c must be in [-1, 1]")
    return 1.0 - resmlp_rho_map(1.0 - c, q, sigma_w, sigma_b, activation, alpha)


def resmlp_trajectory(sigma_w, sigma_b, activation="tanh", t_max=100, rho0=1.0, q0=1.0,
                      alpha=1.0):
    """Return ``(rho, q)`` arrays of length ``t_max + 1`` of the infinite-width residual MLP.

    Layer by layer :func:`resmlp_q_map` and :func:`resmlp_rho_map` from ``(q0, rho0)``: the
    deterministic ``N -> infinity`` limit of :class:`~absorbphys.models.resmlp.ResMLP`
    (whose samples start from ``rho0 = 1 - c0`` and ``q0`` too). Cost: one 2-D quadrature of
    about 0.5 million nodes per layer for ``tanh``, ``erf``, ``hard_tanh`` and user
    activations (tens of ms); closed forms for ``linear``, ``relu`` and ``sin``.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Weight and bias standard deviations, in [0, 1e12].
    activation : str or callable
        Activation.
    t_max : int
        Last layer (>= 0).
    rho0 : float
        ``1 - c0`` at layer 0, in [0, 2].
    q0 : float
        Variance at layer 0, in (0, 1e24].
    alpha : float
        Residual branch scale, in [0, 1000].

    Returns
    -------
    rho, q : numpy.ndarray

    Raises
    ------
    ValueError
        If the variance of an unbounded activation would exceed 1e100 by ``t_max`` (see
        :func:`resmlp_overflow_layer`).
    """
    sigma_w, sigma_b = _check_sw_sb(sigma_w, sigma_b)
    t_max = Param("int", 0).check("t_max", t_max)
    rho0 = Param("float", 0.0, 2.0).check("rho0", rho0)
    q0 = RES_Q0.check("q0", q0)
    alpha = ALPHA.check("alpha", alpha)
    act = get_activation(activation)
    check_resmlp_overflow(sigma_w, sigma_b, act, q0, t_max, alpha)
    return _res_trajectory(act, sigma_w, sigma_b, alpha,
                           np.arange(t_max + 1, dtype=np.int64), rho0, q0)


def _res_trajectory(act, sigma_w, sigma_b, alpha, times, rho0, q0):
    """``(rho, q)`` at the sorted layers ``times`` only (memory O(len(times)))."""
    times = np.asarray(times, dtype=np.int64)
    rho = np.empty(times.size)
    qs = np.empty(times.size)
    r, q = float(rho0), float(q0)
    t, i = 0, 0
    while i < times.size:
        while i < times.size and times[i] == t:
            rho[i], qs[i] = r, q
            i += 1
        if i == times.size:
            break
        qn = _res_q_next(act, q, sigma_w, sigma_b, alpha)
        rn = _res_rho_next(act, q, r, sigma_w, sigma_b, alpha, qn)
        if rn == r and qn == q:  # stationary from here on (alpha = 0, or no weights/bias)
            rho[i:], qs[i:] = r, q
            break
        r, q = rn, qn
        t += 1
    return rho, qs


def resmlp_overflow_layer(sigma_w, sigma_b, activation, q0, t_max, alpha=1.0):
    r"""Return the first layer ``<= t_max`` at which a residual MLP's variance exceeds 1e100.

    The variance follows :math:`q_{l+1} = q_l + \alpha^2(\sigma_w^2 E[\phi^2] + \sigma_b^2)`.
    Bounded activations (``tanh``, ``erf``, ``hard_tanh``, ``sin``) grow at most linearly,
    :math:`q_l \le q_0 + l\,\alpha^2(\sigma_w^2+\sigma_b^2) < 10^{50}` for any int64 depth
    within the parameter bounds: never. ``linear`` and ``relu`` grow geometrically, by
    :math:`g = 1 + \alpha^2\sigma_w^2` (``relu``: :math:`1 + \alpha^2\sigma_w^2/2`) per layer,
    solved in closed form. User functions are followed with steps over which ``q`` grows by
    at most 10 %, each using the larger of the increments at its two ends (conservative
    where :math:`E[\phi^2]` grows with ``q``), single layers near the threshold.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Validated weight and bias standard deviations.
    activation : str, Activation or callable
        Activation.
    q0 : float
        Variance at layer 0 (> 0).
    t_max : int
        Last layer.
    alpha : float
        Validated residual branch scale.

    Returns
    -------
    int or None
    """
    act = get_activation(activation)
    q0, t_max = float(q0), int(t_max)
    if act.code in (TANH, ERF, HARD_TANH, SIN) or t_max < 1:
        return None
    a2 = alpha ** 2
    if act.code in (LINEAR, RELU):
        gm1 = a2 * sigma_w ** 2 * (1.0 if act.code == LINEAR else 0.5)
        if gm1 == 0.0:  # q0 + l alpha^2 sigma_b^2 < 1e50: no overflow
            return None
        # q_l = g^l (q0 + c) - c, c = alpha^2 sigma_b^2 / (g - 1)
        ratio = (Q_OVERFLOW - q0) * gm1 / (q0 * gm1 + a2 * sigma_b ** 2)
        layer = max(1, math.ceil(math.log1p(ratio) / math.log1p(gm1)))
        return layer if layer <= t_max else None

    def inc(q):
        with np.errstate(over="ignore", invalid="ignore"):
            return a2 * (sigma_w ** 2 * _res_phi2(act, q) + sigma_b ** 2)

    q, layer = q0, 0
    while layer < t_max:
        d1 = inc(q)
        if not d1 < math.inf:  # NaN/inf from a function that overflows itself
            return layer + 1
        if d1 <= 0.0:
            return None
        k = min(max(1, int(0.1 * q / d1)), t_max - layer)
        while True:
            d2 = inc(q + k * d1) if k > 1 else d1
            step = k * max(d1, d2) if d2 < math.inf else math.inf
            if q + step <= Q_OVERFLOW or k == 1:
                break
            k //= 2
        q += step
        layer += k
        if not q <= Q_OVERFLOW:
            return layer
    return None


def check_resmlp_overflow(sigma_w, sigma_b, activation, q0, t_max, alpha=1.0):
    """Raise a one-line ``ValueError`` if a residual MLP's variance overflows by ``t_max``.

    See :func:`resmlp_overflow_layer`; the message names ``t_max`` and the largest depth.

    Parameters
    ----------
    sigma_w, sigma_b : float
        Validated weight and bias standard deviations.
    activation : str, Activation or callable
        Activation.
    q0 : float
        Variance at layer 0 (> 0).
    t_max : int
        Last layer.
    alpha : float
        Validated residual branch scale.
    """
    act = get_activation(activation)
    layer = resmlp_overflow_layer(sigma_w, sigma_b, act, q0, t_max, alpha)
    if layer is None:
        return
    grow = {LINEAR: "1 + alpha**2 sigma_w**2", RELU: "1 + alpha**2 sigma_w**2 / 2"}.get(
        act.code)
    how = f"by the factor {grow} per layer" if grow else "without bound"
    raise ValueError(f"t_max: with activation {act.name!r}, sigma_w={sigma_w:g} and "
                     f"alpha={alpha:g} the variance of the residual stream grows {how} and "
                     f"exceeds {Q_OVERFLOW:g} (float64 overflow of the sums) at layer "
                     f"{layer}; use t_max <= {layer - 1} or a smaller alpha * sigma_w")

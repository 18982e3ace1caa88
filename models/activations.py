r"""Activation functions for random networks: Numba scalars, NumPy arrays, accurate differences.

Every activation offers

- ``phi``, ``dphi``, ``d2phi``: Numba-compiled scalar functions (value, first and second
  derivative);
- ``diff(a, d)``: Numba-compiled ``phi(a + d) - phi(a)`` computed *accurately* for tiny ``d``
  (relative accuracy kept down to ``d ~ 1e-300``): this is how the replica difference is
  propagated (see :mod:`absorbphys.models.mlp`);
- ``np_phi``, ``np_dphi``, ``np_d2phi``, ``np_diff``: vectorised NumPy versions (mean-field
  quadrature, trainers);
- ``breakpoints``: the points where the function is not smooth (``relu``: 0,
  ``hard_tanh``: -1 and 1), used by the quadrature of :mod:`absorbphys.models.meanfield`;
- ``code``: the integer that the cached Numba kernels dispatch on (``-1`` for user functions).

One file past the ~600-line guide: every activation is a handful of small functions in four
forms (scalar, derivative, accurate difference, NumPy) that must agree, and they are easiest
to check side by side.

Accurate differences
--------------------
``tanh``: for :math:`a \ge 0` (odd symmetry), :math:`y = e^{-2a}`,
:math:`w_1 = \mathrm{expm1}(-2d)`:
:math:`\tanh(a+d)-\tanh(a) = -2 y w_1 / ((1+y)(1+y(w_1+1)))` — no cancellation, also in
saturation (the textbook :math:`\tanh d\,(1-\tanh a\tanh(a+d))` loses a factor
:math:`1/(1-\tanh^2 a)`, 1e-8 relative at :math:`|a| = 10`). The exponentials come from
``expm1_fast`` (Cody–Waite reduction, degree-13 Taylor polynomial, ``2**k`` from a table;
within 2 ulp of libm, measured).
``sin``: :math:`2\cos(a+d/2)\sin(d/2)`. ``erf``: 8-point Gauss–Legendre quadrature of
:math:`\tfrac{2}{\sqrt\pi}e^{-t^2}` over :math:`[a, a+d]` when :math:`|d|(1+|a|) < 1/2`
(``erf_gl``: symmetric nodes paired into one exponential of an exactly split :math:`m^2` and
short Taylor series, within a few ulp), complementary error functions on the saturated side
otherwise. ``relu``, ``hard_tanh``,
``linear``: ``d`` is passed through *exactly* where both points lie in the same linear piece
(so a difference becomes exactly 0 only through saturation, never through rounding), and the
exact difference of the clipped values otherwise.

User functions
--------------
``get_activation(func, dphi=None, d2phi=None, diff=None)`` accepts any Numba-compilable
scalar function (plain Python functions are compiled with ``numba.njit``). Missing
derivatives fall back to central finite differences with step
:math:`h = 10^{-5}(1 + |x|)` (``dphi``) and :math:`h = 10^{-4}(1 + |x|)` (``d2phi``),
accurate to about 1e-10 and 1e-7; a missing ``diff`` falls back to
``phi(a + d) - phi(a)``, which loses relative accuracy once ``|d| / |a| < 1e-8`` and rounds
to 0 below ``1e-16`` — pass ``diff`` for replica distances below that. Kernels for user
functions are compiled per process without the on-disk cache.

One file, past the ~600-line guide: every activation is defined once here with all its forms
(Numba scalar and difference, NumPy, the device functions the CUDA kernels compile, the kinks
the mean-field quadrature needs), so that adding one touches one place.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher
from scipy import special

from absorbphys._params import first_line

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]

TANH, ERF, RELU, HARD_TANH, SIN, LINEAR = range(6)

#: Names of the built-in activations, in code order.
ACTIVATIONS = ("tanh", "erf", "relu", "hard_tanh", "sin", "linear")

_TWO_OVER_SQRTPI = 1.1283791670955126
# 8-point Gauss-Legendre nodes/weights on [-1, 1]
_GL_X = np.array([-0.9602898564975363, -0.7966664774136267, -0.5255324099163290,
                  -0.1834346424956498, 0.1834346424956498, 0.5255324099163290,
                  0.7966664774136267, 0.9602898564975363])
_GL_W = np.array([0.1012285362903763, 0.2223810344533745, 0.3137066458778873,
                  0.3626837833783620, 0.3626837833783620, 0.3137066458778873,
                  0.2223810344533745, 0.1012285362903763])
_GL_X2 = _GL_X * _GL_X


# --------------------------------------------------------------------------- scalar kernels
def _py_act_phi(code, x):
    if code == TANH:
        return math.tanh(x)
    if code == ERF:
        return math.erf(x)
    if code == RELU:
        return x if x > 0.0 else 0.0
    if code == HARD_TANH:
        return 1.0 if x >= 1.0 else (-1.0 if x <= -1.0 else x)
    if code == SIN:
        return math.sin(x)
    return x


def _py_act_dphi(code, x):
    if code == TANH:
        t = math.tanh(x)
        return 1.0 - t * t
    if code == ERF:
        return _TWO_OVER_SQRTPI * math.exp(-x * x)
    if code == RELU:
        return 1.0 if x > 0.0 else 0.0
    if code == HARD_TANH:
        return 1.0 if -1.0 < x < 1.0 else 0.0
    if code == SIN:
        return math.cos(x)
    return 1.0


def _py_act_d2phi(code, x):
    # piecewise-linear activations: 0 away from the kinks (a delta function there)
    if code == TANH:
        t = math.tanh(x)
        return -2.0 * t * (1.0 - t * t)
    if code == ERF:
        return -2.0 * x * _TWO_OVER_SQRTPI * math.exp(-x * x)
    if code == SIN:
        return -math.sin(x)
    return 0.0


def _py_act_diff(code, a, d):
    # libm and erf_gl only: also compiled by numba.cuda as a device function (numba.cuda
    # compiles the njit function erf_gl for the device)
    if code == TANH:
        if d == 0.0:
            return 0.0
        sg = 1.0
        if a < 0.0:
            a = -a
            d = -d
            sg = -1.0
        if a < 0.35:
            y = 1.0 + math.expm1(-2.0 * a)
        else:
            y = math.exp(-2.0 * a)
        if d > -300.0:
            w1 = math.expm1(-2.0 * d)
            return sg * (-2.0 * y * w1 / ((1.0 + y) * (1.0 + y * (w1 + 1.0))))
        return sg * (math.tanh(a + d) - math.tanh(a))
    if code == ERF:
        if d == 0.0:
            return 0.0
        if abs(d) * (1.0 + abs(a)) < 0.5:
            return erf_gl(a, d)
        b = a + d
        if a > 0.0 and b > 0.0:
            return math.erfc(a) - math.erfc(b)
        if a < 0.0 and b < 0.0:
            return math.erfc(-b) - math.erfc(-a)
        return math.erf(b) - math.erf(a)
    if code == RELU:
        b = a + d
        if a > 0.0 and b > 0.0:
            return d
        if a <= 0.0 and b <= 0.0:
            return 0.0
        return (b if b > 0.0 else 0.0) - (a if a > 0.0 else 0.0)
    if code == HARD_TANH:
        b = a + d
        if -1.0 < a < 1.0 and -1.0 < b < 1.0:
            return d
        if (a >= 1.0 and b >= 1.0) or (a <= -1.0 and b <= -1.0):
            return 0.0
        ca = 1.0 if a >= 1.0 else (-1.0 if a <= -1.0 else a)
        cb = 1.0 if b >= 1.0 else (-1.0 if b <= -1.0 else b)
        return cb - ca
    if code == SIN:
        return 2.0 * math.cos(a + 0.5 * d) * math.sin(0.5 * d)
    return d


_POW2 = 2.0 ** np.arange(-1075, 1024, dtype=np.float64)  # 2**k, index k + 1075
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm split of ln 2: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10


def _py_expm1_fast(x):
    """``(exp(x), expm1(x))`` without libm calls (vectorisable), a few ulp.

    ``x = k ln2 + r`` with ``|r| <= ln2 / 2`` (Cody-Waite), ``expm1(r)`` by its Taylor series
    to degree 13 (truncation < 1e-17 relative), ``exp(x) = 2**k (1 + expm1(r))``; for
    ``k = 0`` ``expm1(x) = expm1(r)`` keeps full relative accuracy near 0.
    """
    if x < -745.0:
        x = -745.0
    elif x > 709.0:
        x = 709.0
    kf = np.float64(np.int64(x * _INV_LN2 + 1100.5)) - 1100.0  # floor, no libm call
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
            1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600
                                                       + r / 6227020800.0))))))))))))
    if kf == 0.0:
        return 1.0 + p, p
    e = _POW2[np.int64(kf) + 1075] * (1.0 + p)
    return e, e - 1.0


expm1_fast = njit(cache=True, inline="always")(_py_expm1_fast)


def _py_exp_hl(hi, lo):
    """``exp(hi + lo)`` for ``hi`` a multiple of ``2**-40`` with ``|hi| < 2**12``, small ``lo``.

    The reduction of :func:`expm1_fast` applied to the unrounded sum,
    ``r = ((hi - k ln2_hi) + lo) - k ln2_lo`` (the first difference is exact), so the rounding
    of ``hi + lo`` does not enter; 0 below ``exp(-745)``. No libm call and no branch
    (vectorisable); within 2 ulp of ``exp``.
    """
    x = hi + lo
    xc = -745.0 if x < -745.0 else (709.0 if x > 709.0 else x)
    kf = np.float64(np.int64(xc * _INV_LN2 + 1100.5)) - 1100.0
    r = ((hi - kf * _LN2_HI) + lo) - kf * _LN2_LO
    p = r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
            1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600
                                                       + r / 6227020800.0))))))))))))
    e = _POW2[np.int64(kf) + 1075] * (1.0 + p)
    return 0.0 if x < -745.0 else e


exp_hl = njit(cache=True, inline="always")(_py_exp_hl)


def _py_gl_node(w, x2, md2, h2):
    """``w exp(-h2 x2) cosh(sqrt(md2 x2))`` by Taylor series (for ``md2 x2 <= 0.4``).

    ``h2 x2 <= 1/16``: degree 10 in ``-h2 x2`` (truncation < 1e-19); ``md2 x2 <= 0.4``:
    degree 18 in the cosine's argument (< 1e-19). Larger ``md2 x2`` is clipped at 1 (the
    caller does not use those lanes; keeps them finite).
    """
    y = md2 * x2
    y = 1.0 if y > 1.0 else y
    v = h2 * x2
    ev = 1.0 - v * (1.0 - v * (0.5 - v * (1.0 / 6 - v * (1.0 / 24 - v * (1.0 / 120 - v * (
        1.0 / 720 - v * (1.0 / 5040 - v * (1.0 / 40320 - v * (1.0 / 362880
                                                              - v / 3628800.0)))))))))
    ch = 1.0 + y * (0.5 + y * (1.0 / 24 + y * (1.0 / 720 + y * (1.0 / 40320 + y * (
        1.0 / 3628800 + y * (1.0 / 479001600 + y * (1.0 / 87178291200 + y * (
            1.0 / 20922789888000 + y / 6402373705728000.0))))))))
    return w * ev * ch


gl_node = njit(cache=True, inline="always")(_py_gl_node)


def _py_erf_gl(a, d):
    r"""``erf(a + d) - erf(a)`` for ``|d| (1 + |a|) < 1/2``, relative accuracy to ``d ~ 1e-300``.

    8-point Gauss-Legendre quadrature of :math:`\tfrac{2}{\sqrt\pi}e^{-t^2}` over
    :math:`[a, a + d]`, its symmetric nodes :math:`m \pm \delta_k` (:math:`m = a + d/2`,
    :math:`\delta_k = x_k d/2`) paired as
    :math:`e^{-(m-\delta)^2} + e^{-(m+\delta)^2} = 2e^{-m^2}e^{-\delta^2}\cosh(2m\delta)`:
    one exponential of :math:`-m^2`, with :math:`m` kept exactly (two-sum) and
    :math:`m^2` split exactly (:math:`m_h` = :math:`|m|` to 20 fractional bits), the rest by
    :func:`gl_node`. Branch free and without libm calls, so the same
    function serves the scalar kernels, the vectorised CPU kernel and the CUDA device code.
    """
    half = 0.5 * d
    m = a + half
    bb = m - a
    ml = (a - (m - bb)) + (half - bb)  # two-sum: a + d/2 = m + ml exactly
    neg = m < 0.0
    mc = -m if neg else m
    lc = -ml if neg else ml
    big = mc > 40.0  # exp(-1600) = 0 already
    mc = 40.0 if big else mc
    lc = 0.0 if big else lc
    mh = np.float64(np.int64(mc * 1048576.0)) * (1.0 / 1048576.0)
    mlo = (mc - mh) + lc
    md2 = (m * d) * (m * d)
    h2 = half * half
    s = (gl_node(_GL_W[4], _GL_X2[4], md2, h2) + gl_node(_GL_W[5], _GL_X2[5], md2, h2)
         + gl_node(_GL_W[6], _GL_X2[6], md2, h2) + gl_node(_GL_W[7], _GL_X2[7], md2, h2))
    return _TWO_OVER_SQRTPI * d * exp_hl(-mh * mh, -(2.0 * mh + mlo) * mlo) * s


erf_gl = njit(cache=True, inline="always")(_py_erf_gl)


@njit(cache=True)
def _erf_gl_array(a, d):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = erf_gl(a[i], d[i])
    return out


def _py_tanh_pair(a, d):
    """``(tanh(a), tanh(a + d) - tanh(a))`` with full relative accuracy, saturation included.

    For ``a >= 0`` (odd symmetry otherwise), with ``y = exp(-2a)`` and
    ``w1 = expm1(-2d)``: ``tanh(a) = (1 - y) / (1 + y)`` and
    ``tanh(a + d) - tanh(a) = -2 y w1 / ((1 + y)(1 + y (w1 + 1)))``. No cancellation anywhere
    (unlike ``tanh(d) (1 - tanh(a) tanh(a + d))``, which loses ``1 / (1 - tanh(a)^2)``:
    1e-8 relative at ``|a| = 10``).
    """
    sg = 1.0
    if a < 0.0:
        a = -a
        d = -d
        sg = -1.0
    y, em = expm1_fast(-2.0 * a)
    if a < 0.35:
        y = 1.0 + em
        t = -em / (2.0 + em)
    else:
        t = (1.0 - y) / (1.0 + y)
    if d == 0.0:
        return sg * t, 0.0
    if d > -300.0:
        w, w1 = expm1_fast(-2.0 * d)
        e = -2.0 * y * w1 / ((1.0 + y) * (1.0 + y * w))
    else:
        e = math.tanh(a + d) - t
    return sg * t, sg * e


tanh_pair = njit(cache=True, inline="always")(_py_tanh_pair)


def _py_act_phi_diff(code, a, d):
    """Return ``(phi(a), phi(a + d) - phi(a))`` together (two exponentials for tanh)."""
    if code == TANH:
        return tanh_pair(a, d)
    return act_phi(code, a), act_diff(code, a, d)


act_phi = njit(cache=True, inline="always")(_py_act_phi)
act_dphi = njit(cache=True, inline="always")(_py_act_dphi)
act_d2phi = njit(cache=True, inline="always")(_py_act_d2phi)
act_diff = njit(cache=True, inline="always")(_py_act_diff)
act_phi_diff = njit(cache=True, inline="always")(_py_act_phi_diff)


def user_namespace_cpu(act, base):
    """Copy of a CPU kernel module's namespace with ``act_phi_diff`` bound to a user activation.

    Parameters
    ----------
    act : Activation
        A user activation (``act.user`` holds its compiled ``phi`` and ``diff``).
    base : dict
        The module's globals.

    Returns
    -------
    dict
        Globals for :func:`rebind_njit`.
    """
    phi, diff = act.user["phi"], act.user["diff"]

    @njit(inline="always")
    def u_phi_diff(code, a, d):
        return phi(a), diff(a, d)

    ns = dict(base)
    ns["act_phi_diff"] = u_phi_diff
    return ns


def rebind_njit(fn, ns, **kw):
    """Compile a pure-Python kernel function against the globals ``ns`` (no disk cache).

    Parameters
    ----------
    fn : function
        The pure-Python function (``_py_*``).
    ns : dict
        Globals it is rebound to (see :func:`user_namespace_cpu`).
    **kw
        Further options of :func:`numba.njit`.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The compiled function.
    """
    f = types.FunctionType(fn.__code__, ns, fn.__name__, fn.__defaults__, fn.__closure__)
    return njit(cache=False, **kw)(f)


def _bind(fn, code):
    """Scalar Numba function of one (or two) arguments with the code fixed."""
    f = fn

    if fn is act_diff:
        @njit(cache=False)
        def g2(a, d):
            return f(code, a, d)
        return g2

    @njit(cache=False)
    def g(x):
        return f(code, x)
    return g


# --------------------------------------------------------------------------- NumPy versions
def _np_phi(code, x):
    x = np.asarray(x, dtype=np.float64)
    if code == TANH:
        return np.tanh(x)
    if code == ERF:
        return special.erf(x)
    if code == RELU:
        return np.maximum(x, 0.0)
    if code == HARD_TANH:
        return np.clip(x, -1.0, 1.0)
    if code == SIN:
        return np.sin(x)
    return x.copy()


def _np_dphi(code, x):
    x = np.asarray(x, dtype=np.float64)
    if code == TANH:
        return 1.0 - np.tanh(x) ** 2
    if code == ERF:
        return _TWO_OVER_SQRTPI * np.exp(-x * x)
    if code == RELU:
        return (x > 0).astype(np.float64)
    if code == HARD_TANH:
        return ((x > -1) & (x < 1)).astype(np.float64)
    if code == SIN:
        return np.cos(x)
    return np.ones_like(x)


def _np_d2phi(code, x):
    x = np.asarray(x, dtype=np.float64)
    if code == TANH:
        t = np.tanh(x)
        return -2.0 * t * (1.0 - t * t)
    if code == ERF:
        return -2.0 * x * _TWO_OVER_SQRTPI * np.exp(-x * x)
    if code == SIN:
        return -np.sin(x)
    return np.zeros_like(x)


def _np_diff(code, a, d):
    a, d = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(d, dtype=np.float64))
    b = a + d
    with np.errstate(invalid="ignore", over="ignore"):
        if code == TANH:
            sg = np.where(a < 0, -1.0, 1.0)
            a, d = a * sg, d * sg
            y = np.where(a < 0.35, 1.0 + np.expm1(-2.0 * a), np.exp(-2.0 * a))
            w1 = np.expm1(-2.0 * np.maximum(d, -300.0))
            e = -2.0 * y * w1 / ((1.0 + y) * (1.0 + y * (w1 + 1.0)))
            e = np.where(d > -300.0, e, np.tanh(a + d) - np.tanh(a))
            return sg * np.where(d == 0, 0.0, e)
        if code == ERF:
            out = special.erf(b) - special.erf(a)
            pos = (a > 0) & (b > 0)
            out = np.where(pos, special.erfc(a) - special.erfc(b), out)
            neg = (a < 0) & (b < 0)
            out = np.where(neg, special.erfc(-b) - special.erfc(-a), out)
            small = np.abs(d) * (1.0 + np.abs(a)) < 0.5
            if np.any(small):
                out = np.where(small, _erf_gl_array(a.ravel(), d.ravel()).reshape(a.shape), out)
            return out
        if code == RELU:
            out = np.maximum(b, 0.0) - np.maximum(a, 0.0)
            return np.where((a > 0) & (b > 0), d, np.where((a <= 0) & (b <= 0), 0.0, out))
        if code == HARD_TANH:
            out = np.clip(b, -1.0, 1.0) - np.clip(a, -1.0, 1.0)
            lin = (a > -1) & (a < 1) & (b > -1) & (b < 1)
            sat = ((a >= 1) & (b >= 1)) | ((a <= -1) & (b <= -1))
            return np.where(lin, d, np.where(sat, 0.0, out))
        if code == SIN:
            return 2.0 * np.cos(a + 0.5 * d) * np.sin(0.5 * d)
        return d.copy()


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation function with its derivatives and accurate difference.

    Attributes
    ----------
    name : str
        Built-in name or the user function's ``__name__``.
    code : int
        Kernel dispatch code (index in :data:`ACTIVATIONS`; ``-1`` for user functions).
    phi, dphi, d2phi : numba dispatcher
        Scalar value, first and second derivative.
    diff : numba dispatcher
        ``diff(a, d) = phi(a + d) - phi(a)``, accurate for tiny ``d``.
    np_phi, np_dphi, np_d2phi, np_diff : callable
        Vectorised NumPy versions.
    breakpoints : tuple of float
        Points where ``phi`` is not smooth.
    smooth : bool
        Whether ``phi`` is twice continuously differentiable (needed by ``kappa``).
    piecewise_linear : bool
        Whether ``phi`` is piecewise linear (``relu``, ``hard_tanh``, ``linear``).
    """

    name: str
    code: int
    phi: object
    dphi: object
    d2phi: object
    diff: object
    np_phi: object
    np_dphi: object
    np_d2phi: object
    np_diff: object
    breakpoints: tuple = ()
    smooth: bool = True
    piecewise_linear: bool = False
    user: dict = field(default_factory=dict, repr=False)

    def __repr__(self):
        return f"Activation({self.name!r})"

    def __call__(self, x):
        """Return ``np_phi(x)``: an Activation is usable as a vectorised function."""
        return self.np_phi(x)

    @property
    def __name__(self):  # noqa: D401 - recorded in Dataset params like a function name
        """The activation's name."""
        return self.name


_CACHE: dict = {}


def _builtin(name):
    if name in _CACHE:
        return _CACHE[name]
    code = ACTIVATIONS.index(name)
    bp = {"relu": (0.0,), "hard_tanh": (-1.0, 1.0)}.get(name, ())
    act = Activation(
        name=name, code=code,
        phi=_bind(act_phi, code), dphi=_bind(act_dphi, code), d2phi=_bind(act_d2phi, code),
        diff=_bind(act_diff, code),
        np_phi=lambda x, c=code: _np_phi(c, x), np_dphi=lambda x, c=code: _np_dphi(c, x),
        np_d2phi=lambda x, c=code: _np_d2phi(c, x),
        np_diff=lambda a, d, c=code: _np_diff(c, a, d),
        breakpoints=bp, smooth=not bp, piecewise_linear=name in ("relu", "hard_tanh", "linear"))
    _CACHE[name] = act
    return act


def _jit(f):
    if isinstance(f, CPUDispatcher):
        return f
    return njit(cache=False)(f)


def _probe(what, f, *args):
    """Compile and call a user function once: a one-line TypeError if that fails."""
    try:
        jf = _jit(f)
        v = jf(*args)
    except Exception as exc:  # noqa: BLE001 - Numba raises many kinds; one line for the user
        raise TypeError(f"{what} must be a Numba-compilable Python function of "
                        f"{len(args)} float(s) returning a float; calling it failed: "
                        f"{first_line(exc)}") from None
    if isinstance(v, bool) or not isinstance(v, (float, int, np.floating, np.integer)):
        raise TypeError(f"{what} must return a float, got {type(v).__name__}")
    return jf


def _user(func, dphi=None, d2phi=None, diff=None, breakpoints=()):
    phi = _probe("activation", func, 0.5)
    if dphi is not None:
        _probe("dphi", dphi, 0.5)
    if d2phi is not None:
        _probe("d2phi", d2phi, 0.5)
    if diff is not None:
        _probe("diff", diff, 0.5, 0.25)
    if dphi is None:
        @njit(cache=False)
        def dphi_(x):
            h = 1e-5 * (1.0 + abs(x))
            return (phi(x + h) - phi(x - h)) / (2.0 * h)
    else:
        dphi_ = _jit(dphi)
    if d2phi is None:
        @njit(cache=False)
        def d2phi_(x):
            h = 1e-4 * (1.0 + abs(x))
            return (phi(x + h) - 2.0 * phi(x) + phi(x - h)) / (h * h)
    else:
        d2phi_ = _jit(d2phi)
    if diff is None:
        @njit(cache=False)
        def diff_(a, d):
            return phi(a + d) - phi(a)
    else:
        diff_ = _jit(diff)

    def vec(f, nargs=1):
        if nargs == 1:
            @njit(cache=False)
            def v(x):
                out = np.empty(x.size)
                xf = x.ravel()
                for i in range(x.size):
                    out[i] = f(xf[i])
                return out
            return lambda x: v(np.ascontiguousarray(x, dtype=np.float64)).reshape(np.shape(x))

        @njit(cache=False)
        def v2(a, d):
            out = np.empty(a.size)
            af = a.ravel()
            df = d.ravel()
            for i in range(a.size):
                out[i] = f(af[i], df[i])
            return out

        def call(a, d):
            a, d = np.broadcast_arrays(np.asarray(a, dtype=np.float64),
                                       np.asarray(d, dtype=np.float64))
            return v2(np.ascontiguousarray(a), np.ascontiguousarray(d)).reshape(a.shape)
        return call

    name = getattr(func, "__name__", "user")
    return Activation(name=name, code=-1, phi=phi, dphi=dphi_, d2phi=d2phi_, diff=diff_,
                      np_phi=vec(phi), np_dphi=vec(dphi_), np_d2phi=vec(d2phi_),
                      np_diff=vec(diff_, 2), breakpoints=tuple(float(b) for b in breakpoints),
                      smooth=not breakpoints, piecewise_linear=False,
                      user={"phi": phi, "dphi": dphi_, "d2phi": d2phi_, "diff": diff_})


def get_activation(name_or_func, dphi=None, d2phi=None, diff=None, breakpoints=()):
    """Return an :class:`Activation` from a built-in name or a user function.

    Parameters
    ----------
    name_or_func : str, Activation or callable
        One of :data:`ACTIVATIONS` (``"tanh"``, ``"erf"``, ``"relu"``, ``"hard_tanh"``,
        ``"sin"``, ``"linear"``), an :class:`Activation` (returned unchanged), or a scalar
        Numba-compilable function ``f(x) -> float``.
    dphi, d2phi : callable, optional
        Derivatives of a user function (default: central finite differences, see the module
        notes).
    diff : callable, optional
        Accurate ``diff(a, d) = f(a + d) - f(a)`` of a user function (default: the plain
        subtraction, accurate only for ``|d| / |a| > 1e-8``).
    breakpoints : sequence of float, optional
        Kinks of a user function (improves the mean-field quadrature).

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        For something that is neither a string nor a callable.
    """
    if isinstance(name_or_func, Activation):
        return name_or_func
    if isinstance(name_or_func, str):
        if name_or_func not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))} "
                             f"or a Numba-compilable function, got {name_or_func!r}")
        return _builtin(name_or_func)
    if callable(name_or_func):
        key = (name_or_func, dphi, d2phi, diff, tuple(breakpoints))
        if key not in _CACHE:
            _CACHE[key] = _user(name_or_func, dphi, d2phi, diff, breakpoints)
        return _CACHE[key]
    raise TypeError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))} or a "
                    f"function, got {name_or_func!r}")

"""CPU kernels of the random MLP (Numba). See :mod:`absorbphys.models.mlp` for the maths.

The kernels are plain Python functions compiled with ``numba.njit``: for built-in
activations with ``cache=True`` (dispatching on an integer code), for user activations
through :func:`compile_for` (the activation functions are rebound, no on-disk cache).

Gaussian method: each layer runs over blocks of :data:`BLOCK` units, and per block one
loop draws the normal pairs and writes ``(h, d)``, one computes ``a = phi(h)`` and
``e = phi(h + d) - phi(h)`` and one sums the Gram products ``A, B, D`` for the next layer.
Every loop is free of libm calls and branches (``normal_pair_vec``: integer SplitMix,
``log_u53``, fdlibm sine/cosine polynomials; ``tanh_pair_vec``; ``erf_pair_vec``; selects for
hard_tanh and relu), so LLVM vectorises them (AVX-512 here): ``error_model="numpy"`` removes Numba's
division-by-zero branches, ``fastmath={"contract"}`` only allows fused multiply-adds, and
the Gram sums alone are reassociated (``fastmath={"reassoc"}``). Results agree with the
scalar formulas to a few ulp; the uniforms are the same draws.

One file, past the ~600-line guide: the kernels inline each other (``inline="always"``) and
:func:`compile_for` rebinds all of them for a user activation from this module's namespace;
split, the rebinding would have to cross modules.

:func:`act_block` (every activation's branch in one body) is the one helper that is *not*
inlined: it is compiled once, with the callers' ``error_model`` and ``fastmath``, and called
once per block. Inlined into its three callers it made the first call of the MLP kernel compile
for 5-7 minutes (LLVM optimising three copies of the large body, one inside the fused layer
loop) against 19 s, for 5-10 % of the tanh and erf throughput (``docs/performance.md``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import leading_zeros

from absorbphys.kernels import rng as _rng
from absorbphys.kernels.rng import draw, sample_key, step_key
from absorbphys.kernels.sums import alloc_sums
from absorbphys.models.activations import (
    _POW2,
    ERF,
    HARD_TANH,
    RELU,
    TANH,
    act_phi_diff,
    erf_gl,
    exp_hl,
    rebind_njit,
    tanh_pair,
    user_namespace_cpu,
)

STREAM_DYNAMICS = _rng.STREAM_DYNAMICS
STREAM_INPUT = _rng.STREAM_INPUT
STREAM_WEIGHTS = _rng.STREAM_WEIGHTS


# ------------------------------------------------------------------ shared helpers
# fdlibm __kernel_sin / __kernel_cos coefficients (|x| <= pi/4, error < 1 ulp)
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
_TWO53 = 1.0 / 9007199254740992.0
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO = np.uint64(2)


def _py_normal_pair_fast(key, index):
    """Box-Muller on the same two uniforms as :func:`absorbphys.kernels.rng.normal_pair`.

    ``u1 = 1 - to_unit(draw(key, 2 index))``, ``u2 = to_unit(draw(key, 2 index + 1))``,
    ``r = sqrt(-2 log u1)``, angle ``2 pi u2``; the cosine and sine come from the fdlibm
    polynomial kernels after an exact quadrant reduction of ``4 u2`` (instead of libm's
    general ``sin``/``cos``, which cost ~23 ns of the ~26 ns of ``normal_pair`` here). Agrees
    with ``normal_pair`` to a few ulp (not bit for bit).
    """
    i2 = np.uint64(index) * _TWO
    u1 = 1.0 - np.float64(np.int64(draw(key, i2) >> _S11)) * _TWO53
    v = np.float64(np.int64(draw(key, i2 + _ONE) >> _S11)) * (4.0 * _TWO53)
    q = np.int64(v + 0.5)
    x = 1.5707963267948966 * (v - np.float64(q))
    z = x * x
    sn = x + z * x * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    cs = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    r = math.sqrt(-2.0 * math.log(u1))
    # quadrant q: (cos, sin) of q pi/2 + x, written with selects (no unpredictable branches)
    swap = (q & 1) == 1
    c1 = sn if swap else cs
    c2 = cs if swap else sn
    r1 = -r if ((q + 1) & 2) != 0 else r
    r2 = -r if (q & 2) != 0 else r
    return r1 * c1, r2 * c2


normal_pair_fast = njit(cache=True, inline="always")(_py_normal_pair_fast)


# ------------------------------------------------------------------ vectorisable helpers
# The per-unit loops of the Gaussian method are written so that LLVM vectorises them
# (AVX-512 / AVX2): no libm calls, selects instead of branches, and the kernels compiled
# with ``error_model="numpy"`` (Numba's default Python error model guards every float
# division with a ZeroDivisionError branch, which stops vectorisation).
# fdlibm __ieee754_log coefficients (log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), < 1 ulp)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_SQRT2 = 1.4142135623730951
_TWO53U = np.uint64(1 << 53)
_TWOM63 = 2.0 ** -63
#: Units per block of the Gaussian-method passes (a few KiB of buffers: L1 resident).
BLOCK = 256


def _py_log_u53(k):
    """``log(1 - k 2**-53)`` for an integer ``0 <= k < 2**53`` (uint64), without libm.

    ``m = 2**53 - k`` is normalised with a leading-zero count (exact: ``u = M 2**e`` with
    ``M`` in ``[1, 2)``, moved to ``[sqrt(1/2), sqrt(2))``), then fdlibm's ``log`` kernel.
    Within 1 ulp of ``log`` over the whole range ``u`` in ``[2**-53, 1]``; branch free.
    """
    mm = _TWO53U - k
    lz = leading_zeros(mm)
    M = np.float64(mm << lz) * _TWOM63
    e = 10.0 - np.float64(lz)
    big = M > _SQRT2
    M = 0.5 * M if big else M
    e = e + 1.0 if big else e
    f = M - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    R = t2 + t1
    hfsq = 0.5 * f * f
    return e * _LN2_HI - ((hfsq - (s * (hfsq + R) + e * _LN2_LO)) - f)


log_u53 = njit(cache=True, inline="always")(_py_log_u53)


def _py_normal_pair_vec(key, index):
    """:func:`normal_pair_fast` with the logarithm from :func:`log_u53` (no libm call).

    The same two uniforms (``u1 = 1 - k 2**-53``, ``k = draw(key, 2 index) >> 11``) and the
    same sine/cosine kernels; agrees with ``_rng.normal_pair`` to a few ulp. Vectorises when
    inlined into a loop compiled with ``error_model="numpy"``.
    """
    i2 = np.uint64(index) * _TWO
    ku = draw(key, i2) >> _S11
    v = np.float64(np.int64(draw(key, i2 + _ONE) >> _S11)) * (4.0 * _TWO53)
    q = np.int64(v + 0.5)
    x = 1.5707963267948966 * (v - np.float64(q))
    z = x * x
    sn = x + z * x * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    cs = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    r = math.sqrt(-2.0 * log_u53(ku))
    swap = (q & 1) == 1
    c1 = sn if swap else cs
    c2 = cs if swap else sn
    r1 = -r if ((q + 1) & 2) != 0 else r
    r2 = -r if (q & 2) != 0 else r
    return r1 * c1, r2 * c2


normal_pair_vec = njit(cache=True, inline="always")(_py_normal_pair_vec)


def _py_expm1_sel(x):
    """``activations.expm1_fast`` written with selects: identical results, vectorisable."""
    x = -745.0 if x < -745.0 else x
    x = 709.0 if x > 709.0 else x
    kf = np.float64(np.int64(x * _INV_LN2 + 1100.5)) - 1100.0
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
            1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600
                                                       + r / 6227020800.0))))))))))))
    e = _POW2[np.int64(kf) + 1075] * (1.0 + p)  # _POW2[1075] = 1: e = 1 + p for kf = 0
    em = p if kf == 0.0 else e - 1.0
    return e, em


expm1_sel = njit(cache=True, inline="always")(_py_expm1_sel)


def _py_tanh_pair_vec(a, d):
    """``activations.tanh_pair`` with selects (same formulas, same results) for ``d > -300``.

    Returns ``(tanh(a), tanh(a + d) - tanh(a))``. Callers redo the rare units with
    ``|d| >= 300`` with :func:`activations.tanh_pair` (its libm ``tanh`` branch).
    """
    neg = a < 0.0
    sg = -1.0 if neg else 1.0
    a = -a if neg else a
    d = -d if neg else d
    y, em = expm1_sel(-2.0 * a)
    small = a < 0.35
    y = 1.0 + em if small else y
    num = -em if small else 1.0 - y
    den = 2.0 + em if small else 1.0 + y
    t = num / den
    dc = d if d > -300.0 else -300.0
    w, w1 = expm1_sel(-2.0 * dc)
    e = -2.0 * y * w1 / ((1.0 + y) * (1.0 + y * w))
    return sg * t, (0.0 if d == 0.0 else sg * e)


tanh_pair_vec = njit(cache=True, inline="always")(_py_tanh_pair_vec)


# fdlibm s_erf.c rational approximations (Sun Microsystems 1993; < 1 ulp): erf on [0, 0.84375)
# (pp/qq in x^2), on [0.84375, 1.25) (pa/qa in x - 1), erfc on [1.25, 1/0.35) (ra/sa) and
# [1/0.35, 28) (rb/sb) in 1/x^2
_ERX = 8.45062911510467529297e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02, 0.0)
_SB = (3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01, 0.0)
_TWO20 = 1048576.0  # 2**20


def _py_erf_erfc_pos(u):
    """``(erf(u), erfc(u))`` for ``u >= 0`` with selects (vectorisable), NaN passed through.

    fdlibm's algorithm: three rational approximations, all evaluated and one selected; in the
    tail ``erfc(u) = exp(-z^2 - 0.5625) exp((z - u)(z + u) + R/S) / u`` with ``z`` = ``u``
    truncated to 20 fractional bits (``z^2`` exact, as fdlibm's cleared low word), the
    product of the two exponentials as one :func:`exp_hl`; within a few ulp of libm.
    """
    z = u * u
    r = _PP[0] + z * (_PP[1] + z * (_PP[2] + z * (_PP[3] + z * _PP[4])))
    q = 1.0 + z * (_QQ[0] + z * (_QQ[1] + z * (_QQ[2] + z * (_QQ[3] + z * _QQ[4]))))
    y = r / q
    erf_s = u + u * y
    erfc_s = 1.0 - erf_s if u < 0.25 else 0.5 - ((u - 0.5) + u * y)
    s = u - 1.0
    p = _PA[0] + s * (_PA[1] + s * (_PA[2] + s * (_PA[3] + s * (_PA[4] + s * (
        _PA[5] + s * _PA[6])))))
    q = 1.0 + s * (_QA[0] + s * (_QA[1] + s * (_QA[2] + s * (_QA[3] + s * (
        _QA[4] + s * _QA[5])))))
    pq = p / q
    erf_m = _ERX + pq
    erfc_m = (1.0 - _ERX) - pq
    ut = 1.25 if u < 1.25 else (28.0 if u > 28.0 else u)  # keeps the tail finite elsewhere
    t = 1.0 / (ut * ut)
    ta = ut < 2.857142857142857
    c0 = _RA[0] if ta else _RB[0]
    c1 = _RA[1] if ta else _RB[1]
    c2 = _RA[2] if ta else _RB[2]
    c3 = _RA[3] if ta else _RB[3]
    c4 = _RA[4] if ta else _RB[4]
    c5 = _RA[5] if ta else _RB[5]
    c6 = _RA[6] if ta else _RB[6]
    c7 = _RA[7] if ta else _RB[7]
    d1 = _SA[0] if ta else _SB[0]
    d2 = _SA[1] if ta else _SB[1]
    d3 = _SA[2] if ta else _SB[2]
    d4 = _SA[3] if ta else _SB[3]
    d5 = _SA[4] if ta else _SB[4]
    d6 = _SA[5] if ta else _SB[5]
    d7 = _SA[6] if ta else _SB[6]
    d8 = _SA[7] if ta else _SB[7]
    rr = c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * (c6 + t * c7))))))
    ss = 1.0 + t * (d1 + t * (d2 + t * (d3 + t * (d4 + t * (d5 + t * (d6 + t * (
        d7 + t * d8)))))))
    zt = np.float64(np.int64(ut * _TWO20)) * (1.0 / _TWO20)
    erfc_t = exp_hl(-zt * zt - 0.5625, (zt - ut) * (zt + ut) + rr / ss) / ut
    erfc_t = 0.0 if u >= 28.0 else erfc_t
    small = u < 0.84375
    mid = u < 1.25
    ef = erf_s if small else (erf_m if mid else 1.0 - erfc_t)
    ec = erfc_s if small else (erfc_m if mid else erfc_t)
    nan = u != u
    return (u if nan else ef), (u if nan else ec)


erf_erfc_pos = njit(cache=True, inline="always")(_py_erf_erfc_pos)


def _py_erf_pair_vec(a, d):
    """``(erf(a), erf(a + d) - erf(a))`` with selects: the formulas of ``activations.act_diff``.

    The difference is :func:`activations.erf_gl` (8-point Gauss-Legendre with one
    exponential, vectorisable) when ``|d| (1 + |a|) < 1/2``, complementary error functions
    on the saturated side otherwise (all branches evaluated, one selected); no libm call.
    """
    b = a + d
    ua = abs(a)
    ub = abs(b)
    ea, ca = erf_erfc_pos(ua)
    eb, cb = erf_erfc_pos(ub)
    sa = -1.0 if a < 0.0 else 1.0
    sb = -1.0 if b < 0.0 else 1.0
    gl = erf_gl(a, d)
    far = ca - cb if (a > 0.0) & (b > 0.0) else (
        cb - ca if (a < 0.0) & (b < 0.0) else sb * eb - sa * ea)
    e = gl if abs(d) * (1.0 + ua) < 0.5 else far
    return sa * ea, (0.0 if d == 0.0 else e)


erf_pair_vec = njit(cache=True, inline="always")(_py_erf_pair_vec)


def _py_gram_block(a_buf, e_buf, i0, i1):
    """``sum a^2, sum a e, sum e^2`` over ``[i0, i1)`` (reassociated: vectorised)."""
    A = 0.0
    B = 0.0
    D = 0.0
    for i in range(i0, i1):
        a = a_buf[i]
        e = e_buf[i]
        A += a * a
        B += a * e
        D += e * e
    return A, B, D


gram_block = njit(cache=True, fastmath={"reassoc"}, error_model="numpy")(_py_gram_block)


def _py_act_block(code, h, d, a_buf, e_buf, i0, i1):
    """Fill ``a = phi(h)``, ``e = phi(h + d) - phi(h)`` of units ``[i0, i1)``; return Gram sums.

    Unit ``i`` goes to ``a_buf[i - i0]``, ``e_buf[i - i0]`` (block-sized scratch buffers).
    """
    if code == TANH:
        nbig = 0
        for i in range(i0, i1):
            hi = np.float64(h[i])
            di = np.float64(d[i])
            a, e = tanh_pair_vec(hi, di)
            a_buf[i - i0] = a
            e_buf[i - i0] = e
            nbig += 1 if abs(di) >= 300.0 else 0
        if nbig > 0:
            for i in range(i0, i1):
                if abs(np.float64(d[i])) >= 300.0:
                    a, e = tanh_pair(np.float64(h[i]), np.float64(d[i]))
                    a_buf[i - i0] = a
                    e_buf[i - i0] = e
    elif code == ERF:
        for i in range(i0, i1):
            a, e = erf_pair_vec(np.float64(h[i]), np.float64(d[i]))
            a_buf[i - i0] = a
            e_buf[i - i0] = e
    elif code == HARD_TANH:
        # activations.act_diff with selects (same results): d passes through exactly in
        # the linear region, saturated on one side gives clip(a + d) - clip(a) (0 if both)
        for i in range(i0, i1):
            hi = np.float64(h[i])
            di = np.float64(d[i])
            bi = hi + di
            ca = 1.0 if hi >= 1.0 else (-1.0 if hi <= -1.0 else hi)
            cb = 1.0 if bi >= 1.0 else (-1.0 if bi <= -1.0 else bi)
            inner = (hi > -1.0) & (hi < 1.0) & (bi > -1.0) & (bi < 1.0)
            a_buf[i - i0] = ca
            e_buf[i - i0] = di if inner else cb - ca
    elif code == RELU:
        for i in range(i0, i1):
            hi = np.float64(h[i])
            di = np.float64(d[i])
            bi = hi + di
            ca = hi if hi > 0.0 else 0.0
            cb = bi if bi > 0.0 else 0.0
            a_buf[i - i0] = ca
            e_buf[i - i0] = di if (hi > 0.0) & (bi > 0.0) else cb - ca
    else:
        for i in range(i0, i1):
            a, e = act_phi_diff(code, np.float64(h[i]), np.float64(d[i]))
            a_buf[i - i0] = a
            e_buf[i - i0] = e
    return gram_block(a_buf, e_buf, 0, i1 - i0)


act_block = njit(cache=True, error_model="numpy", fastmath={"contract"})(_py_act_block)


def _py_init_pair(h, d, key, offset, q0, rho0):
    """Layer 0: h ~ N(0, q0), h' = c0 h + sqrt(1 - c0^2) sqrt(q0) z, stored as d = h' - h."""
    n = h.shape[0]
    sq = math.sqrt(q0)
    s = math.sqrt(rho0 * (2.0 - rho0)) if rho0 < 2.0 else 0.0
    for i in range(n):
        z1, z2 = normal_pair_fast(key, offset + i)
        hi = sq * z1
        h[i] = hi
        d[i] = -rho0 * hi + s * sq * z2


def _py_replica_rho(h, d):
    """1 - c between h and h' = h + d, from d and the norms (accurate to ~1e-300).

    With m = |h'| - |h| = (2 h.d + |d|^2) / (|h| + |h'|):
    1 - c = |h m / |h| - d|^2 / (2 |h'|^2).
    """
    n = h.shape[0]
    hh = 0.0
    hd = 0.0
    dd = 0.0
    pp = 0.0
    for i in range(n):
        hi = np.float64(h[i])
        di = np.float64(d[i])
        hh += hi * hi
        hd += hi * di
        dd += di * di
        p = hi + di
        pp += p * p
    if dd == 0.0:
        return 0.0
    if hh == 0.0 or pp == 0.0:
        return 1.0
    nh = math.sqrt(hh)
    nhp = math.sqrt(pp)
    m = (2.0 * hd + dd) / (nh + nhp)
    f = m / nh
    acc = 0.0
    for i in range(n):
        w = f * np.float64(h[i]) - np.float64(d[i])
        acc += w * w
    r = acc / (2.0 * pp)
    return r if r < 2.0 else 2.0


init_pair = njit(cache=True)(_py_init_pair)
replica_rho = njit(cache=True)(_py_replica_rho)


# ------------------------------------------------------------------ gaussian (exact O(N)) method
def _py_act_gram(code, h, d, a_buf, e_buf):
    """Return the Gram sums ``(A, B, D)`` of ``a``, ``e`` of the current layer."""
    n = h.shape[0]
    A = 0.0
    B = 0.0
    D = 0.0
    for i0 in range(0, n, BLOCK):
        s1, s2, s3 = act_block(code, h, d, a_buf, e_buf, i0, min(i0 + BLOCK, n))
        A += s1
        B += s2
        D += s3
    return A, B, D


act_gram = njit(cache=True, error_model="numpy", fastmath={"contract"})(_py_act_gram)


def _py_transition(code, h, d, a_buf, e_buf, sw2n, sb2, A, B, D):
    """Return ``(sh, slope, sd)`` of the next layer's pre-activations given this layer's.

    Conditional on the layer, the next pre-activations ``(u_i, u'_i)`` are i.i.d. over units,
    bivariate normal with covariance ``sw2n Gram(a, a') + sb2``: ``u = sh z1`` and
    ``u' - u = slope u + sd z2``. ``(A, B, D)`` are the Gram sums ``|a|^2``, ``a.e``,
    ``|e|^2`` of ``a = phi(h)``, ``e = phi(h + d) - phi(h)``; the Gram determinant
    ``A D - B^2`` is recomputed as ``A |e - (B/A) a|^2`` when it cancels (``e`` nearly
    parallel to ``a``), which needs ``h``, ``d`` and the scratch buffers. Shared by the MLP
    and the residual MLP.
    """
    n = h.shape[0]
    # Gram determinant A D - B^2 without cancellation when e is nearly parallel to a
    G = A * D - B * B
    if A > 0.0 and G < 1e-6 * A * D:
        beta = B / A
        P = 0.0
        for i0 in range(0, n, BLOCK):
            i1 = min(i0 + BLOCK, n)
            act_block(code, h, d, a_buf, e_buf, i0, i1)  # recomputed: a rare branch
            P += resid_block(a_buf, e_buf, beta, 0, i1 - i0)
        G = A * P
    q11 = sw2n * A + sb2
    cov = sw2n * B
    if q11 > 0.0:
        slope = cov / q11
        vcond = sw2n * (sw2n * G + sb2 * D) / q11
        sh = math.sqrt(q11)
    else:
        slope = 0.0
        vcond = sw2n * D
        sh = 0.0
    sd = math.sqrt(vcond) if vcond > 0.0 else 0.0
    return sh, slope, sd


transition = njit(cache=True, inline="always", error_model="numpy",
                  fastmath={"contract"})(_py_transition)


def _py_gaussian_layer(code, h, d, a_buf, e_buf, key, sw2n, sb2, A, B, D):
    """One exact transition: (h, d) of the next layer given the current one, in place.

    On entry ``(A, B, D)`` are the Gram sums of ``a = phi(h)``, ``e = phi(h + d) - phi(h)``;
    the sums of the new layer are returned, computed block by block right after the block's
    normals (fused passes, every loop vectorised). ``a_buf``, ``e_buf``: scratch of at least
    ``min(n, BLOCK)`` entries.
    """
    n = h.shape[0]
    sh, alpha, sd = transition(code, h, d, a_buf, e_buf, sw2n, sb2, A, B, D)
    A = 0.0
    B = 0.0
    D = 0.0
    for i0 in range(0, n, BLOCK):
        i1 = min(i0 + BLOCK, n)
        for i in range(i0, i1):
            z1, z2 = normal_pair_vec(key, i)
            hn = sh * z1
            h[i] = hn
            d[i] = alpha * hn + sd * z2
        s1, s2, s3 = act_block(code, h, d, a_buf, e_buf, i0, i1)
        A += s1
        B += s2
        D += s3
    return A, B, D


gaussian_layer = njit(cache=True, error_model="numpy", fastmath={"contract"})(_py_gaussian_layer)


def _py_resid_block(a_buf, e_buf, beta, i0, i1):
    """``sum (e - beta a)^2`` over ``[i0, i1)`` (reassociated: vectorised)."""
    P = 0.0
    for i in range(i0, i1):
        r = e_buf[i] - beta * a_buf[i]
        P += r * r
    return P


resid_block = njit(cache=True, fastmath={"reassoc"}, error_model="numpy")(_py_resid_block)


def _py_gaussian_sample(code, n, sw2n, sb2, q0, rho0, times, s, seed, eps, h, d, a_buf, e_buf,
                        rho_s, rho2_s, surv_s, nact_s, b):
    """Run sample ``s`` and add its observables to row ``b`` of the output sums."""
    nt = times.shape[0]
    init_pair(h, d, sample_key(seed, s, STREAM_INPUT), 0, q0, rho0)
    kdyn = sample_key(seed, s, STREAM_DYNAMICS)
    A, B, D = act_gram(code, h, d, a_buf, e_buf)
    t = 0
    ti = 0
    while ti < nt:
        if t == times[ti]:
            r = replica_rho(h, d)
            rho_s[b, ti] += r
            rho2_s[b, ti] += r * r
            if r > eps:
                surv_s[b, ti] += 1.0
                nact_s[b, ti] += n * r
            ti += 1
            continue
        A, B, D = gaussian_layer(code, h, d, a_buf, e_buf, step_key(kdyn, t), sw2n, sb2, A, B, D)
        t += 1


gaussian_sample = njit(cache=True)(_py_gaussian_sample)


def _py_mlp_gaussian(code, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype_one):
    nb = edges.shape[0] - 1
    nt = times.shape[0]
    rho_s, rho2_s, surv_s, nact_s = alloc_sums(nb, nt)
    sw2n = sw * sw / n
    sb2 = sb * sb
    for b in prange(nb):
        h = np.empty(n, dtype=dtype_one.dtype)
        d = np.empty(n, dtype=dtype_one.dtype)
        a_buf = np.empty(BLOCK)
        e_buf = np.empty(BLOCK)
        for s in range(edges[b], edges[b + 1]):
            gaussian_sample(code, n, sw2n, sb2, q0, rho0, times, s, seed, eps, h, d, a_buf,
                            e_buf, rho_s, rho2_s, surv_s, nact_s, b)
    return rho_s, rho2_s, surv_s, nact_s


mlp_gaussian = njit(cache=True, parallel=True)(_py_mlp_gaussian)


# ------------------------------------------------------------------ explicit-weights method
def _py_fill_normals(out, key):
    """out.ravel()[k] = standard normal number k of the counter-based stream ``key``."""
    m = out.shape[0]
    n = out.shape[1]
    half = n // 2
    for i in prange(m):
        base = i * ((n + 1) // 2)
        for j in range(half):
            z1, z2 = normal_pair_fast(key, base + j)
            out[i, 2 * j] = z1
            out[i, 2 * j + 1] = z2
        if n % 2 == 1:
            z1, z2 = normal_pair_fast(key, base + half)
            out[i, n - 1] = z1


fill_normals = njit(cache=True, parallel=True)(_py_fill_normals)


def _py_act_pairs(code, h, d, x):
    """x[:, :K] = phi(h), x[:, K:] = phi(h + d) - phi(h) (accurate), for h, d of shape (N, K)."""
    n = h.shape[0]
    k = h.shape[1]
    for i in prange(n):
        for j in range(k):
            a, e = act_phi_diff(code, np.float64(h[i, j]), np.float64(d[i, j]))
            x[i, j] = a
            x[i, k + j] = e


act_pairs = njit(cache=True, parallel=True)(_py_act_pairs)


def _py_init_inputs(h, d, key, q0, rho0):
    n = h.shape[0]
    k = h.shape[1]
    hc = np.empty(n)
    dc = np.empty(n)
    for j in range(k):
        init_pair(hc, dc, key, j * n, q0, rho0)
        for i in range(n):
            h[i, j] = hc[i]
            d[i, j] = dc[i]


init_inputs = njit(cache=True)(_py_init_inputs)


def _py_rho_columns(h, d, out):
    k = h.shape[1]
    for j in range(k):
        out[j] = replica_rho(np.ascontiguousarray(h[:, j]), np.ascontiguousarray(d[:, j]))


rho_columns = njit(cache=True)(_py_rho_columns)


def mlp_weights(code, n, sw, sb, q0, rho0, times, edges, seed, eps, dtype, inputs,
                act_pairs_fn=None):
    """Explicit weights: W ~ N(0, sw^2/n) per layer, shared by both replicas and all inputs.

    Weights and biases of layer t of sample s are normals of the counter-based stream
    ``step_key(sample_key(seed, s, STREAM_WEIGHTS), t)``: W[i, j] is number ``i * n + j``
    (``n`` even) and b[i] number ``n * n + i`` (rounded up to whole pairs). Products use BLAS
    (NumPy ``matmul``).
    """
    act_pairs_fn = act_pairs if act_pairs_fn is None else act_pairs_fn
    nb = edges.shape[0] - 1
    nt = times.shape[0]
    out = {k: np.zeros((nb, nt)) for k in ("rho", "rho2", "survival", "n_active")}
    k = inputs
    W = np.empty((n, n), dtype=dtype)
    bias = np.empty((1, n), dtype=np.float64)
    h = np.empty((n, k), dtype=dtype)
    d = np.empty((n, k), dtype=dtype)
    x = np.empty((n, 2 * k), dtype=dtype)
    rr = np.empty(k)
    scale = sw / math.sqrt(n)
    bias_key_offset = n * ((n + 1) // 2)
    for b in range(nb):
        for s in range(int(edges[b]), int(edges[b + 1])):
            hh = np.empty((n, k))
            dd = np.empty((n, k))
            init_inputs(hh, dd, np.uint64(sample_key(seed, s, STREAM_INPUT)), q0, rho0)
            h[...] = hh
            d[...] = dd
            kw = np.uint64(sample_key(seed, s, STREAM_WEIGHTS))
            t = 0
            ti = 0
            while ti < nt:
                if t == times[ti]:
                    rho_columns(h.astype(np.float64), d.astype(np.float64), rr)
                    out["rho"][b, ti] += rr.mean()
                    out["rho2"][b, ti] += (rr * rr).mean()
                    alive = rr > eps
                    out["survival"][b, ti] += alive.mean()
                    out["n_active"][b, ti] += (n * rr * alive).mean()
                    ti += 1
                    continue
                key = np.uint64(step_key(kw, np.int64(t)))
                fill_normals(W, key)
                _bias(bias, key, bias_key_offset)
                act_pairs_fn(code, h, d, x)
                y = np.matmul(W, x)
                np.multiply(y[:, :k], scale, out=h)
                h += (sb * bias[0])[:, None].astype(dtype)
                np.multiply(y[:, k:], scale, out=d)
                t += 1
    return out


@njit(cache=True)
def _bias_nb(bias, key, offset):
    n = bias.shape[1]
    for i in range((n + 1) // 2):
        z1, z2 = normal_pair_fast(key, offset + i)
        bias[0, 2 * i] = z1
        if 2 * i + 1 < n:
            bias[0, 2 * i + 1] = z2


def _bias(bias, key, offset):
    _bias_nb(bias, np.uint64(key), np.int64(offset))


# ------------------------------------------------------------------ user activations
_USER_KERNELS: dict = {}


def compile_for(act):
    """Return ``(mlp_gaussian, act_pairs)`` compiled for a user activation (no disk cache)."""
    if act in _USER_KERNELS:
        return _USER_KERNELS[act]
    ns = user_namespace_cpu(act, globals())

    def rebind(fn, **kw):
        return rebind_njit(fn, ns, **kw)

    # the user activation's code (-1) never takes the built-in tanh path of act_block
    ns["act_block"] = rebind(_py_act_block, error_model="numpy", fastmath={"contract"})
    ns["act_gram"] = rebind(_py_act_gram, error_model="numpy", fastmath={"contract"})
    ns["transition"] = rebind(_py_transition, inline="always", error_model="numpy",
                              fastmath={"contract"})
    ns["gaussian_layer"] = rebind(_py_gaussian_layer, error_model="numpy",
                                  fastmath={"contract"})
    ns["gaussian_sample"] = rebind(_py_gaussian_sample)
    kern = rebind(_py_mlp_gaussian, parallel=True)
    pairs = rebind(_py_act_pairs, parallel=True)
    _USER_KERNELS[act] = (kern, pairs)
    return kern, pairs

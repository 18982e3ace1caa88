"""Counter-based random numbers: every draw is a pure function of its coordinates.

A draw is ``draw(key, index)`` where ``key = step_key(sample_key(seed, sample, stream), t)``.
The mixing function is the SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014); a
SplitMix64 stream *is* counter based (output ``i`` = ``mix64(state + i * GAMMA)``), which is
what makes results independent of the number of threads and lets the CUDA backend reproduce
the CPU trajectory bit for bit: the same Python functions are compiled by ``numba.njit`` here
and by ``numba.cuda.jit(device=True)`` in the CUDA kernels (their ``.py_func``).

All arithmetic is on ``uint64`` (Numba promotes ``uint64 op int64`` to float64, so every
constant is cast explicitly).
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_C_SAMPLE = np.uint64(0xD1B54A32D192ED03)
_C_STREAM = np.uint64(0x8CB92BA72F3D8DD7)
_C_T = np.uint64(0xABC98388FB8FAC03)
_ONE = np.uint64(1)
_TWO53 = 1.0 / 9007199254740992.0

# Named streams, so that independent uses of the same (seed, sample) never collide.
STREAM_DYNAMICS = 0
STREAM_INIT = 1
STREAM_WEIGHTS = 2
STREAM_INPUT = 3


def _py_mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _py_sample_key(seed, sample, stream):
    k = mix64(np.uint64(seed) * GAMMA + _C_STREAM * (np.uint64(stream) + _ONE))
    return mix64(k ^ ((np.uint64(sample) + _ONE) * _C_SAMPLE))


def _py_step_key(key, t):
    return mix64(key ^ ((np.uint64(t) + _ONE) * _C_T))


def _py_draw(key, index):
    return mix64(key + (np.uint64(index) + _ONE) * GAMMA)


def _py_to_unit(u):
    return np.float64(u >> _S11) * _TWO53


def _py_uniform(key, index):
    return to_unit(draw(key, index))


def _py_normal_pair(key, index):
    # Box-Muller from draws 2*index and 2*index+1; u1 in (0, 1] avoids log(0).
    i2 = np.uint64(index) * np.uint64(2)
    u1 = 1.0 - to_unit(draw(key, i2))
    u2 = to_unit(draw(key, i2 + _ONE))
    r = np.sqrt(-2.0 * np.log(u1))
    a = 6.283185307179586 * u2
    return r * np.cos(a), r * np.sin(a)


def _py_fixed_point(p):
    # Bernoulli threshold as a 64-bit fixed-point number: P(u < P) = P / 2**64, |error| < 2**-64.
    # p == 1 is handled by callers (all lanes set); here it saturates to 2**64 - 1.
    if p <= 0.0:
        return np.uint64(0)
    if p >= 1.0:
        return np.uint64(0xFFFFFFFFFFFFFFFF)
    hi = np.uint64(p * 4294967296.0)
    rest = p * 4294967296.0 - np.float64(hi)
    lo = np.uint64(rest * 4294967296.0)
    return (hi << np.uint64(32)) | lo


def _py_bernoulli_mask(key, index0, P, p_is_one, lanes):
    """64 independent Bernoulli(P / 2**64) bits, only for the lanes set in ``lanes``.

    Compares a uniform random number per lane with P, digit by digit from the most
    significant, one random word per digit, stopping once every lane of ``lanes`` is decided.
    Uses draws ``index0 .. index0 + 63``.
    """
    if p_is_one:
        return np.uint64(lanes)
    kk = np.uint64(key)
    PP = np.uint64(P)
    result = np.uint64(0)
    undecided = np.uint64(lanes)
    bit = np.uint64(63)
    k = np.uint64(0)
    zero = np.uint64(0)
    while undecided != zero:
        w = draw(kk, np.uint64(index0) + k)
        if (PP >> bit) & _ONE:
            # lanes whose random digit is 0 are below P: decided True
            result |= undecided & ~w
            undecided &= w
        else:
            # lanes whose random digit is 1 are above P: decided False
            undecided &= ~w
        if bit == zero or (PP & ((_ONE << bit) - _ONE)) == zero:
            break  # the remaining digits of P are 0: undecided lanes are >= P
        bit -= _ONE
        k += _ONE
    return result


_NAMES = ("mix64", "sample_key", "step_key", "draw", "to_unit", "uniform", "normal_pair",
          "fixed_point", "bernoulli_mask")

#: Pure-Python sources of the generator (they call each other through module globals).
PY_FUNCS = {name: globals()["_py_" + name] for name in _NAMES}


def compile_with(decorator):
    """Compile the generator with another Numba decorator, e.g. ``cuda.jit(device=True)``.

    Parameters
    ----------
    decorator : callable
        Applied to each pure-Python function; the functions' globals are rebound so that they
        call each other's compiled versions.

    Returns
    -------
    types.SimpleNamespace
        Attributes ``mix64``, ``sample_key``, ``step_key``, ``draw``, ``to_unit``, ``uniform``,
        ``normal_pair``, ``fixed_point``, ``bernoulli_mask``.
    """
    ns = dict(globals())
    out = {}
    for name in _NAMES:
        fn = PY_FUNCS[name]
        rebound = types.FunctionType(fn.__code__, ns, name, fn.__defaults__, fn.__closure__)
        out[name] = ns[name] = decorator(rebound)
    return types.SimpleNamespace(**out)


mix64 = njit(cache=True, inline="always")(_py_mix64)
sample_key = njit(cache=True, inline="always")(_py_sample_key)
step_key = njit(cache=True, inline="always")(_py_step_key)
draw = njit(cache=True, inline="always")(_py_draw)
to_unit = njit(cache=True, inline="always")(_py_to_unit)
uniform = njit(cache=True, inline="always")(_py_uniform)
normal_pair = njit(cache=True, inline="always")(_py_normal_pair)
fixed_point = njit(cache=True, inline="always")(_py_fixed_point)
bernoulli_mask = njit(cache=True)(_py_bernoulli_mask)


def uniforms(seed, sample, t, n, stream=STREAM_DYNAMICS):
    """Return ``n`` uniforms in [0, 1) for (seed, sample, t) — a NumPy helper for tests.

    Parameters
    ----------
    seed, sample, t : int
        Coordinates of the draw.
    n : int
        Number of uniforms (indices 0 .. n-1).
    stream : int
        Named stream.

    Returns
    -------
    numpy.ndarray
        float64 array of shape (n,).
    """
    return _uniforms_nb(np.int64(seed), np.int64(sample), np.int64(t), np.int64(n),
                        np.int64(stream))


@njit(cache=True)
def _uniforms_nb(seed, sample, t, n, stream):
    k = step_key(sample_key(seed, sample, stream), t)
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(k, i)
    return out

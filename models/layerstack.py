r"""Any layer stack as an absorbing process: benchmark your own network (NumPy or JAX).

A *layer stack* is a deep network given by two user functions,

``init(rng, width, **params)``
    the random parameters of one layer (any nest of tuples, lists, dicts and arrays), drawn
    from the generator ``rng`` that absorbphys hands in;
``apply(layer_params, h)``
    the next states of a batch of states ``h`` of shape ``(..., width)``,

and :meth:`LayerStack.define` turns them into a registered
:class:`~absorbphys.AbsorbingProcess` class. Two replicas — the same layers applied to two
inputs with correlation ``c0`` — propagate through depth (time); the order parameter is

.. math::

    \rho(l) = 1 - c(l) = \tfrac12 \left| \frac{h^l}{|h^l|} - \frac{h'^l}{|h'^l|} \right|^2,

the cosine distance of the two states (written as the distance of unit vectors, which keeps
full accuracy where ``1 - h.h'/(|h||h'|)`` would cancel). A sample counts as surviving while
``rho > eps``. With ``dim=1`` or ``2`` the state is a periodic grid of ``L`` sites per side
with ``channels`` channels, ``rho`` is the mean over sites of the local ``1 - c_x`` (as in
:class:`~absorbphys.models.cnn.CNN`), a sample survives while one site has ``rho_x > eps``,
and seed runs record ``n_active`` (sites with ``rho_x > eps``) and ``r2``.

Randomness
----------
Layer ``l`` of sample ``s`` draws from a generator keyed by the framework's counter-based
hash of ``(seed, s, l)`` (``step_key(sample_key(seed, s, STREAM_WEIGHTS), l)`` of
:mod:`absorbphys.kernels.rng`): NumPy stacks get ``numpy.random.Generator(Philox(key=k))``, JAX
stacks ``jax.random.fold_in(key_s, l)`` of the key ``key_s`` built from
``sample_key(seed, s, STREAM_WEIGHTS)``. Inputs use the stream ``STREAM_INPUT`` the same way
(the default Gaussian inputs are drawn with NumPy for both frameworks: a NumPy and a JAX
version of one stack see identical inputs). Results therefore depend only on ``(seed,
sample)``, never on batches, chunks or threads.

One file, past the ~600-line guide: the process class, its two paths (NumPy and JAX) and the
probe of the user's functions share the parameter handling and the key derivation (seed, sample,
layer); split, each path would import the other's private helpers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import keyword
import math
import re
import sys
from dataclasses import dataclass
from importlib import import_module
from typing import Any, ClassVar

import numpy as np
from numba import njit

import absorbphys
from absorbphys._params import Param, UsageError, short
from absorbphys._process import AbsorbingProcess
from absorbphys.kernels import rng as _rng
from absorbphys.models.meanfield import check_c0_init, init_rho

__all__ = ["LayerStack"]

STREAM_WEIGHTS = _rng.STREAM_WEIGHTS
STREAM_INPUT = _rng.STREAM_INPUT

#: Largest input variance, as for the built-in networks (``SIGMA_MAX**2``).
_Q0_MAX = 1e24
#: Framework parameters every stack has, after the user's (constructor order).
_COMMON = {
    "inputs": Param("int", 1, default=1, doc="input pairs per network draw (averaged over)"),
    "eps": Param("float", 0.0, default=1e-12, doc="absorption threshold on rho"),
    "q0": Param("float", 0.0, _Q0_MAX, low_open=True, default=1.0,
                doc="variance of the Gaussian inputs (layer 0)"),
    "seed_rho": Param("float", 0.0, 2.0, low_open=True, default=1e-6,
                      doc="1 - c0 of the 'seed' initial condition"),
    "dtype": Param("str", choices=("float64", "float32"), default="float64",
                   doc="storage precision of the states"),
}
_SIZE_0 = {"width": Param("int", 2, doc="number of units N (system size)")}
_SIZE_D = {"L": Param("int", 2, doc="grid side (spatial system size)"),
           "channels": Param("int", 1, doc="channels per site (local width)")}
_TYPES = {"float": float, "int": int, "str": str, "bool": bool, "callable": object}
#: Memory for the states and per-sample layer parameters of one chunk of samples (bytes).
_CHUNK_BYTES = 64 * 2**20
#: Most samples advanced together by the NumPy path (one chunk of states).
_MAX_CHUNK = 64
#: Most samples per compiled JAX call (the ``vmap`` width). The width is a power of two set by
#: :data:`_JAX_BYTES` and the stack's parameters only, never by the batching, so every sample
#: of a stack runs in the same program (a batched matrix product can round differently from
#: an unbatched one).
_JAX_CHUNK = 8
#: Layer parameters and states one vmapped JAX call may hold (bytes). On CPU ``vmap`` pays only
#: for small layers (width 64: 1.3-1.6x the throughput of one sample per call); from width
#: ~256 on, batched random draws and matrix products are slower than one sample at a time
#: (width 1024: 1.1-1.5x), so larger stacks run one sample per call, without ``vmap``.
_JAX_BYTES = 512 * 2**10
#: Stacks made by :meth:`LayerStack.define`, by registry name (rebuilt in worker processes).
_DEFINED: dict[str, type] = {}
_JAX_HINT = "pip install 'absorbphys[jax]'"


# ------------------------------------------------------------------ keys
@njit(cache=True)
def _layer_keys(seed, samples, stream, t):
    """``step_key(sample_key(seed, s, stream), t)`` for each sample ``s`` (uint64)."""
    out = np.empty(samples.shape[0], dtype=np.uint64)
    for i in range(samples.shape[0]):
        out[i] = _rng.step_key(_rng.sample_key(seed, samples[i], stream), t)
    return out


@njit(cache=True)
def _sample_keys(seed, samples, stream):
    """``sample_key(seed, s, stream)`` for each sample ``s`` (uint64)."""
    out = np.empty(samples.shape[0], dtype=np.uint64)
    for i in range(samples.shape[0]):
        out[i] = _rng.sample_key(seed, samples[i], stream)
    return out


def _generator(key) -> np.random.Generator:
    """Return a NumPy generator keyed by a 64-bit counter hash (Philox: no seed sequence)."""
    return np.random.Generator(np.random.Philox(key=int(key)))


def _key_words(keys):
    """uint64 keys -> uint32 pairs ``(high, low)``: threefry key data for JAX."""
    keys = np.asarray(keys, dtype=np.uint64)
    return np.stack([(keys >> np.uint64(32)).astype(np.uint32),
                     (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)], axis=-1)


# ------------------------------------------------------------------ helpers
def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _import_jax():
    try:  # deferred: JAX is an optional extra (and slow to import)
        import jax
    except ImportError:
        raise UsageError(f"framework='jax' needs JAX, which is not installed: {_JAX_HINT}") \
            from None
    return jax


def _x64(jax, on: bool):
    """Context manager turning JAX's 64-bit mode on (float64 stacks) for tracing and runs."""
    if not on:
        return contextlib.nullcontext()
    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # older JAX
        from jax.experimental import enable_x64 as enable  # deferred: optional dependency
    return enable(True)


def _class_name(name: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Stack"
    return out if out[0].isalpha() else "Stack" + out


def _accepted(fn, names):
    """Return the ``names`` that ``fn`` takes as keywords (all of them with ``**kw``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return tuple(names)
    ps = sig.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in ps):
        return tuple(names)
    named = {p.name for p in ps if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return tuple(n for n in names if n in named)


def _check_signature(stack, what, fn, npos, kw, names):
    """Refuse a function that cannot be called as ``fn(*npos args, **kw)`` (one line)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*([None] * npos), **{k: None for k in kw})
    except TypeError as exc:
        pos = "layer_params, h" if what == "apply" else "rng"
        raise UsageError(f"layer stack {stack!r}: {what} is called as {what}({pos}, **kw) "
                         f"with keywords among ({', '.join(names)}); its signature {sig} does "
                         f"not fit ({exc})") from None


def _one_minus_c(a, b, axis=-1):
    """``1 - cos(a, b)`` along ``axis`` as ``|a/|a| - b/|b||^2 / 2`` (float64, overflow-safe).

    Returns ``(rho, finite)``; ``rho`` is 0 where both vectors vanish and 1 where one does.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    sa = np.max(np.abs(a), axis=axis, keepdims=True)
    sb = np.max(np.abs(b), axis=axis, keepdims=True)
    finite = bool(np.isfinite(sa).all() and np.isfinite(sb).all())
    if not finite:
        return None, False
    za, zb = sa == 0, sb == 0
    ua = a / np.where(za, 1.0, sa)
    ub = b / np.where(zb, 1.0, sb)
    na = np.sqrt(np.sum(ua * ua, axis=axis, keepdims=True))
    nb = np.sqrt(np.sum(ub * ub, axis=axis, keepdims=True))
    diff = ua / np.where(za, 1.0, na) - ub / np.where(zb, 1.0, nb)
    r = 0.5 * np.sum(diff * diff, axis=axis)
    za, zb = np.squeeze(za, axis), np.squeeze(zb, axis)
    r = np.where(za & zb, 0.0, np.where(za | zb, 1.0, r))
    return np.minimum(r, 2.0), True


def _site_r2(L, dim):
    """Squared minimum-image distance of every site from site 0, shape ``(L,) * dim``."""
    x = np.arange(L)
    a = np.minimum(x, L - x).astype(np.float64) ** 2
    return a if dim == 1 else a[:, None] + a[None, :]


# ------------------------------------------------------------------ the spec of a stack
@dataclass(frozen=True, eq=False)
class _Spec:
    """What :meth:`LayerStack.define` was given (one per defined class)."""

    init: Any
    apply: Any
    sample_input: Any
    framework: str
    user: tuple          # user parameter names, constructor order
    init_kw: tuple       # size + user parameter names passed to init / sample_input
    apply_kw: tuple      # the subset of them apply takes
    input_kw: tuple
    probe_size: int | None
    probed: set = dataclasses.field(default_factory=set)
    #: JAX: whether float parameters must be compiled in as constants (set by the first
    #: probe: True when ``init``/``apply`` branch on them in Python, so tracing them fails)
    flags: dict = dataclasses.field(default_factory=dict)


class LayerStack(AbsorbingProcess):
    """A user-defined network (a stack of random layers) as an absorbing process.

    Not instantiated directly: :meth:`define` builds a subclass from two functions, ``init``
    (one layer's random parameters) and ``apply`` (one layer), and registers it.

    Parameters
    ----------
    *args, **kwargs
        The constructor arguments of a defined stack (positional in this order, or by name):

        ``width`` (``dim=0``) or ``L`` and ``channels`` (``dim`` 1 or 2)
            System size: units, or grid side and channels per site.
        the user's parameters
            As declared with :class:`~absorbphys.Param` in :meth:`define` (e.g.
            ``sigma_w``, ``sigma_b``); validated, sweepable, recorded in the Dataset.
        ``inputs`` : int
            Input pairs sharing one network draw (default 1); per-sample observables are
            averages over the pairs. ``apply`` then sees ``2 * inputs`` states.
        ``eps`` : float
            Absorption threshold (default 1e-12): a pair survives while ``rho > eps`` (per
            site for spatial stacks).
        ``q0`` : float
            Variance of the Gaussian inputs (default 1); absent when the stack has its own
            input sampler.
        ``seed_rho`` : float
            ``1 - c0`` of the ``"seed"`` initial condition (default 1e-6).
        ``dtype`` : {"float64", "float32"}
            Storage precision of the states (``rho`` is computed in float64 for NumPy
            stacks).

    Notes
    -----
    Layer 0 holds the inputs: two states ``x1``, ``x2`` drawn independently (``N(0, q0)``
    per unit, or the user's ``sample_input``) and the pair ``h = x1``,
    ``h' = c0 x1 + sqrt(1 - c0**2) x2``. Initial conditions: ``"full"`` (``c0 = 0``),
    ``"seed"`` (``c0 = 1 - seed_rho``; spatial stacks perturb site 0 only) or a float ``c0``
    in [-1, 1]. ``apply`` receives ``h`` of shape ``(2 * inputs, *state)``: the first
    ``inputs`` states are the first replica, the rest the second, so one call (one matrix
    product) advances both replicas. Seed runs of ``dim=0`` stacks record ``n_active =
    width * rho`` for surviving pairs (the complete-graph convention of
    :class:`~absorbphys.models.mlp.MLP`) and no ``r2``.

    The replicas are propagated separately, so ``rho`` is resolved down to about
    ``(machine epsilon)**2``, ~1e-32 in float64 and ~1e-14 in float32 (the built-in MLP
    propagates the difference and reaches 1e-300): keep ``eps`` above that.
    """

    _spec: ClassVar[_Spec | None] = None
    time_unit: ClassVar[str] = "layer"
    backends: ClassVar[tuple] = ("cpu",)

    # ------------------------------------------------------------------ definition
    @classmethod
    def define(cls, name, init, apply, params=None, control=None, *, dim=0,
               sample_input=None, framework="numpy", class_name=None, doc="",
               probe_size=8, register=True, module=None):
        """Build (and register) an :class:`~absorbphys.AbsorbingProcess` class from a layer.

        The class runs two replicas through ``init``/``apply`` layers, one fresh layer per
        depth step, and records ``rho = 1 - c``; it works with
        :func:`~absorbphys.simulate`, :func:`~absorbphys.sweep` and the analysis like a
        built-in model.

        Parameters
        ----------
        name : str
            Registry name (the ``model`` attribute of Datasets, ``ap.get_model(name)``,
            ``ap.sweep(name, ...)``). Built-in names are refused; defining a name again
            replaces the earlier stack (re-running a notebook cell).
        init : callable
            ``init(rng, width, **params)`` (``dim=0``) or ``init(rng, L, channels,
            **params)``: every size and user parameter is passed as a keyword. Returns one
            layer's parameters: any nest of tuples, lists, dicts and arrays. ``rng`` is a
            :class:`numpy.random.Generator` (NumPy) or a JAX PRNG key (``framework="jax"``)
            keyed by ``(seed, sample, layer)``; draw only from it.
        apply : callable
            ``apply(layer_params, h)`` returns the next states, same shape as ``h``
            ``(..., width)`` (or ``(..., L, channels)``, ``(..., L, L, channels)``), acting on
            each state along the last axes and broadcasting over the leading ones. It may
            also take size or user parameters by name (``apply(p, h, sigma_b)``): they are
            passed as keywords (static values under ``jax.jit``).
        params : dict of str to Param, optional
            The user parameters of ``init`` (and ``apply``), in constructor order (those
            with a default after those without, then the framework's), e.g.
            ``{"sigma_w": Param("float", 0, 100), "sigma_b": Param("float", 0, 100,
            default=0.0)}``; ``Param(..., default=x)`` makes one optional.
        control : str, optional
            The control parameter (one of ``params``, a number); default: the first float
            parameter.
        dim : {0, 1, 2}
            0: a vector of ``width`` units (MLP-like). 1 or 2: a periodic grid of side ``L``
            with ``channels`` channels per site (CNN-like; local order parameter).
        sample_input : callable, optional
            ``sample_input(rng, width, **params)`` returning one input state (shape as
            ``apply``'s states); replaces the Gaussian inputs and their ``q0`` parameter. Two
            independent draws ``x1, x2`` give the pair ``x1, c0 x1 + sqrt(1 - c0**2) x2``.
        framework : {"numpy", "jax"}
            NumPy functions called sample by sample, or JAX functions compiled with
            ``jax.jit`` and vectorised over samples with ``jax.vmap`` (needs the extra:
            ``pip install 'absorbphys[jax]'``).
        class_name : str, optional
            ``__name__`` of the class (default: ``name`` in CamelCase).
        doc : str
            First line of the class docstring.
        probe_size : int or None
            Every new parameter set is checked by running one layer at this width (or
            ``L``; at most the real size; default 8): exceptions, a wrong output shape,
            non-finite values, states that influence each other and an ``init`` that does
            not draw from ``rng`` give a one-line :class:`~absorbphys.UsageError`. ``None``
            skips the probe.
        register : bool
            Register the class under ``name`` (default True).
        module : str, optional
            Module the class belongs to (default: the caller's). Worker processes of
            :func:`~absorbphys.sweep` import it to rebuild the stack.

        Returns
        -------
        type
            A frozen-dataclass subclass of :class:`LayerStack`; instances are built from
            keyword (or positional) arguments, e.g. ``MyMLP(width=256, sigma_w=1.4,
            sigma_b=0.3)``.

        Raises
        ------
        UsageError
            On a bad definition (one line naming the argument).

        Notes
        -----
        A stack defined at module level of an importable module (or of a script run as
        ``python script.py``) works with ``sweep(..., workers=n)``: instances pickle as
        ``(module, name, parameters)`` and a worker imports the module, which defines the
        stack again. A stack defined in a notebook or an interactive session runs
        in-process (``sweep`` falls back to one worker).

        Examples
        --------
        >>> import numpy as np
        >>> import absorbphys as ap
        >>> def init(rng, width, sigma_w, sigma_b):
        ...     W = rng.standard_normal((width, width)) * (sigma_w / np.sqrt(width))
        ...     return W, rng.standard_normal(width) * sigma_b
        >>> def apply(layer, h):
        ...     W, b = layer
        ...     return np.tanh(h) @ W.T + b
        >>> TanhMLP = LayerStack.define(
        ...     "tanh_mlp", init, apply, control="sigma_w",
        ...     params={"sigma_w": ap.Param("float", 0, 100),
        ...             "sigma_b": ap.Param("float", 0, 100, default=0.0)})
        >>> ds = ap.simulate(TanhMLP(width=64, sigma_w=1.4, sigma_b=0.3), t_max=20,
        ...                  samples=8)  # doctest: +SKIP
        """
        if cls is not LayerStack:
            raise UsageError("call LayerStack.define(...), not define() of a defined stack")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
            raise UsageError(f"name must be a registry name (letters, digits, '_', '-', '.'), "
                             f"got {short(name)}")
        old = None
        if register:
            try:
                old = absorbphys.get_model(name)
            except UsageError:
                pass
        if old is not None and not (isinstance(old, type) and issubclass(old, LayerStack)):
            raise UsageError(f"name {name!r} is taken by the model {old.__module__}."
                             f"{old.__qualname__}; choose another name")
        for what, fn in (("init", init), ("apply", apply)):
            if not callable(fn):
                raise UsageError(f"layer stack {name!r}: {what} must be a function, "
                                 f"got {short(fn)}")
        if sample_input is not None and not callable(sample_input):
            raise UsageError(f"layer stack {name!r}: sample_input must be a function or None, "
                             f"got {short(sample_input)}")
        if framework not in ("numpy", "jax"):
            raise UsageError(f"framework must be one of 'numpy', 'jax', got {short(framework)}")
        if framework == "jax":
            _import_jax()
        if isinstance(dim, bool) or dim not in (0, 1, 2):
            raise UsageError(f"dim must be one of 0, 1, 2, got {short(dim)}")
        if probe_size is not None and (isinstance(probe_size, bool)
                                       or not isinstance(probe_size, int) or probe_size < 2):
            raise UsageError(f"probe_size must be an integer >= 2 or None, got "
                             f"{short(probe_size)}")
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise UsageError(f"params must be a dict {{name: Param}}, got {short(params)}")
        sizes = dict(_SIZE_0 if dim == 0 else _SIZE_D)
        common = {k: v for k, v in _COMMON.items() if not (k == "q0" and sample_input)}
        reserved = set(sizes) | set(common) | {n for n in dir(LayerStack)}
        for pname, spec in params.items():
            if not isinstance(pname, str) or not pname.isidentifier() \
                    or keyword.iskeyword(pname) or pname.startswith("_"):
                raise UsageError(f"params: {short(pname)} is not a valid parameter name "
                                 "(a Python identifier not starting with '_')")
            if pname in reserved:
                raise UsageError(f"params: {pname!r} is reserved by LayerStack; rename it")
            if not isinstance(spec, Param):
                raise UsageError(f"params: {pname} must be a Param (e.g. Param('float', 0, "
                                 f"100)), got {short(spec)}")
        if control is None:
            control = next((p for p, s in params.items() if s.kind == "float"), None) \
                or next((p for p, s in params.items() if s.kind == "int"), "")
        elif control not in params or params[control].kind not in ("float", "int"):
            numeric = [p for p, s in params.items() if s.kind in ("float", "int")]
            raise UsageError(f"control must be one of the numeric params "
                             f"({', '.join(numeric) or 'none'}), got {short(control)}")
        required = [p for p, s in params.items() if s.default is None]
        optional = [p for p, s in params.items() if s.default is not None]
        user = tuple(required + optional)
        names = tuple(sizes) + user
        init_kw = _accepted(init, names)
        _check_signature(name, "init", init, 1, init_kw, names)
        apply_kw = _accepted(apply, names)
        _check_signature(name, "apply", apply, 2, apply_kw, names)
        input_kw = ()
        if sample_input is not None:
            input_kw = _accepted(sample_input, names)
            _check_signature(name, "sample_input", sample_input, 1, input_kw, names)

        fields = []
        all_params = {}
        for pname in tuple(sizes) + user + tuple(common):
            spec = sizes.get(pname) or params.get(pname) or common[pname]
            typ = _TYPES.get(spec.kind, object)
            if spec.default is None:
                fields.append((pname, typ))
            else:
                fields.append((pname, typ, dataclasses.field(default=spec.default)))
            all_params[pname] = spec
        if module is None:
            module = sys._getframe(1).f_globals.get("__name__", "__main__")
        cname = class_name or _class_name(name)
        if not (isinstance(cname, str) and cname.isidentifier()):
            raise UsageError(f"class_name must be a Python identifier, got {short(cname)}")
        spec = _Spec(init=init, apply=apply, sample_input=sample_input, framework=framework,
                     user=user, init_kw=init_kw, apply_kw=apply_kw, input_kw=input_kw,
                     probe_size=probe_size)
        doc_line = doc.strip().splitlines()[0] if doc and doc.strip() else \
            f"Layer stack {name!r} ({framework}) as an absorbing process."
        lines = [doc_line, "", "Parameters", "----------"]
        for pname, p in all_params.items():
            lines += [f"{pname} : {p.kind}", f"    {p.doc or 'user parameter'}: "
                      f"{p.describe()}" + (f" (default {p.default!r})."
                                           if p.default is not None else ".")]
        ns = {
            "__module__": module,
            "__doc__": "\n".join(lines),
            "name": name,
            "params": all_params,
            "control": control,
            "size_param": "width" if dim == 0 else "L",
            "seed_observables": ("n_active",) if dim == 0 else ("n_active", "r2"),
            "dim": dim,
            "_spec": spec,
        }
        new = dataclasses.make_dataclass(cname, fields, bases=(LayerStack,), namespace=ns,
                                         frozen=True)
        new.__qualname__ = cname
        if all(params[p].default is not None for p in user) and probe_size is not None:
            probe = {p: all_params[p].check(p, all_params[p].default)
                     for p in all_params if p not in sizes}
            probe.update({k: probe_size for k in sizes})
            new._probe_values(probe)
        _DEFINED[name] = new
        if register:
            absorbphys.register(new)
        return new

    # ------------------------------------------------------------------ interface
    def __init__(self, *args, **kwargs):
        raise TypeError("LayerStack is built with LayerStack.define(name, init, apply, "
                        "params=...), not instantiated directly")

    def __post_init__(self):
        if type(self)._spec is None:
            raise TypeError("LayerStack is built with LayerStack.define(name, init, apply, "
                            "params=...), not instantiated directly")
        super().__post_init__()

    def __reduce__(self):
        """Pickle as ``(module, name, parameters)``: workers rebuild the class by importing."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _rebuild, (type(self).__module__, type(self).name, values)

    def _check(self):
        spec = type(self)._spec
        if spec.probe_size is None:
            return
        vals = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        size_names = ("width",) if self.dim == 0 else ("L",)
        for k in size_names:
            vals[k] = min(vals[k], spec.probe_size)
        type(self)._probe_values(vals)

    def _check_init(self, init):
        return check_c0_init(init)

    def _state_bytes(self):
        # states of one sample (both replicas); the layer parameters are the user's
        return 2 * int(self.inputs) * self._state_size() * np.dtype(self.dtype).itemsize

    def is_absorbed(self, rho):
        """Return whether ``rho <= eps`` (the finite-width absorption threshold).

        Parameters
        ----------
        rho : float or array_like
            Order parameter value(s).

        Returns
        -------
        bool or numpy.ndarray
        """
        return np.asarray(rho) <= self.eps

    # ------------------------------------------------------------------ pieces
    def _shape(self):
        if self.dim == 0:
            return (int(self.width),)
        return (int(self.L),) * self.dim + (int(self.channels),)

    def _state_size(self):
        return int(np.prod(self._shape()))

    def _user_values(self, names):
        return {k: getattr(self, k) for k in names}

    @classmethod
    def _probe_values(cls, vals):
        """Run one layer at a small size with ``vals``; raise a one-line UsageError."""
        spec = cls._spec
        key = tuple(sorted((k, repr(v)) for k, v in vals.items()
                           if k not in ("eps", "seed_rho", "inputs", "q0")))
        if key in spec.probed:
            return
        probe = cls.__new__(cls)   # a bare instance: only the attributes the probe needs
        for k, v in vals.items():
            object.__setattr__(probe, k, v)
        where = ", ".join(f"{k}={vals[k]}" for k in (("width",) if cls.dim == 0
                                                      else ("L", "channels")))
        if spec.framework == "jax":
            _probe_jax(probe, where)
        else:
            _probe_numpy(probe, where)
        if len(spec.probed) < 1024:
            spec.probed.add(key)

    def _inputs(self, samples, init, seed, jax=None):
        """Layer-0 states ``(S, 2 K, *shape)`` of the given samples, storage dtype."""
        spec = type(self)._spec
        K = int(self.inputs)
        shape = self._shape()
        c0 = 1.0 - init_rho(init, self.seed_rho)
        s0 = math.sqrt(max(0.0, 1.0 - c0 * c0))
        keys = _sample_keys(np.int64(seed), np.asarray(samples, dtype=np.int64),
                            np.int64(STREAM_INPUT))
        x = np.empty((len(samples), 2, K) + shape, dtype=np.float64)
        if spec.sample_input is None:
            sq = math.sqrt(self.q0)
            for i, k in enumerate(keys):
                x[i] = np.moveaxis(_generator(k).standard_normal((K, 2) + shape), 0, 1) * sq
        elif spec.framework == "jax":
            x[:] = _jax_inputs(self, jax, keys, K)
        else:
            kw = self._user_values(spec.input_kw)
            for i, k in enumerate(keys):
                rng = _generator(k)
                for j in range(K):
                    for r in range(2):
                        v = _call(self, "sample_input", spec.sample_input, (rng,), kw,
                                  f"sample {samples[i]}")
                        x[i, r, j] = _as_state(self, "sample_input", v, shape)
        a = x[:, 0]
        b = x[:, 1]
        if init == "seed" and self.dim > 0:   # the replicas differ at site 0 only
            site0 = (slice(None), slice(None)) + (0,) * self.dim
            b2 = a.copy()
            b2[site0] = c0 * a[site0] + s0 * b[site0]
            b = b2
        else:
            b = c0 * a + s0 * b if s0 > 0.0 else c0 * a
        out = np.concatenate([a, b], axis=1)
        return out.astype(np.dtype(self.dtype))

    def _observe(self, x, init):
        """Per-sample observables of states ``x`` (S, 2K, *shape) -> dict of (S,) arrays."""
        K = int(self.inputs)
        r, ok = _one_minus_c(x[:, :K], x[:, K:])
        if not ok:
            return None
        if self.dim == 0:
            alive = r > self.eps
            out = {"rho": r.mean(1), "rho2": (r * r).mean(1), "survival": alive.mean(1)}
            if init == "seed":
                out["n_active"] = (self.width * r * alive).mean(1)
            return out
        axes = tuple(range(2, 2 + self.dim))
        alive = r > self.eps
        nact = alive.sum(axis=axes)
        rp = r.mean(axis=axes)
        out = {"rho": rp.mean(1), "rho2": (rp * rp).mean(1), "survival": (nact > 0).mean(1)}
        if init == "seed":
            out["n_active"] = nact.mean(1).astype(np.float64)
            out["r2"] = (alive * _site_r2(int(self.L), self.dim)).sum(axis=axes).mean(1)
        return out

    def _chunk(self, param_bytes=0, most=_MAX_CHUNK, budget=_CHUNK_BYTES):
        per = self._state_bytes() * 3 + int(param_bytes)
        return int(max(1, min(most, budget // max(per, 1))))

    def _run(self, backend, times, sample_edges, init, seed):
        times = np.asarray(times, dtype=np.int64)
        edges = np.asarray(sample_edges, dtype=np.int64)
        names = ("rho", "rho2", "survival") + (
            (("n_active",) if self.dim == 0 else ("n_active", "r2")) if init == "seed" else ())
        nb, nt = len(edges) - 1, len(times)
        sums = {k: np.zeros((nb, nt)) for k in names}
        samples = np.arange(edges[0], edges[-1], dtype=np.int64)
        batch_of = np.searchsorted(edges, samples, side="right") - 1
        if type(self)._spec.framework == "jax":
            _run_jax(self, times, samples, batch_of, sums, init, seed)
        else:
            _run_numpy(self, times, samples, batch_of, sums, init, seed)
        return sums


def _rebuild(module, name, values):
    """Unpickle a stack: define it again by importing its module if needed.

    A worker process that cannot (a stack defined in a function) gets a stand-in that raises
    the reason as a one-line UsageError when run, which the sweep then reports (an exception
    while unpickling would kill the worker instead).
    """
    cls = _DEFINED.get(name)
    if cls is None:
        try:
            import_module(module)
        except Exception as exc:
            return _Unavailable(f"layer stack {name!r}: cannot import its module {module!r} "
                                f"({_first_line(exc)}); define stacks in an importable "
                                "module to run them in worker processes, or use workers=1")
        cls = _DEFINED.get(name)
    if cls is None:
        return _Unavailable(f"layer stack {name!r} is not defined by importing module "
                            f"{module!r}; call LayerStack.define(...) at its top level to run "
                            "it in worker processes, or use workers=1")
    return cls(**values)


@dataclass(frozen=True)
class _Unavailable(AbsorbingProcess):
    """Stand-in for a stack that a worker process could not rebuild: raises when run."""

    message: str = ""
    name: ClassVar[str] = "_unavailable"
    params: ClassVar[dict] = {"message": Param("str")}

    def _check_init(self, init):
        raise UsageError(self.message)

    def _run(self, backend, times, sample_edges, init, seed):
        raise UsageError(self.message)


# ------------------------------------------------------------------ calling user code
def _call(stack, what, fn, args, kw, where):
    """Call a user function; any exception becomes a one-line UsageError naming it."""
    try:
        return fn(*args, **kw)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"layer stack {type(stack).name!r}: {what} raised "
                         f"{_first_line(exc)} ({where})") from None


def _as_state(stack, what, v, shape, where="probe"):
    try:
        arr = np.asarray(v)
    except Exception as exc:
        raise UsageError(f"layer stack {type(stack).name!r}: {what} must return an array, "
                         f"got {short(type(v).__name__)} ({_first_line(exc)})") from None
    if arr.shape != tuple(shape):
        raise UsageError(f"layer stack {type(stack).name!r}: {what} returned shape "
                         f"{arr.shape} for states of shape {tuple(shape)}; it must return "
                         f"the same shape ({where})")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise UsageError(f"layer stack {type(stack).name!r}: {what} returned dtype "
                         f"{arr.dtype}; it must return real numbers ({where})")
    return arr


def _check_finite(stack, what, arr, where):
    if not np.all(np.isfinite(arr)):
        bad = "nan" if np.isnan(arr).any() else "inf"
        raise UsageError(f"layer stack {type(stack).name!r}: {what} returned non-finite "
                         f"values ({bad}) ({where})")


def _probe_states(stack, shape):
    rng = np.random.default_rng(12345)
    return rng.standard_normal((2,) + tuple(shape)).astype(np.dtype(stack.dtype))


def _probe_numpy(stack, where_sizes):
    spec = type(stack)._spec
    where = f"probe at {where_sizes}"
    shape = stack._shape()
    kw = stack._user_values(spec.init_kw)
    akw = stack._user_values(spec.apply_kw)
    p1 = _call(stack, "init", spec.init, (_generator(1),), kw, where)
    p2 = _call(stack, "init", spec.init, (_generator(1),), kw, where)
    h = _probe_states(stack, shape)
    y = _as_state(stack, "apply", _call(stack, "apply", spec.apply, (p1, h), akw, where),
                  h.shape, where)
    _check_finite(stack, "apply", y, where)
    y2 = np.asarray(_call(stack, "apply", spec.apply, (p2, h), akw, where))
    if not np.array_equal(y, y2):
        raise UsageError(f"layer stack {type(stack).name!r}: one layer run twice from equal "
                         "generators gave different states; draw every random number of init "
                         f"from its rng argument (not np.random) and keep apply deterministic "
                         f"({where})")
    y0 = _as_state(stack, "apply", _call(stack, "apply", spec.apply, (p1, h[:1]), akw, where),
                   h[:1].shape, where + ", one state")
    _check_mixing(stack, y, y0)
    if spec.sample_input is not None:
        ikw = stack._user_values(spec.input_kw)
        v = _call(stack, "sample_input", spec.sample_input, (_generator(2),), ikw, where)
        _check_finite(stack, "sample_input", _as_state(stack, "sample_input", v, shape, where),
                      where)


def _check_mixing(stack, y, y0):
    """Refuse an ``apply`` whose output for state 0 depends on the other states of a batch."""
    y, y0 = np.asarray(y[:1], dtype=np.float64), np.asarray(y0, dtype=np.float64)
    scale = float(np.max(np.abs(y))) if y.size else 0.0
    tol = 1e-4 if stack.dtype == "float32" else 1e-9
    if not np.allclose(y0, y, rtol=tol, atol=tol * scale):
        raise UsageError(f"layer stack {type(stack).name!r}: apply mixes the states of a "
                         "batch (apply(p, h)[:1] differs from apply(p, h[:1])); it must act "
                         "on the last axes of each state (e.g. axis=-1) and broadcast over "
                         "the leading ones")


# ------------------------------------------------------------------ NumPy path
def _run_numpy(stack, times, samples, batch_of, sums, init, seed):
    spec = type(stack)._spec
    name = type(stack).name
    kw = stack._user_values(spec.init_kw)
    akw = stack._user_values(spec.apply_kw)
    shape = (2 * int(stack.inputs),) + stack._shape()
    dt = np.dtype(stack.dtype)
    t_max = int(times[-1])
    chunk = stack._chunk()
    seed64 = np.int64(seed)
    stream = np.int64(STREAM_WEIGHTS)
    init_fn, apply_fn = spec.init, spec.apply
    for c0 in range(0, len(samples), chunk):
        ss = samples[c0:c0 + chunk]
        bs = batch_of[c0:c0 + chunk]
        states = list(stack._inputs(ss, init, seed))
        ti = 0
        for t in range(t_max + 1):
            if t == times[ti]:
                obs = stack._observe(np.stack(states), init)
                if obs is None:
                    bad = next(i for i, x in enumerate(states) if not np.isfinite(x).all())
                    raise UsageError(f"layer stack {name!r}: non-finite states (overflow or "
                                     f"nan) by layer {t} of sample {ss[bad]}; apply must keep "
                                     "the states finite (lower t_max or the weights' scale)")
                for k, v in obs.items():
                    np.add.at(sums[k][:, ti], bs, v)
                ti += 1
                if ti == len(times):
                    break
            keys = _layer_keys(seed64, ss, stream, np.int64(t))
            for i in range(len(ss)):
                what = "init"
                try:
                    p = init_fn(_generator(keys[i]), **kw)
                    what = "apply"
                    y = apply_fn(p, states[i], **akw)
                except UsageError:
                    raise
                except Exception as exc:
                    raise UsageError(f"layer stack {name!r}: {what} raised {_first_line(exc)} "
                                     f"(layer {t} of sample {ss[i]})") from None
                if type(y) is not np.ndarray or y.shape != shape:
                    y = _as_state(stack, "apply", y, shape, f"layer {t} of sample {ss[i]}")
                states[i] = y if y.dtype == dt else y.astype(dt)


# ------------------------------------------------------------------ JAX path
def _dynamic_names(stack):
    """Float parameters passed to the compiled JAX program as arguments (not constants)."""
    cls = type(stack)
    if cls._spec.flags.get("static_floats", False):
        return ()
    return tuple(n for n in cls._spec.user if cls.params[n].kind == "float")


def _split_kw(stack, names, dynamic, traced=None):
    """Keyword arguments ``names``: static values, with ``dynamic`` ones from ``traced``."""
    if traced is None:
        return stack._user_values(names)
    return {k: traced[k] if k in dynamic else getattr(stack, k) for k in names}


def _probe_jax(stack, where_sizes):
    jax = _import_jax()
    jnp = jax.numpy
    cls = type(stack)
    spec = cls._spec
    where = f"probe at {where_sizes}"
    shape = stack._shape()
    kw = stack._user_values(spec.init_kw)
    akw = stack._user_values(spec.apply_kw)
    key = jax.random.wrap_key_data(np.array([0, 1], dtype=np.uint32), impl="threefry2x32")
    floats = tuple(n for n in spec.user if cls.params[n].kind == "float")
    with _x64(jax, stack.dtype == "float64"), jax.default_device(jax.devices("cpu")[0]):
        h = jnp.asarray(_probe_states(stack, shape))
        dyn = {n: jnp.asarray(getattr(stack, n)) for n in floats}

        def layer(k, x, d):
            p = spec.init(k, **_split_kw(stack, spec.init_kw, floats, d))
            return spec.apply(p, x, **_split_kw(stack, spec.apply_kw, floats, d))

        if "static_floats" not in spec.flags:
            # floats traced (one compilation for every value, e.g. a sweep of sigma_w) unless
            # the functions branch on them in Python; then they are compiled in as constants
            try:
                jax.eval_shape(layer, key, h, dyn)
                spec.flags["static_floats"] = False
            except Exception:
                spec.flags["static_floats"] = True
        try:   # tracing errors (Python control flow on traced values...) show here
            p_abs = jax.eval_shape(lambda k: spec.init(k, **kw), key)
        except Exception as exc:
            raise UsageError(f"layer stack {cls.name!r}: init cannot be traced by "
                             f"jax: {_first_line(exc)} ({where})") from None
        try:
            y_abs = jax.eval_shape(lambda p, x: spec.apply(p, x, **akw), p_abs, h)
        except Exception as exc:
            raise UsageError(f"layer stack {cls.name!r}: apply cannot be traced by "
                             f"jax: {_first_line(exc)} ({where})") from None
        if not hasattr(y_abs, "shape") or tuple(y_abs.shape) != tuple(h.shape):
            got = getattr(y_abs, "shape", type(y_abs).__name__)
            raise UsageError(f"layer stack {cls.name!r}: apply returned shape {got} "
                             f"for states of shape {tuple(h.shape)}; it must return the same "
                             f"shape ({where})")
        p = _call(stack, "init", spec.init, (key,), kw, where)
        y = np.asarray(_call(stack, "apply", spec.apply, (p, h), akw, where))
        _check_finite(stack, "apply", y, where)
        y0 = np.asarray(_call(stack, "apply", spec.apply, (p, h[:1]), akw, where))
        if y0.shape != tuple(h[:1].shape):
            raise UsageError(f"layer stack {cls.name!r}: apply returned shape "
                             f"{y0.shape} for states of shape {tuple(h[:1].shape)} ({where})")
        _check_mixing(stack, y, y0)
        if spec.sample_input is not None:
            ikw = stack._user_values(spec.input_kw)
            v = np.asarray(_call(stack, "sample_input", spec.sample_input, (key,), ikw, where))
            _check_finite(stack, "sample_input",
                          _as_state(stack, "sample_input", v, shape, where), where)


def _jax_inputs(stack, jax, keys, K):
    """User JAX input sampler: ``(S, 2, K, *shape)`` from keys (2 K draws per sample)."""
    spec = type(stack)._spec
    kw = stack._user_values(spec.input_kw)
    fn = _jax_input_fn(type(stack), tuple(sorted(kw.items())), K, stack.dtype == "float64")
    with _x64(jax, stack.dtype == "float64"), jax.default_device(jax.devices("cpu")[0]):
        try:
            out = np.asarray(fn(_key_words(keys)))
        except Exception as exc:
            raise UsageError(f"layer stack {type(stack).name!r}: sample_input raised "
                             f"{_first_line(exc)}") from None
    return out.reshape((len(keys), K, 2) + stack._shape()).swapaxes(1, 2)


@functools.lru_cache(maxsize=32)
def _jax_input_fn(cls, kw_items, K, x64):
    jax = _import_jax()
    spec = cls._spec
    kw = dict(kw_items)

    def one(kd):
        keys = jax.random.split(jax.random.wrap_key_data(kd, impl="threefry2x32"), 2 * K)
        return jax.vmap(lambda k: spec.sample_input(k, **kw))(keys)

    return jax.jit(jax.vmap(one))


def _param_bytes_jax(stack, jax):
    """Bytes of one layer's parameters at the real size (abstract evaluation, no compute)."""
    spec = type(stack)._spec
    kw = stack._user_values(spec.init_kw)
    key = jax.random.wrap_key_data(np.array([0, 1], dtype=np.uint32), impl="threefry2x32")
    try:
        p = jax.eval_shape(lambda k: spec.init(k, **kw), key)
    except Exception as exc:
        raise UsageError(f"layer stack {type(stack).name!r}: init cannot be traced by jax: "
                         f"{_first_line(exc)}") from None
    return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
               for x in jax.tree_util.tree_leaves(p) if hasattr(x, "shape"))


def _static_key(stack, dynamic):
    """Return the values a compiled JAX program depends on (all fields but the traced)."""
    return tuple((f.name, getattr(stack, f.name)) for f in dataclasses.fields(stack)
                 if f.name not in dynamic and f.name != "eps")


@functools.lru_cache(maxsize=32)
def _jax_runner(cls, static, dynamic, times_key, init, single=False):
    """``jit(vmap(one sample))``: states (S, 2K, *shape), key data (S, 2), traced floats."""
    jax = _import_jax()
    jnp = jax.numpy
    lax = jax.lax
    spec = cls._spec
    stack = cls.__new__(cls)   # static values only (the traced ones come as arguments)
    for k, v in static:
        object.__setattr__(stack, k, v)
    times = np.asarray(times_key, dtype=np.int64)
    t_max = int(times[-1])
    K = int(stack.inputs)
    dim = cls.dim
    seed_run = init == "seed"
    r2_site = jnp.asarray(_site_r2(int(stack.L), dim)) if dim > 0 else None
    width = float(stack.width) if dim == 0 else 0.0

    def rho_pairs(h):
        a, b = h[:K], h[K:]
        sa = jnp.max(jnp.abs(a), axis=-1, keepdims=True)
        sb = jnp.max(jnp.abs(b), axis=-1, keepdims=True)
        ok = jnp.all(jnp.isfinite(sa)) & jnp.all(jnp.isfinite(sb))
        za, zb = sa == 0, sb == 0
        ua = a / jnp.where(za, 1.0, sa)
        ub = b / jnp.where(zb, 1.0, sb)
        na = jnp.sqrt(jnp.sum(ua * ua, axis=-1, keepdims=True))
        nb = jnp.sqrt(jnp.sum(ub * ub, axis=-1, keepdims=True))
        d = ua / jnp.where(za, 1.0, na) - ub / jnp.where(zb, 1.0, nb)
        r = 0.5 * jnp.sum(d * d, axis=-1)
        za, zb = za[..., 0], zb[..., 0]
        r = jnp.where(za & zb, 0.0, jnp.where(za | zb, 1.0, r))
        return jnp.minimum(r, 2.0), ok

    def observe(h, eps):
        r, ok = rho_pairs(h)
        alive = r > eps
        if dim == 0:
            out = [r.mean(), (r * r).mean(), alive.mean()]
            if seed_run:
                out.append((width * r * alive).mean())
        else:
            axes = tuple(range(1, 1 + dim))
            nact = alive.sum(axis=axes)
            rp = r.mean(axis=axes)
            out = [rp.mean(), (rp * rp).mean(), (nact > 0).mean()]
            if seed_run:
                out += [nact.mean(), (alive * r2_site).sum(axis=axes).mean()]
        return jnp.stack([jnp.asarray(o, dtype=r.dtype) for o in out]), ok

    def one(h0, kd, dyn):
        base = jax.random.wrap_key_data(kd, impl="threefry2x32")
        kw = _split_kw(stack, spec.init_kw, dynamic, dyn)
        akw = _split_kw(stack, spec.apply_kw, dynamic, dyn)
        eps = dyn["eps"]

        def step(h, t):
            p = spec.init(jax.random.fold_in(base, t), **kw)
            h = spec.apply(p, h, **akw).astype(h.dtype)
            return h, observe(h, eps)

        o0 = observe(h0, eps)
        _, seq = lax.scan(step, h0, jnp.arange(t_max))
        obs = jnp.concatenate([o0[0][None], seq[0]])[times]
        ok = jnp.concatenate([o0[1][None], seq[1]])[times]
        return obs, ok

    if single:   # one sample per call: no vmap (a batch of one costs twice as much on CPU)
        return jax.jit(lambda h0, kd, dyn: jax.tree_util.tree_map(
            lambda a: a[None], one(h0[0], kd[0], dyn)))
    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


def _run_jax(stack, times, samples, batch_of, sums, init, seed):
    jax = _import_jax()
    name = type(stack).name
    x64 = stack.dtype == "float64"
    names = list(sums)
    with _x64(jax, x64), jax.default_device(jax.devices("cpu")[0]):
        chunk = stack._chunk(_param_bytes_jax(stack, jax), most=_JAX_CHUNK, budget=_JAX_BYTES)
        chunk = 1 << (chunk.bit_length() - 1)    # a power of two
        dynamic = _dynamic_names(stack)
        fn = _jax_runner(type(stack), _static_key(stack, dynamic), dynamic,
                         tuple(int(t) for t in times), init, chunk == 1)
        dtype = np.dtype(stack.dtype)
        dyn = {k: np.asarray(getattr(stack, k), dtype=dtype) for k in dynamic + ("eps",)}
        bkeys_all = _key_words(_sample_keys(np.int64(seed), samples, np.int64(STREAM_WEIGHTS)))
        for c0 in range(0, len(samples), chunk):
            ss = samples[c0:c0 + chunk]
            n = len(ss)
            x = stack._inputs(ss, init, seed, jax)
            kd = bkeys_all[c0:c0 + chunk]
            if n < chunk:   # pad: the compiled program keeps its shape
                x = np.concatenate([x, np.repeat(x[-1:], chunk - n, axis=0)])
                kd = np.concatenate([kd, np.repeat(kd[-1:], chunk - n, axis=0)])
            try:
                obs, ok = fn(x, kd, dyn)
                obs = np.asarray(obs, dtype=np.float64)[:n]
                ok = np.asarray(ok)[:n]
            except UsageError:
                raise
            except Exception as exc:
                raise UsageError(f"layer stack {name!r}: init/apply failed under jax.jit: "
                                 f"{_first_line(exc)}") from None
            if not ok.all():
                s, ti = np.argwhere(~ok)[0]
                raise UsageError(f"layer stack {name!r}: non-finite states (overflow or nan) "
                                 f"by layer {int(times[ti])} of sample {ss[s]}; apply must "
                                 "keep the states finite (lower t_max or the weights' scale)")
            bs = batch_of[c0:c0 + chunk]
            for j, k in enumerate(names):
                np.add.at(sums[k], bs, obs[:, :, j])

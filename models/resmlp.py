r"""Random residual MLP as an absorbing process (layer = time, width = system size).

Two replicas — the same random weights applied to two inputs — propagate through

.. math::

    h^{l+1}_i = h^l_i + \alpha\Big(\sum_j W^l_{ij}\,\phi(h^l_j) + b^l_i\Big), \qquad
    W^l_{ij}\sim N(0, \sigma_w^2/N), \quad b^l_i \sim N(0, \sigma_b^2),

fresh in every layer (Yang & Schoenholz, "Mean field residual networks: on the edge of
chaos", NeurIPS 2017, call this the reduced residual network). The order parameter is
:math:`\rho(l) = 1 - c(l)`, with :math:`c` the cosine similarity of the two replicas' *full
states* :math:`h, h'` (the residual stream, not :math:`\phi(h)`): :math:`h` is what a layer
carries forward and what the next layer reads, it is the quantity the identity path
conserves, and it is the pre-activation the :class:`~absorbphys.models.mlp.MLP` uses, so the
two models' ``rho`` compare directly. ``rho = 0`` (identical states) is absorbing.

Variance growth
---------------
The branch is uncorrelated with :math:`h^l` (its weights are independent of it), so the
variances add:

.. math::

    q_{l+1} = q_l + \alpha^2\big(\sigma_w^2\,E[\phi(\sqrt{q_l}z)^2] + \sigma_b^2\big).

There is **no fixed point** :math:`q^*`: for bounded activations (``tanh``, ``erf``,
``hard_tanh``, ``sin``) ``q`` grows without bound, linearly (by about
:math:`\alpha^2(\sigma_w^2+\sigma_b^2)` per layer once ``tanh`` saturates); for ``relu`` and
``linear`` geometrically (factors :math:`1+\alpha^2\sigma_w^2/2` and
:math:`1+\alpha^2\sigma_w^2`), which overflows float64 within a few hundred layers at
:math:`\alpha\sigma_w \sim 1` — such runs are refused before any work (see
:func:`~absorbphys.models.meanfield.resmlp_overflow_layer`). No normalisation is applied:
this is the plain network (``rho`` is scale invariant, but :math:`\phi` sees the growing
variance, which is what makes the residual network differ from the MLP). The replica
distance :math:`q\rho` never decreases on average, so :math:`\rho` cannot decay faster than
:math:`\rho_0 q_0/q_l` (about :math:`1/l` for bounded activations): there is no exponential
approach to the absorbing state.

Phase structure
---------------
The absorbing state is unstable for every :math:`\sigma_w > 0`: once the variance is large,
a saturating odd :math:`\phi` (``tanh``, ``erf``, ``hard_tanh``) acts as a sign function and
:math:`d\rho/d\ln l \to (2r/\pi)\arccos(1-\rho) - \rho`, :math:`r = \sigma_w^2/(\sigma_w^2
+ \sigma_b^2)`, so :math:`\rho` tends to its nonzero root :math:`\rho^*` (about
:math:`8r^2/\pi^2` for small ``r``; 1, i.e. ``c* = 0``, at :math:`\sigma_b = 0`) as a power
of ``l``. Only :math:`\sigma_w = 0` is absorbing-like (:math:`\rho = \rho_0 q_0/q_l \propto
1/l`). At finite depth the decay of small :math:`\sigma_w` looks critical: the zero of the
curvature of :math:`\ln\rho` vs :math:`\ln l` in the window ``[T/8, T]`` (what
:func:`absorbphys.analysis.critical_point` locates) is a pseudo-critical point that drifts
to 0 as :math:`T^{-0.7}` (0.20, 0.13, 0.08, 0.05, 0.02 for ``T`` = 128 ... 2048 with
``tanh`` at :math:`\sigma_b = 0.3`, width 1024 and at infinite width alike), its ``delta``
drifting to 1.

Method
------
Exact O(N) transition (as the MLP's ``"gaussian"`` method): given layer ``l``, the branch
pairs :math:`(u_i, u'_i) = \alpha(W\phi(h) + b, W\phi(h') + b)_i` are i.i.d. over ``i``,
bivariate normal with covariance
:math:`\alpha^2(\sigma_w^2/N\,\mathrm{Gram}(\phi(h), \phi(h')) + \sigma_b^2)`; they are
sampled like the MLP's pairs and *added* to ``h`` and to the replica difference
``d = h' - h`` (propagated in place of ``h'``, so ``rho`` keeps full relative accuracy down to
~1e-300; see :mod:`absorbphys.models.mlp`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

import absorbphys
from absorbphys._params import Param
from absorbphys._process import AbsorbingProcess
from absorbphys.models import _resmlp_cpu
from absorbphys.models.activations import ACTIVATIONS, get_activation
from absorbphys.models.meanfield import (
    ALPHA,
    RES_Q0,
    SIGMA_B,
    SIGMA_W,
    check_c0_init,
    check_resmlp_overflow,
    init_rho,
)

__all__ = ["ResMLP"]


@absorbphys.register
@dataclass(frozen=True)
class ResMLP(AbsorbingProcess):
    r"""Random residual network ``h += alpha (W phi(h) + b)`` with two replicas; ``rho = 1 - c``.

    Parameters
    ----------
    width : int
        Number of units N (>= 2): the system size.
    sigma_w : float
        Weight standard deviation of the residual branch, in [0, 1e12]; weights are
        N(0, sigma_w**2 / width), fresh in every layer. The control parameter.
    sigma_b : float
        Bias standard deviation of the branch, in [0, 1e12].
    alpha : float
        Residual branch scale, in [0, 1000] (default 1): the branch is multiplied by it.
        ``alpha = 0`` is the identity network (``rho`` constant).
    activation : str or callable
        ``"tanh"``, ``"erf"``, ``"relu"``, ``"hard_tanh"``, ``"sin"``, ``"linear"`` or a
        Numba-compilable scalar function (see
        :func:`absorbphys.models.activations.get_activation`).
    eps : float
        Absorption threshold (default 1e-12): a sample counts as surviving at layer ``l``
        while ``rho(l) > eps``.
    dtype : {"float64", "float32"}
        Storage precision of ``h`` and ``d`` (sums are accumulated in float64; in float32
        the residual sums themselves round to 24 bits).
    q0 : float
        Variance of the layer-0 states (the inputs), in (0, 1e24] (default 1). The network
        has no fixed point ``q*`` to start from: the variance grows with depth (see the
        module docstring).
    seed_rho : float
        ``1 - c0`` of the ``"seed"`` initial condition (default 1e-6).

    Notes
    -----
    ``rho = 1 - c`` with ``c`` the cosine similarity of the full states ``h`` and ``h'``
    (not of ``phi(h)``): see the module docstring. Layer 0 holds the inputs:
    ``h ~ N(0, q0)`` i.i.d. over units and ``h' = c0 h + sqrt(1 - c0**2) sqrt(q0) z``.
    Initial conditions: ``"full"`` (``c0 = 0``), ``"seed"`` (``c0 = 1 - seed_rho``) or a
    float ``c0`` in [-1, 1]. ``n_active`` (seed runs) is ``width * rho`` for samples with
    ``rho > eps`` and 0 otherwise. Memory is O(width) per thread. The infinite-width limit
    is :func:`~absorbphys.models.meanfield.resmlp_trajectory`. With ``relu``/``linear``
    (or a growing user function) :func:`~absorbphys.simulate` refuses a ``t_max`` at which
    the variance would exceed 1e100.
    """

    width: int
    sigma_w: float
    sigma_b: float
    alpha: float = 1.0
    activation: object = "tanh"
    eps: float = 1e-12
    dtype: str = "float64"
    q0: float = 1.0
    seed_rho: float = 1e-6

    name: ClassVar[str] = "resmlp"
    params: ClassVar[dict] = {
        "width": Param("int", 2, doc="number of units N (system size)"),
        "sigma_w": SIGMA_W,
        "sigma_b": SIGMA_B,
        "alpha": ALPHA,
        "activation": Param("callable", choices=ACTIVATIONS, default="tanh",
                            doc="activation function"),
        "eps": Param("float", 0.0, default=1e-12, doc="absorption threshold on rho"),
        "dtype": Param("str", choices=("float64", "float32"), default="float64",
                       doc="floating-point precision"),
        "q0": RES_Q0,
        "seed_rho": Param("float", 0.0, 2.0, low_open=True, default=1e-6,
                          doc="1 - c0 of the 'seed' initial condition"),
    }
    control: ClassVar[str] = "sigma_w"
    size_param: ClassVar[str] = "width"
    time_unit: ClassVar[str] = "layer"
    seed_observables: ClassVar[tuple] = ("n_active",)
    backends: ClassVar[tuple] = ("cpu",)

    def _check(self):
        get_activation(self.activation)

    def _check_init(self, init):
        return check_c0_init(init)

    def _check_run(self, t_max, samples, init):
        """Refuse depths at which the variance of the residual stream overflows float64."""
        check_resmlp_overflow(self.sigma_w, self.sigma_b, self.activation, self.q0,
                              int(t_max), self.alpha)

    def _state_bytes(self):
        return 2 * np.dtype(self.dtype).itemsize * int(self.width)

    def is_absorbed(self, rho):
        """Return whether ``rho <= eps`` (finite-width absorption threshold)."""
        return np.asarray(rho) <= self.eps

    def _run(self, backend, times, sample_edges, init, seed):
        act = get_activation(self.activation)
        kern = _resmlp_cpu.resmlp_gaussian if act.code >= 0 else _resmlp_cpu.compile_for(act)
        r, r2, s, na = kern(np.int64(act.code), np.int64(self.width), float(self.sigma_w),
                            float(self.sigma_b), float(self.alpha), float(self.q0),
                            init_rho(init, self.seed_rho), np.asarray(times, dtype=np.int64),
                            np.asarray(sample_edges, dtype=np.int64), np.int64(seed),
                            float(self.eps), np.ones(1, dtype=np.dtype(self.dtype)))
        out = {"rho": r, "rho2": r2, "survival": s, "n_active": na}
        if init != "seed":
            out.pop("n_active")
        return out

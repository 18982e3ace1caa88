r"""Random convolutional network as an absorbing process (layer = time, grid = space).

A periodic grid of side ``L`` in ``dim`` = 1 or 2 dimensions carries ``channels`` channels
per site. Each layer applies

.. math::

    h^{l+1}_{x,c} = \sum_{k \in \text{window}} \sum_{c'} W^l_{k,c',c}\,
    \phi(h^l_{x+k,c'}) + b^l_c, \qquad
    W \sim N\big(0, \sigma_w^2/(C\,K^{dim})\big),\; b \sim N(0, \sigma_b^2),

with circular padding and fresh weights in every layer. Two replicas share the weights; the
local order parameter is :math:`\rho_x = 1 - c_x`, with :math:`c_x` the correlation
coefficient of the two channel vectors at site ``x``, and :math:`\rho(l)` is its mean over
sites. As in :mod:`absorbphys.models.mlp`, ``h`` and the replica difference ``d = h' - h``
are propagated (accurate to ``rho ~ 1e-300``).

``weight_sharing=True`` is the ordinary convolution (one kernel per layer: the noise of a
layer is global). ``weight_sharing=False`` is the locally connected variant (independent
weights at every site: local noise); given a layer, each site's next pair of channel vectors
is ``channels`` i.i.d. bivariate normal draws with covariance
:math:`\sigma_w^2/(C K^{dim})\,\mathrm{Gram}_{\text{window}}(\phi(h), \phi(h'))
+ \sigma_b^2`, sampled exactly in O(L^dim * C * K^dim) like the MLP's Gaussian method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

import absorbphys
from absorbphys._params import Param
from absorbphys._process import AbsorbingProcess
from absorbphys.kernels.sums import sums_dict
from absorbphys.models import _cnn_cpu
from absorbphys.models.activations import ACTIVATIONS, get_activation
from absorbphys.models.meanfield import (
    Q0,
    SIGMA_B,
    SIGMA_W,
    check_c0_init,
    check_overflow,
    init_rho,
    input_variance,
)

__all__ = ["CNN"]


@absorbphys.register
@dataclass(frozen=True)
class CNN(AbsorbingProcess):
    """Random CNN (or locally connected network) with two replicas; ``rho`` = mean of 1 - c_x.

    Parameters
    ----------
    L : int
        Side of the periodic grid (the spatial system size; ``L**dim`` sites).
    channels : int
        Channels per site C (>= 2): the local width.
    sigma_w : float
        Weight standard deviation, in [0, 1e12] (the bound keeps the arithmetic finite, see
        :data:`~absorbphys.models.meanfield.SIGMA_MAX`), weights N(0, sigma_w**2 /
        (channels * kernel_size**dim)). The control parameter.
    sigma_b : float
        Bias standard deviation, in [0, 1e12].
    kernel_size : int
        Window side K, 1 <= K <= L (offsets ``-(K//2) .. K - 1 - K//2``).
    dim : {1, 2}
        Grid dimension.
    activation : str or callable
        Activation (see :func:`absorbphys.models.activations.get_activation`).
    weight_sharing : bool
        True: ordinary convolution (default). False: locally connected, exact per-site sampler.
    eps : float
        Per-site threshold (default 1e-12): site ``x`` is active while ``rho_x > eps``;
        ``n_active`` counts active sites and a sample survives while at least one is active.
    dtype : {"float64", "float32"}
        Storage precision of ``h`` and ``d``.
    q0 : float
        Input variance at layer 0, at most 1e24; ``0`` (default) means the mean-field fixed
        point ``q*`` (1 where ``q*`` is 0 or infinite).
    seed_rho : float
        ``1 - c0`` at the perturbed site of the ``"seed"`` initial condition (default 1e-6).

    Notes
    -----
    Initial conditions: ``"full"`` (independent replicas, ``c0 = 0`` at every site),
    ``"seed"`` (the two inputs differ at site 0 only, with ``c0 = 1 - seed_rho`` there) or a
    float ``c0`` in [-1, 1] (every site). ``n_active`` and ``r2`` (squared minimum-image
    distance of the active sites from site 0) are produced for seed runs. As for
    :class:`~absorbphys.models.mlp.MLP`, depths at which the variance of an unbounded
    activation would overflow are refused before the run.
    """

    L: int
    channels: int
    sigma_w: float
    sigma_b: float
    kernel_size: int = 3
    dim: int = 1
    activation: object = "tanh"
    weight_sharing: bool = True
    eps: float = 1e-12
    dtype: str = "float64"
    q0: float = 0.0
    seed_rho: float = 1e-6

    name: ClassVar[str] = "cnn"
    params: ClassVar[dict] = {
        "L": Param("int", 2, doc="grid side (spatial system size)"),
        "channels": Param("int", 2, doc="channels per site (local width)"),
        "sigma_w": SIGMA_W,
        "sigma_b": SIGMA_B,
        "kernel_size": Param("int", 1, default=3, doc="kernel window side"),
        "dim": Param("int", 1, 2, default=1, doc="grid dimension"),
        "activation": Param("callable", choices=ACTIVATIONS, default="tanh",
                            doc="activation function"),
        "weight_sharing": Param("bool", default=True,
                                doc="ordinary convolution (true) or locally connected (false)"),
        "eps": Param("float", 0.0, default=1e-12, doc="per-site absorption threshold"),
        "dtype": Param("str", choices=("float64", "float32"), default="float64",
                       doc="floating-point precision"),
        "q0": Q0,
        "seed_rho": Param("float", 0.0, 2.0, low_open=True, default=1e-6,
                          doc="1 - c0 at the seed site"),
    }
    control: ClassVar[str] = "sigma_w"
    size_param: ClassVar[str] = "L"
    time_unit: ClassVar[str] = "layer"
    backends: ClassVar[tuple] = ("cpu", "cuda")

    def _check(self):
        get_activation(self.activation)
        if self.kernel_size > self.L:
            raise ValueError(f"kernel_size must be in [1, L={self.L}], got {self.kernel_size}")

    def _check_init(self, init):
        return check_c0_init(init)

    def _check_run(self, t_max, samples, init):
        """Refuse depths at which the variance of unbounded activations overflows float64."""
        check_overflow(self.sigma_w, self.sigma_b, self.activation, self.input_variance(),
                       int(t_max))

    def _state_bytes(self):
        # per sample: h, d (storage dtype), phi(h) and its difference (float64), the weights
        # of one layer (allocated for both variants); shared: the window table and r2 of sites
        sites, c = int(self.L) ** int(self.dim), int(self.channels)
        nk = int(self.kernel_size) ** int(self.dim)
        item = np.dtype(self.dtype).itemsize
        return sites * c * (2 * item + 16) + 8 * nk * c * c + 8 * sites * (nk + 1)

    def is_absorbed(self, rho):
        """Return whether ``rho <= eps`` (applied per site by the kernel)."""
        return np.asarray(rho) <= self.eps

    def input_variance(self) -> float:
        """Return the layer-0 variance (``q0``, or the mean-field ``q*`` when ``q0 == 0``)."""
        return input_variance(self.q0, self.sigma_w, self.sigma_b, self.activation)

    def _run(self, backend, times, sample_edges, init, seed):
        if backend == "cuda":
            from absorbphys.models import _cnn_cuda  # deferred: CUDA kernels need numba-cuda

            return _cnn_cuda.run_process(self, times, sample_edges, init, seed)
        act = get_activation(self.activation)
        kern = _cnn_cpu.cnn_kernel if act.code >= 0 else _cnn_cpu.compile_for(act)
        return sums_dict(kern(
            np.int64(act.code), np.int64(self.L), np.int64(self.dim), np.int64(self.channels),
            np.int64(self.kernel_size), bool(self.weight_sharing), float(self.sigma_w),
            float(self.sigma_b), self.input_variance(), init_rho(init, self.seed_rho),
            init == "seed", np.asarray(times, dtype=np.int64),
            np.asarray(sample_edges, dtype=np.int64), np.int64(seed), float(self.eps),
            np.ones(1, dtype=np.dtype(self.dtype))), init == "seed")

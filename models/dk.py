r"""Domany–Kinzel automaton and directed percolation (bond and site) in 1+1 and 2+1 dimensions.

Lattice conventions (parallel update, periodic boundaries, ``L`` sites per direction):

* **1+1**: site ``i`` at time ``t + 1`` has the parents ``i`` and ``i + 1`` (mod ``L``) at
  time ``t`` (the tilted square lattice). With ``n`` active parents it becomes active with
  probability ``p_0 = 0``, ``p_1``, ``p_2``. A seed's light cone drifts by ``-1/2`` site per
  step; ``r2`` is measured from the cone centre ``-t/2`` (minimum image).
* **2+1**: the body-centred cubic (bcc) lattice: site ``(x, y)`` at ``t + 1`` has the
  ``2^d = 4`` parents ``(x, y)``, ``(x+1, y)``, ``(x, y+1)``, ``(x+1, y+1)``; the cone
  drifts by ``(-1/2, -1/2)`` per step. The activation probability with ``n`` active parents
  is defined from ``(p1, p2)`` by geometric extrapolation of the survival probability
  ``1 - p_n``:

  .. math::

      1 - p_n = (1 - p_1)^{2 - n} (1 - p_2)^{n - 1}, \qquad n = 1, \dots, 4,

  clipped to ``[0, 1]`` (for ``p_1 = 1 > p_2``, the limit ``p_3 = p_4 = 0``). It is exact
  for bond DP (``p_2 = p(2 - p)`` gives ``p_n = 1 - (1 - p)^n``) and site DP
  (``p_1 = p_2 = p`` gives ``p_n = p``); :class:`DirectedPercolation` passes those values
  directly, without rounding.

Both kernels are bit-packed (64 sites per ``uint64``, any ``L >= 2``: the last word of a
row holds the ``L mod 64`` tail); byte-per-site scalar kernels are kept as test references.
See ``models/_dk_cpu.py`` for the random-number indexing that makes the packed and scalar
kernels agree bit for bit.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

import absorbphys
from absorbphys import AbsorbingProcess, Param
from absorbphys.kernels.sums import sums_dict

_L_PARAM = Param("int", low=2, doc="linear size (sites per direction), periodic")
_DIM_PARAM = Param("int", low=1, high=2, default=1,
                   doc="spatial dimension d (1: 1+1 tilted square lattice, 2: 2+1 bcc)")


def dk_pn(p1: float, p2: float) -> np.ndarray:
    r"""Return the activation probabilities ``p_n``, ``n = 0..4``, of the 2+1 DK automaton.

    Parameters
    ----------
    p1, p2 : float
        Probabilities with one and two active parents, in [0, 1].

    Returns
    -------
    numpy.ndarray
        float64 array ``[0, p1, p2, p3, p4]`` with
        :math:`1 - p_n = (1 - p_1)^{2-n} (1 - p_2)^{n-1}` clipped to [0, 1].
    """
    a, b = 1.0 - p1, 1.0 - p2
    out = np.zeros(5)
    out[1], out[2] = p1, p2
    for n in (3, 4):
        if a > 0.0:
            q = b ** (n - 1) / a ** (n - 2)
        else:
            q = 0.0 if b == 0.0 else np.inf
        out[n] = min(1.0, max(0.0, 1.0 - q))
    return out


class _DKBase(AbsorbingProcess):
    """Shared run logic of :class:`DomanyKinzel` and :class:`DirectedPercolation`."""

    size_param = "L"
    time_unit = "step"
    continuous_time = False
    inits = ("full", "seed")
    seed_observables = ("n_active", "r2")
    backends = ("cpu", "cuda")

    @abc.abstractmethod
    def _dk_probabilities(self) -> tuple[float, float]:
        """Return the Domany–Kinzel ``(p1, p2)`` of this process."""

    def _pn(self) -> np.ndarray:
        return dk_pn(*self._dk_probabilities())

    def _state_bytes(self):
        return 2 * (int(self.L) ** int(self.dim) // 8)  # two bit-packed lattices at least

    def _run(self, backend, times, sample_edges, init, seed):
        from absorbphys.models import _dk_cpu  # deferred: kernels load on first use

        times = np.ascontiguousarray(times, dtype=np.int64)
        edges = np.ascontiguousarray(sample_edges, dtype=np.int64)
        seed_init = init == "seed"
        if backend == "cuda":
            from absorbphys.models import _dk_cuda  # deferred: CUDA kernels need numba-cuda

            return sums_dict(_dk_cuda.run_process(self, times, edges, init, seed), seed_init)
        if self.dim == 1:
            p1, p2 = self._dk_probabilities()
            out = _dk_cpu.run_dk1_packed(np.int64(self.L), float(p1), float(p2), times, edges,
                                         np.int64(seed), seed_init)
        else:
            out = _dk_cpu.run_dk2_packed(np.int64(self.L), self._pn(), times, edges,
                                         np.int64(seed), seed_init)
        return sums_dict(out, seed_init)


@absorbphys.register
@dataclass(frozen=True)
class DomanyKinzel(_DKBase):
    r"""Domany–Kinzel stochastic cellular automaton (parallel update, periodic lattice).

    A site becomes active at ``t + 1`` with probability ``p1`` if one of its parents at ``t``
    is active, ``p2`` if two are (1+1; see the module docstring for the 2+1 bcc rule and
    ``p_3``, ``p_4``), and stays inactive if none is (the absorbing state).

    Parameters
    ----------
    L : int
        Linear size, >= 2 (``L`` sites in 1+1, ``L**2`` in 2+1), periodic boundaries.
    p1 : float
        Activation probability with one active parent, in [0, 1] (the control parameter).
    p2 : float
        Activation probability with two active parents, in [0, 1].
    dim : int
        Spatial dimension, 1 or 2.

    Notes
    -----
    Special points in 1+1: ``p1 = p2 = 1`` is the deterministic OR rule (stays fully
    active), ``p1 = 1, p2 = 0`` the XOR rule (Wolfram 90), ``(1/2, 1)`` compact DP, bond DP
    on the line ``p2 = p1 (2 - p1)`` (critical at ``p1 = 0.644700185``), site DP on
    ``p1 = p2`` (critical at ``0.70548522``).

    Examples
    --------
    >>> import absorbphys
    >>> from absorbphys.models import DomanyKinzel
    >>> ds = absorbphys.simulate(DomanyKinzel(256, 0.7, 0.9), t_max=50, samples=4)
    """

    L: int
    p1: float
    p2: float
    dim: int = 1

    name = "dk"
    control = "p1"
    params = {
        "L": _L_PARAM,
        "p1": Param("float", low=0.0, high=1.0, doc="activation probability, 1 active parent"),
        "p2": Param("float", low=0.0, high=1.0, doc="activation probability, 2 active parents"),
        "dim": _DIM_PARAM,
    }

    def _dk_probabilities(self):
        return self.p1, self.p2


@absorbphys.register
@dataclass(frozen=True)
class DirectedPercolation(_DKBase):
    r"""Bond or site directed percolation, run as a Domany–Kinzel automaton.

    Bond DP: every one of the ``2^d`` bonds to the parents is open with probability ``p``, so
    ``p_n = 1 - (1 - p)^n`` (1+1: ``p1 = p``, ``p2 = p (2 - p)``). Site DP: a site with at
    least one active parent is open with probability ``p``, ``p_n = p``.

    Parameters
    ----------
    L : int
        Linear size, >= 2, periodic boundaries.
    p : float
        Bond or site probability in [0, 1] (the control parameter).
    kind : {"bond", "site"}
        Which percolation problem.
    dim : int
        Spatial dimension, 1 (tilted square lattice) or 2 (bcc lattice).

    Notes
    -----
    Critical points: 1+1 bond ``p_c = 0.644700185``, 1+1 site ``0.70548522`` (Jensen 1999);
    2+1 bcc bond ``~0.287338``, site ``~0.344574`` (Grassberger & Zhang 1996).

    Examples
    --------
    >>> import absorbphys
    >>> from absorbphys.models import DirectedPercolation
    >>> dp = DirectedPercolation(1024, 0.6447)
    >>> dp.as_domany_kinzel().p2  # doctest: +ELLIPSIS
    0.8738...
    """

    L: int
    p: float
    kind: str = "bond"
    dim: int = 1

    name = "dp"
    control = "p"
    params = {
        "L": _L_PARAM,
        "p": Param("float", low=0.0, high=1.0, doc="bond or site probability"),
        "kind": Param("str", choices=("bond", "site"), default="bond",
                      doc="bond or site directed percolation"),
        "dim": _DIM_PARAM,
    }

    def _dk_probabilities(self):
        p = self.p
        return (p, p * (2.0 - p)) if self.kind == "bond" else (p, p)

    def _pn(self):
        p = self.p
        n = np.arange(5)
        if self.kind == "bond":
            return 1.0 - (1.0 - p) ** n
        return np.where(n > 0, p, 0.0).astype(np.float64)

    def as_domany_kinzel(self) -> DomanyKinzel:
        """Return the equivalent :class:`DomanyKinzel` automaton (same ``L`` and ``dim``).

        Returns
        -------
        DomanyKinzel
            With ``p1 = p`` and ``p2 = p (2 - p)`` (bond) or ``p2 = p`` (site). In 2+1 the DK
            rule of :func:`dk_pn` reproduces ``p_n`` up to rounding.
        """
        p1, p2 = self._dk_probabilities()
        return DomanyKinzel(self.L, p1, p2, self.dim)

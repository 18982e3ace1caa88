"""absorbphys-barw: an example plugin for absorbphys.

It adds one process, :class:`BranchingAnnihilatingWalk` (registry name ``"barw"``), through
the entry-point group ``absorbphys.models`` declared in this package's ``pyproject.toml``::

    [project.entry-points."absorbphys.models"]
    barw = "absorbphys_barw:BranchingAnnihilatingWalk"

Once the package is installed, ``absorbphys models`` lists it and ``absorbphys.simulate``,
the sweeps and the analysis suite use it like a built-in model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import absorbphys as ap
from absorbphys import Param

__all__ = ["BranchingAnnihilatingWalk"]
__version__ = "0.1.0"


@dataclass(frozen=True)
class BranchingAnnihilatingWalk(ap.AbsorbingProcess):
    r"""Branching-annihilating random walk with two offspring (parity-conserving class).

    Particles on a ring of ``L`` sites, at most one per site, random-sequential updates
    (``L`` attempts per Monte Carlo sweep, the time unit). An attempt picks a site; if it
    holds a particle, then with probability ``sigma`` it branches,
    :math:`A \to 3A`, placing two offspring on its two neighbours when both are empty; else
    it hops to a random neighbour, and two particles that meet annihilate,
    :math:`2A \to \emptyset`. The particle number changes by 0 or 2 at every move, so its
    parity is conserved and only even-sector states can reach the absorbing vacuum: the
    fully occupied start needs an even ``L``, and ``init="seed"`` starts from two particles
    on neighbouring sites (0 and 1).

    The order parameter is the particle density :math:`\rho = N/L`. The transition belongs
    to the parity-conserving class, not to directed percolation: at the critical point

    .. math::

        \rho(t) \sim t^{-\beta/\nu_\parallel},\qquad
        P(t) \sim t^{-\delta'},\qquad N(t) \sim t^{\eta},

    with :math:`\beta/\nu_\parallel \approx \delta' \approx 2/7` and :math:`\eta \approx 0`
    (I. Jensen, Phys. Rev. E 50, 3623 (1994)), against 0.1595 and 0.3137 for DP. Below the
    threshold the density does not decay exponentially: the walkers annihilate diffusively,
    :math:`\rho \sim t^{-1/2}`.

    Parameters
    ----------
    L : int
        Number of sites, >= 4.
    sigma : float
        Branching probability per attempt on an occupied site, in [0, 1] (the control
        parameter; the hop probability is ``1 - sigma``).

    Raises
    ------
    ValueError
        If ``L`` or ``sigma`` is out of range (one line naming the parameter).

    Examples
    --------
    >>> import absorbphys as ap
    >>> Barw = ap.get_model("barw")
    >>> ds = ap.simulate(Barw(L=256, sigma=0.3), t_max=100, samples=8, times="log")
    >>> sorted(ds.data_vars)
    ['rho', 'rho2', 'survival']
    """

    L: int = 1024
    sigma: float = 0.5

    name = "barw"
    control = "sigma"
    size_param = "L"
    time_unit = "MCS"
    continuous_time = False
    inits = ("full", "seed")
    backends = ("cpu",)
    dim = 1
    params = {
        "L": Param("int", 4, doc="number of sites (ring); even for init='full'"),
        "sigma": Param("float", 0, 1, doc="branching probability (hop: 1 - sigma)"),
    }

    def _check_init(self, init):
        init = super()._check_init(init)
        if init == "full" and self.L % 2:
            raise ValueError(f"L must be even for init='full' (an odd particle number can "
                             f"never reach the empty state), got {self.L}")
        return init

    def _run(self, backend, times, sample_edges, init, seed):
        from absorbphys_barw._cpu import barw_kernel

        s0 = int(sample_edges[0])
        n_samples = int(sample_edges[-1] - sample_edges[0])
        n, r2 = barw_kernel(self.L, self.sigma, np.ascontiguousarray(times, np.int64),
                            s0, n_samples, int(seed), init == "seed")
        rho = n / self.L
        starts = np.asarray(sample_edges[:-1] - s0, dtype=np.int64)

        def per_batch(a):
            return np.add.reduceat(a, starts, axis=0)

        out = {"rho": per_batch(rho), "rho2": per_batch(rho * rho),
               "survival": per_batch((n > 0).astype(np.float64))}
        if init == "seed":
            out["n_active"] = per_batch(n)
            out["r2"] = per_batch(r2)
        return out

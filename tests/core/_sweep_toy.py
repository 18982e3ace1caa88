"""Test-only processes for the sweep tests (importable by worker processes)."""

from dataclasses import dataclass

import numpy as np
from numba import njit

import absorbphys as ap
from absorbphys import Param, _rng


@njit(cache=True)
def _kernel(L, p, times, edges, seed):
    # site DP on a ring; records at the first integer step >= each output time
    nb = len(edges) - 1
    nt = len(times)
    rho = np.zeros((nb, nt))
    rho2 = np.zeros((nb, nt))
    surv = np.zeros((nb, nt))
    for b in range(nb):
        for s in range(edges[b], edges[b + 1]):
            k0 = _rng.sample_key(seed, s, 0)
            x = np.ones(L, np.uint8)
            ti = 0
            t = 0
            while ti < nt:
                if t >= times[ti]:
                    n = 0
                    for i in range(L):
                        n += x[i]
                    r = n / L
                    rho[b, ti] += r
                    rho2[b, ti] += r * r
                    surv[b, ti] += n > 0
                    ti += 1
                    continue
                k = _rng.step_key(k0, t)
                y = np.zeros(L, np.uint8)
                for i in range(L):
                    if (x[i] or x[(i + 1) % L]) and _rng.uniform(k, i) < p:
                        y[i] = 1
                x = y
                t += 1
    return rho, rho2, surv


@ap.register
@dataclass(frozen=True)
class SweepToy(ap.AbsorbingProcess):
    """Test-only site DP on a ring (scalar kernel); ``kind`` is a dummy string parameter."""

    L: int = 8
    p: float = 0.5
    kind: str = "site"
    name = "_sweep_toy"
    control = "p"
    params = {"L": Param("int", 2, doc="sites"),
              "p": Param("float", 0, 1, doc="survival probability"),
              "kind": Param("str", choices=("site", "bond"), doc="dummy")}
    inits = ("full",)

    def _run(self, backend, times, edges, init, seed):
        rho, rho2, surv = _kernel(self.L, self.p, times, edges, seed)
        return {"rho": rho, "rho2": rho2, "survival": surv}


@ap.register
@dataclass(frozen=True)
class SweepToyCT(SweepToy):
    """Continuous-time variant (same dynamics, output at float times)."""

    name = "_sweep_toy_ct"
    continuous_time = True
    time_unit = "MCS"

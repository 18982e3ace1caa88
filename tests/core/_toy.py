"""A tiny test-only process (1+1 site DP on a scalar lattice) for core tests."""

from dataclasses import dataclass

import numpy as np
from numba import njit

import absorbphys as ap
from absorbphys import Param
from absorbphys.kernels import rng as _rng


@njit(cache=True)
def _toy_kernel(L, p, times, edges, seed, seed_init):
    # site DP on a ring; records at the first integer step >= each output time (integer or,
    # for the continuous-time toy of _sweep_toy.py, float times)
    nb = len(edges) - 1
    nt = len(times)
    rho = np.zeros((nb, nt))
    rho2 = np.zeros((nb, nt))
    surv = np.zeros((nb, nt))
    nact = np.zeros((nb, nt))
    r2 = np.zeros((nb, nt))
    for b in range(nb):
        for s in range(edges[b], edges[b + 1]):
            k0 = _rng.sample_key(seed, s, 0)
            x = np.zeros(L, np.uint8)
            if seed_init:
                x[0] = 1
            else:
                x[:] = 1
            ti = 0
            t = 0
            while ti < nt:
                if t >= times[ti]:
                    n = 0
                    m2 = 0.0
                    for i in range(L):
                        if x[i]:
                            n += 1
                            d = min(i, L - i)
                            m2 += d * d
                    r = n / L
                    rho[b, ti] += r
                    rho2[b, ti] += r * r
                    surv[b, ti] += n > 0
                    nact[b, ti] += n
                    r2[b, ti] += m2
                    ti += 1
                    continue
                k = _rng.step_key(k0, t)
                y = np.zeros(L, np.uint8)
                for i in range(L):
                    if (x[i] or x[(i + 1) % L]) and _rng.uniform(k, i) < p:
                        y[i] = 1
                x = y
                t += 1
    return rho, rho2, surv, nact, r2


@ap.register
@dataclass(frozen=True)
class ToyDP(ap.AbsorbingProcess):
    """Test-only site DP (slow scalar kernel)."""

    L: int = 16
    p: float = 0.5
    name = "_toy_dp"
    control = "p"
    params = {"L": Param("int", 2, doc="sites"), "p": Param("float", 0, 1, doc="probability")}

    def _run(self, backend, times, edges, init, seed):
        rho, rho2, surv, nact, r2 = _toy_kernel(self.L, self.p, times, edges, seed,
                                                init == "seed")
        out = {"rho": rho, "rho2": rho2, "survival": surv}
        if init == "seed":
            out.update(n_active=nact, r2=r2)
        return out

"""CPU kernel of the two-offspring branching-annihilating random walk (Numba)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from absorbphys.kernels import rng as _rng


@njit(cache=True, parallel=True)
def barw_kernel(L, sigma, times, s0, n_samples, seed, seed_init):
    """Run ``n_samples`` samples (global indices ``s0 ..``) and return per-sample observables.

    Random-sequential dynamics on a ring of ``L`` sites, ``L`` update attempts per Monte Carlo
    sweep (MCS). An attempt picks a site ``i`` uniformly and a direction ``d = ±1``; if ``i``
    holds a particle then, with probability ``sigma``, it branches, putting two offspring on
    ``i + d`` and ``i + 2d``; otherwise it hops to ``i + d``. A particle created on or moved
    to an occupied site annihilates with its occupant at once. Every move changes the
    particle number by -2, 0 or +2: parity is conserved.

    Randomness: attempt ``a`` of sweep ``t`` of sample ``s`` uses draw ``2a`` (site from the
    high 32 bits, direction from the lowest bit) and draw ``2a + 1`` (branch or hop) of
    ``step_key(sample_key(seed, s), t)``: the result does not depend on threads or batches.

    Parameters
    ----------
    L : int
        Number of sites (even for the fully occupied start).
    sigma : float
        Branching probability per attempt on an occupied site.
    times : numpy.ndarray
        Sorted int64 output times (MCS).
    s0, n_samples : int
        First global sample index and number of samples.
    seed : int
        Master seed.
    seed_init : bool
        Start from two particles on sites 0 and 1 instead of a full lattice.

    Returns
    -------
    n_active, r2 : numpy.ndarray
        float64 arrays ``(n_samples, len(times))``: number of particles and the sum of their
        squared minimum-image distances from site 0.
    """
    nt = times.shape[0]
    n_out = np.zeros((n_samples, nt))
    r2_out = np.zeros((n_samples, nt))
    ul = np.uint64(L)
    s32 = np.uint64(32)
    one = np.uint64(1)
    for j in prange(n_samples):
        key0 = _rng.sample_key(seed, s0 + j, _rng.STREAM_DYNAMICS)
        x = np.zeros(L, np.uint8)
        if seed_init:
            x[0] = 1
            x[1] = 1
            n = 2
        else:
            x[:] = 1
            n = L
        ti = 0
        t = 0
        while ti < nt:
            if times[ti] == t:
                m2 = 0.0
                if n > 0:
                    for i in range(L):
                        if x[i]:
                            dist = min(i, L - i)
                            m2 += dist * dist
                n_out[j, ti] = n
                r2_out[j, ti] = m2
                ti += 1
                continue
            if n == 0:
                break  # absorbed: the remaining outputs stay 0
            k = _rng.step_key(key0, t)
            for a in range(L):
                u = _rng.draw(k, np.uint64(2 * a))
                i = np.int64(((u >> s32) * ul) >> s32)
                if x[i] == 0:
                    continue
                d = 1 if (u & one) == one else -1
                if _rng.uniform(k, np.uint64(2 * a + 1)) < sigma:
                    # A -> 3A: offspring on i + d and i + 2d; each lands on an occupied site
                    # annihilates with it (2A -> 0)
                    for m in range(1, 3):
                        dest = (i + m * d) % L
                        if x[dest]:
                            x[dest] = 0
                            n -= 1
                        else:
                            x[dest] = 1
                            n += 1
                else:
                    dest = (i + d) % L
                    x[i] = 0
                    if x[dest]:
                        x[dest] = 0
                        n -= 2
                    else:
                        x[dest] = 1
                if n == 0:
                    break
            t += 1
    return n_out, r2_out

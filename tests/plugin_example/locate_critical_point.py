"""Locate the critical point of the example plugin and measure its exponents.

Run from the repository root after installing the plugin::

    python tests/plugin_example/locate_critical_point.py            # a few minutes on 2 cores

At the critical point of the parity-conserving class the mean number of particles of runs
started from two neighbouring particles stays constant, N(t) ~ t^eta with eta = 0, so the
sign of the log-log slope of N(t) brackets sigma_c (it is negative in the absorbing phase and
positive in the active one). The script prints that slope for a few sigma, then the decay
exponent delta (full lattice), delta' and theta (seed) at the interpolated zero; for the
analysis suite's verdict on such data see docs/extending.md.
"""

import numpy as np

import absorbphys as ap


def slope(ds, var, t_min, t_max):
    """Log-log slope of the sample mean of ``var`` over [t_min, t_max]."""
    t = ds.t.values
    m = (t >= t_min) & (t <= t_max)
    y = np.average(ds[var].values[:, m], axis=0, weights=ds.n_samples.values)
    return np.polyfit(np.log(t[m]), np.log(y), 1)[0]


def main():
    """Scan sigma with seed runs, then measure at the estimated critical point."""
    barw = ap.get_model("barw")
    sigmas = [0.48, 0.485, 0.49, 0.495, 0.50]
    slopes = []
    for s in sigmas:
        ds = ap.simulate(barw(L=1024, sigma=s), t_max=3000, samples=20000, init="seed",
                         times="log", seed=2)
        slopes.append(slope(ds, "n_active", 100, 3000))
        print(f"sigma = {s:.3f}: d ln N / d ln t = {slopes[-1]:+.4f}", flush=True)
    sigma_c = float(np.interp(0.0, slopes, sigmas))
    print(f"sigma_c ~ {sigma_c:.4f} (zero of the slope, linear interpolation)")
    full = ap.simulate(barw(L=4000, sigma=round(sigma_c, 3)), t_max=3000, samples=40,
                       times="log", seed=3)
    seed = ap.simulate(barw(L=1024, sigma=round(sigma_c, 3)), t_max=3000, samples=20000,
                       init="seed", times="log", seed=4)
    print(f"delta  = {-slope(full, 'rho', 100, 3000):.3f}   (PC 2/7 = 0.286, DP 0.1595)")
    print(f"delta' = {-slope(seed, 'survival', 100, 3000):.3f}   (PC 2/7 = 0.286, DP 0.1595)")
    print(f"theta  = {slope(seed, 'n_active', 100, 3000):+.3f}   (PC 0, DP 0.3137)")


if __name__ == "__main__":
    main()

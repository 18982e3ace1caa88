"""Synthetic datasets in the absorbphys schema with known exponents, amplitudes and noise.

Every generator draws per-batch multiplicative noise ``1 + noise * eps / sqrt(n_samples)``,
``eps`` a sum of a batch-level offset and a per-time part (batches are independent, times
within a batch correlated, as in real runs).
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def _noisy(mean, batches, n_samples, noise, rng):
    """mean: (*extra, nt) -> (batch, *extra, nt) with multiplicative noise."""
    shape = (batches,) + mean.shape
    common = rng.standard_normal((batches,) + mean.shape[:-1] + (1,))
    local = rng.standard_normal(shape)
    eps = (common + local) / np.sqrt(2.0)
    return mean[None] * (1.0 + noise * eps / np.sqrt(n_samples))


def make(fn, t, *, batches=20, n_samples=50, noise=0.3, seed=0, sweep=None, attrs=None,
         var="rho", extra_vars=None):
    """Build a Dataset with ``var = fn(t, **point)`` for every point of ``sweep``.

    Parameters
    ----------
    fn : callable
        ``fn(t, **coords) -> mean curve`` (broadcasting over swept coordinates).
    t : array_like
        Time coordinate.
    sweep : dict of str to array_like, optional
        Swept dims (in order).
    extra_vars : dict of str to callable, optional
        More variables with their own mean functions.
    """
    rng = np.random.default_rng(seed)
    t = np.asarray(t)
    sweep = sweep or {}
    grids = np.meshgrid(*[np.asarray(v, float) for v in sweep.values()], indexing="ij")
    kw = {k: g[..., None] for k, g in zip(sweep, grids)}
    tt = t.astype(float).reshape((1,) * len(sweep) + (-1,))
    dims = ("batch",) + tuple(sweep) + ("t",)
    data = {}
    for name, f in {var: fn, **(extra_vars or {})}.items():
        mean = np.broadcast_to(f(tt, **kw), tuple(len(v) for v in sweep.values()) + t.shape)
        data[name] = (dims, _noisy(np.asarray(mean, float), batches, n_samples, noise, rng))
    coords = {"t": t, "batch": np.arange(batches),
              "n_samples": ("batch", np.full(batches, n_samples, dtype=np.int64))}
    coords.update({k: np.asarray(v) for k, v in sweep.items()})
    base = {"model": "synthetic", "params": "{}", "control": "p", "size_param": "L",
            "dim": 1, "init": "full", "time_unit": "step"}
    base.update(attrs or {})
    return xr.Dataset(data, coords=coords, attrs=base)


def log_times(t_max=1000, n=60, zero=True):
    t = np.unique(np.rint(np.geomspace(1, t_max, n)).astype(np.int64))
    return np.concatenate([[0], t]) if zero else t


def power_law(delta, amplitude=1.0, a=0.0, omega=1.0):
    def f(t, **_):
        with np.errstate(divide="ignore"):
            tt = np.where(t > 0, t, 1.0)
        out = amplitude * tt ** (-delta) * (1 + a * tt ** (-omega))
        return np.where(t > 0, out, 1.0)
    return f


def scaling_sweep(delta, nu_par, xc, amplitude=0.8):
    """rho(t, p) = A t^-delta G((p - xc) t^(1/nu_par)) with an analytic G; beta = delta nu_par.

    G(u) = (s(u) / s(0))^beta, s(u) = ln(1 + e^u): G(u) ~ (u / ln 2)^beta for u >> 1, so
    rho_s = A (Delta / ln 2)^beta; G decays as exp(-beta |u|) for u << -1, so the
    relaxation time scales as |Delta|^-nu_par.
    """
    beta = delta * nu_par

    def f(t, p, **_):
        tt = np.where(t > 0, t, 1.0)
        u = (p - xc) * tt ** (1.0 / nu_par)
        g = (np.logaddexp(0.0, u) / np.log(2.0)) ** beta
        return np.where(t > 0, amplitude * tt ** (-delta) * g, amplitude)
    return f


def fss(a, b, amplitude=1.0, size_name="L"):
    """rho(t, L) = L^-a F(t / L^b), F(x) = A x^(-a/b) exp(-x)."""
    def f(t, **kw):
        L = kw[size_name]
        tt = np.where(t > 0, t, 1.0)
        x = tt / L ** b
        return amplitude * L ** (-a) * x ** (-a / b) * np.exp(-x)
    return f

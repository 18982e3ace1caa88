"""CPU kernels of the residual MLP (Numba). See :mod:`absorbphys.models.resmlp` for the maths.

The residual branch ``alpha (W phi(h) + b)`` of a layer with fresh weights is, given the
layer, the MLP's exact Gaussian transition with ``sigma_w -> alpha sigma_w`` and
``sigma_b -> alpha sigma_b``; the layer *adds* it to ``(h, d)`` instead of overwriting them.
The per-unit loops reuse the MLP's vectorised helpers (:mod:`absorbphys.models._mlp_cpu`:
``normal_pair_vec``, ``act_block``, ``resid_block``, ``init_pair``, ``replica_rho``), the
same blocks of :data:`~absorbphys.models._mlp_cpu.BLOCK` units and the same random streams
(``STREAM_INPUT`` for layer 0, ``step_key(sample_key(seed, s, STREAM_DYNAMICS), t)`` for the
branch of layer ``t``, normal pair ``i`` for unit ``i``): every number is a pure function
of (seed, sample, layer, unit), so results do not depend on threads or batches.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from absorbphys.kernels.rng import sample_key, step_key
from absorbphys.kernels.sums import alloc_sums
from absorbphys.models import _mlp_cpu
from absorbphys.models._mlp_cpu import (
    BLOCK,
    STREAM_DYNAMICS,
    STREAM_INPUT,
    act_block,
    act_gram,
    init_pair,
    normal_pair_vec,
    replica_rho,
    transition,
)
from absorbphys.models.activations import rebind_njit, user_namespace_cpu


def _py_add_block(h, d, u_buf, du_buf, i0, i1):
    """``h[i] += u_buf[i - i0]``, ``d[i] += du_buf[i - i0]`` for ``i`` in ``[i0, i1)``."""
    for i in range(i0, i1):
        h[i] = h[i] + u_buf[i - i0]
        d[i] = d[i] + du_buf[i - i0]


add_block = njit(cache=True, inline="always", error_model="numpy")(_py_add_block)


def _py_residual_layer(code, h, d, a_buf, e_buf, key, sw2n, sb2, A, B, D):
    """One exact residual layer: ``h += u``, ``d += u' - u``, in place.

    ``(u_i, u'_i)`` are i.i.d. over units, bivariate normal with covariance
    ``sw2n Gram(phi(h), phi(h')) + sb2``, where ``sw2n = alpha**2 sigma_w**2 / N`` and
    ``sb2 = alpha**2 sigma_b**2``: ``u ~ N(0, q11)``, ``u' - u = (cov / q11) u + sd z2`` with
    ``cov = sw2n B``, ``sd**2 = sw2n (sw2n (A D - B**2) + sb2 D) / q11`` (``A = |a|^2``,
    ``B = a.e``, ``D = |e|^2``, ``a = phi(h)``, ``e = phi(h') - phi(h)``: ``_mlp_cpu``'s
    ``transition``, shared with the MLP). On entry ``(A, B, D)``
    are the sums of the current layer; those of the new layer are returned (fused with the
    update, block by block). ``a_buf``, ``e_buf``: scratch of ``min(n, BLOCK)`` entries.
    """
    n = h.shape[0]
    sh, slope, sd = transition(code, h, d, a_buf, e_buf, sw2n, sb2, A, B, D)
    A = 0.0
    B = 0.0
    D = 0.0
    for i0 in range(0, n, BLOCK):
        i1 = min(i0 + BLOCK, n)
        # branch into the scratch buffers first (stores only: vectorised like the MLP's
        # loop), then a plain add; one fused read-modify-write loop does not vectorise
        for i in range(i0, i1):
            z1, z2 = normal_pair_vec(key, i)
            u = sh * z1
            a_buf[i - i0] = u
            e_buf[i - i0] = slope * u + sd * z2
        add_block(h, d, a_buf, e_buf, i0, i1)
        s1, s2, s3 = act_block(code, h, d, a_buf, e_buf, i0, i1)
        A += s1
        B += s2
        D += s3
    return A, B, D


residual_layer = njit(cache=True, error_model="numpy", fastmath={"contract"})(
    _py_residual_layer)


def _py_residual_sample(code, n, sw2n, sb2, q0, rho0, times, s, seed, eps, h, d, a_buf, e_buf,
                        rho_s, rho2_s, surv_s, nact_s, b):
    """Run sample ``s`` and add its observables to row ``b`` of the output sums."""
    nt = times.shape[0]
    init_pair(h, d, sample_key(seed, s, STREAM_INPUT), 0, q0, rho0)
    kdyn = sample_key(seed, s, STREAM_DYNAMICS)
    A, B, D = act_gram(code, h, d, a_buf, e_buf)
    t = 0
    ti = 0
    while ti < nt:
        if t == times[ti]:
            r = replica_rho(h, d)
            rho_s[b, ti] += r
            rho2_s[b, ti] += r * r
            if r > eps:
                surv_s[b, ti] += 1.0
                nact_s[b, ti] += n * r
            ti += 1
            continue
        A, B, D = residual_layer(code, h, d, a_buf, e_buf, step_key(kdyn, t), sw2n, sb2, A, B,
                                 D)
        t += 1


residual_sample = njit(cache=True)(_py_residual_sample)


def _py_resmlp_gaussian(code, n, sw, sb, alpha, q0, rho0, times, edges, seed, eps, dtype_one):
    """Per-batch sums ``(rho, rho2, survival, n_active)`` of shape ``(nb, len(times))``.

    Parallel over batches (``prange``); every sample's numbers depend only on
    ``(seed, sample)``, so the sums are the same for any number of threads.
    """
    nb = edges.shape[0] - 1
    nt = times.shape[0]
    rho_s, rho2_s, surv_s, nact_s = alloc_sums(nb, nt)
    sw2n = alpha * alpha * sw * sw / n
    sb2 = alpha * alpha * sb * sb
    for b in prange(nb):
        h = np.empty(n, dtype=dtype_one.dtype)
        d = np.empty(n, dtype=dtype_one.dtype)
        a_buf = np.empty(BLOCK)
        e_buf = np.empty(BLOCK)
        for s in range(edges[b], edges[b + 1]):
            residual_sample(code, n, sw2n, sb2, q0, rho0, times, s, seed, eps, h, d, a_buf,
                            e_buf, rho_s, rho2_s, surv_s, nact_s, b)
    return rho_s, rho2_s, surv_s, nact_s


resmlp_gaussian = njit(cache=True, parallel=True)(_py_resmlp_gaussian)

# ------------------------------------------------------------------ user activations
_USER_KERNELS: dict = {}


def compile_for(act):
    """Return ``resmlp_gaussian`` compiled for a user activation (no disk cache).

    Parameters
    ----------
    act : Activation
        A user activation (``act.code == -1``).

    Returns
    -------
    numba.core.registry.CPUDispatcher
    """
    if act in _USER_KERNELS:
        return _USER_KERNELS[act]
    # the MLP module's namespace (activation helpers, RNG) plus this module's names, with
    # act_phi_diff bound to the user function; the MLP's per-block helpers are recompiled
    # from their pure-Python sources (``py_func``) against it
    ns = user_namespace_cpu(act, {**vars(_mlp_cpu), **globals()})

    def rebind(fn, **kw):
        return rebind_njit(fn, ns, **kw)

    ns["act_block"] = rebind(act_block.py_func, error_model="numpy", fastmath={"contract"})
    ns["act_gram"] = rebind(act_gram.py_func, error_model="numpy", fastmath={"contract"})
    ns["transition"] = rebind(transition.py_func, inline="always", error_model="numpy",
                              fastmath={"contract"})
    ns["residual_layer"] = rebind(_py_residual_layer, error_model="numpy",
                                  fastmath={"contract"})
    ns["residual_sample"] = rebind(_py_residual_sample)
    kern = rebind(_py_resmlp_gaussian, parallel=True)
    _USER_KERNELS[act] = kern
    return kern

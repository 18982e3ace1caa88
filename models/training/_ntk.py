"""The empirical neural tangent kernel at initialisation and its spectrum."""

from __future__ import annotations

import math

import numpy as np

from ._trainer import check_inputs


# ====================================================================== NTK
def jacobian(net, X):
    """Jacobian of the logits w.r.t. every parameter, by per-example backprop.

    Parameters
    ----------
    net : Network
        The network.
    X : array_like, shape (n, d_in)
        Inputs.

    Returns
    -------
    ndarray, shape (n * n_classes, n_params)
        Row ``i * n_classes + k`` is ``d z_k(x_i) / d theta``, columns in the order of
        :meth:`Network.get_flat`.
    """
    X = check_inputs(net, X)
    return np.concatenate(list(net.per_example_jacobian_blocks(X)), axis=1)


def empirical_ntk(net, X):
    r"""Empirical neural tangent kernel :math:`\Theta = J J^\top` on the inputs ``X``.

    Accumulated layer by layer (the full Jacobian is never stored).

    Parameters
    ----------
    net : Network
        The network (usually at initialisation).
    X : array_like, shape (n, d_in)
        Inputs (a data subset).

    Returns
    -------
    ndarray, shape (n * n_classes, n * n_classes)
        Symmetric positive semi-definite Gram matrix, rows ordered (example, class).
    """
    X = check_inputs(net, X)
    m = X.shape[0] * net.spec["n_classes"]
    theta = np.zeros((m, m))
    for J in net.per_example_jacobian_blocks(X):
        theta += J @ J.T
    return 0.5 * (theta + theta.T)


def ntk_spectrum(net, X):
    """Spectrum and condition number of the empirical NTK on ``X``.

    Parameters
    ----------
    net : Network
        The network.
    X : array_like, shape (n, d_in)
        Inputs.

    Returns
    -------
    dict
        ``eigenvalues`` (ascending, negative round-off clipped to 0), ``lambda_max``,
        ``lambda_min``, ``trace``, ``condition_number`` (``lambda_max / lambda_min``; inf
        when singular to round-off).
    """
    theta = empirical_ntk(net, X)
    return spectrum(theta)


def spectrum(theta):
    ev = np.linalg.eigvalsh(theta)
    lmax = float(ev[-1])
    tol = max(lmax, 0.0) * theta.shape[0] * np.finfo(float).eps
    ev = np.where(ev < 0, 0.0, ev)
    lmin = float(ev[0])
    cond = lmax / lmin if lmin > tol else math.inf
    return dict(eigenvalues=ev, lambda_max=lmax, lambda_min=lmin, trace=float(np.trace(theta)),
                condition_number=cond)

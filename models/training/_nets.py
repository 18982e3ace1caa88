"""Networks for :mod:`absorbphys.models.training`: initialisation, forward pass, backprop.

Pure NumPy, vectorised over the batch. Two architectures:

* ``"mlp"``: ``depth`` hidden layers of ``width`` units, ``h^1 = W^1 x + b^1``,
  ``h^{l+1} = W^{l+1} phi(h^l) + b^{l+1}``, logits ``z = W^o phi(h^L) + b^o``.
* ``"cnn"``: 1D periodic convolutions, the input is one channel of length ``d_in``;
  ``depth`` layers of ``channels`` channels and odd ``kernel_size`` (centred, circular
  padding); the readout is linear on the flattened last layer.

Every weight is drawn as ``W ~ N(0, sigma_w**2 / fan_in)`` and every bias as
``b ~ N(0, sigma_b**2)`` -- the law of the random-network processes (MLP: ``fan_in = N``;
input layer ``fan_in = d_in``; CNN: ``fan_in = C_in * kernel_size``; readout: its own fan-in).
Layer ``l`` draws from its own stream ``SeedSequence(seed, spawn_key=(0, replica, l))``
(the readout from ``spawn_key=(3, replica)``),
so networks that differ only in ``sigma_w``, ``sigma_b`` or depth share the same
underlying standard normals (common random numbers across a sweep).
"""

from __future__ import annotations

import math

import numpy as np

from absorbphys.models import activations as _activations

ARCHS = ("mlp", "cnn")

# Stream identifiers for SeedSequence spawn keys (kept stable: changing them changes results).
STREAM_INIT, STREAM_SGD, STREAM_DATA, STREAM_READOUT = 0, 1, 2, 3


#: Names of the activations (those of :mod:`absorbphys.models.activations`).
ACTIVATIONS = _activations.ACTIVATIONS


def layer_rng(seed: int, replica: int, layer: int) -> np.random.Generator:
    """Return the generator of one layer's initial weights (see the module docstring)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(STREAM_INIT, int(replica), int(layer)))
    return np.random.default_rng(ss)


class Network:
    """A small MLP or periodic 1D CNN with its parameters (plain NumPy arrays).

    Build it with :func:`absorbphys.models.training.init_network`; the constructor takes the
    already validated specification and the parameter list.

    Parameters
    ----------
    spec : dict
        Validated specification (``arch``, ``d_in``, ``n_classes``, ``depth``, ``width``,
        ``channels``, ``kernel_size``, ``sigma_w``, ``sigma_b``, ``activation``, ``seed``,
        ``replica``).
    params : list of tuple of ndarray
        ``[(W, b), ...]``: the hidden layers in order, then the readout.

    Attributes
    ----------
    params : list of tuple of ndarray
        Trainable parameters, updated in place by SGD.
    """

    def __init__(self, spec, params):
        self.spec = dict(spec)
        self.params = params
        act = _activations.get_activation(spec["activation"])
        self._phi, self._dphi = act.np_phi, act.np_dphi
        if spec["arch"] == "cnn":
            n, k = spec["d_in"], spec["kernel_size"]
            self._shifts = np.arange(k) - k // 2
            self._idx = (np.arange(n)[None, :] + self._shifts[:, None]) % n  # (K, n)

    def __repr__(self):
        s = self.spec
        extra = (f"width={s['width']}" if s["arch"] == "mlp"
                 else f"channels={s['channels']}, kernel_size={s['kernel_size']}")
        return (f"Network(arch={s['arch']!r}, depth={s['depth']}, {extra}, "
                f"sigma_w={s['sigma_w']:g}, sigma_b={s['sigma_b']:g}, "
                f"activation={s['activation']!r}, n_params={self.n_params})")

    # ------------------------------------------------------------------ parameters
    @property
    def n_params(self) -> int:
        """Total number of trainable parameters."""
        return int(sum(W.size + b.size for W, b in self.params))

    def get_flat(self) -> np.ndarray:
        """Return all parameters as one vector (layer order, ``W`` then ``b``)."""
        return np.concatenate([a.ravel() for W, b in self.params for a in (W, b)])

    def set_flat(self, theta) -> None:
        """Overwrite the parameters from a vector in the order of :meth:`get_flat`."""
        theta = np.asarray(theta, dtype=self.params[0][0].dtype)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        pos = 0
        for W, b in self.params:
            for a in (W, b):
                a[...] = theta[pos:pos + a.size].reshape(a.shape)
                pos += a.size

    def copy(self) -> Network:
        """Return an independent copy (parameters copied)."""
        return Network(self.spec, [(W.copy(), b.copy()) for W, b in self.params])

    # ------------------------------------------------------------------ forward
    def _shift(self, x):
        """(B, C, n) -> (B, C, K, n) with ``out[..., k, i] = x[..., (i + s_k) % n]``."""
        return np.stack([np.roll(x, -int(s), axis=-1) for s in self._shifts], axis=2)

    def forward(self, X, cache=False):
        """Logits for inputs ``X`` of shape ``(B, d_in)``; optionally the layer cache."""
        phi = self._phi
        hs, xs = [], []
        if self.spec["arch"] == "mlp":
            x = X
            for W, b in self.params[:-1]:
                xs.append(x)
                h = x @ W.T + b
                hs.append(h)
                x = phi(h)
            xs.append(x)
            Wo, bo = self.params[-1]
            z = x @ Wo.T + bo
        else:
            x = X[:, None, :]
            for W, b in self.params[:-1]:
                xsh = self._shift(x)
                xs.append(xsh)
                h = np.moveaxis(np.tensordot(W, xsh, axes=([1, 2], [1, 2])), 0, 1) \
                    + b[:, None]
                hs.append(h)
                x = phi(h)
            x = x.reshape(x.shape[0], -1)
            xs.append(x)
            Wo, bo = self.params[-1]
            z = x @ Wo.T + bo
        return (z, (hs, xs)) if cache else z

    # ------------------------------------------------------------------ backward
    def backward(self, cache, dz, per_example=False):
        """Gradients of ``sum(dz * z)`` w.r.t. every parameter (reverse-mode, by hand).

        Parameters
        ----------
        cache : tuple
            Second output of ``forward(X, cache=True)``.
        dz : ndarray, shape (..., B, n_classes)
            Output cotangents; leading axes are independent cotangent vectors.
        per_example : bool
            Keep the example axis ``B`` (shape ``(..., B) + W.shape``) instead of summing.

        Returns
        -------
        list of tuple of ndarray
            ``[(dW, db), ...]`` in the order of :attr:`params`.
        """
        hs, xs = cache
        dphi = self._dphi
        grads = []
        Wo, _ = self.params[-1]
        x_last = xs[-1]
        if per_example:
            grads.append((dz[..., :, :, None] * x_last[:, None, :], dz))
        elif dz.ndim == 2:
            grads.append((dz.T @ x_last, dz.sum(axis=0)))
        else:
            grads.append((np.einsum("...bk,bj->...kj", dz, x_last, optimize=True),
                          dz.sum(axis=-2)))
        g = dz @ Wo  # (..., B, fan_in of readout)
        if self.spec["arch"] == "mlp":
            for li in range(len(self.params) - 2, -1, -1):
                W, _ = self.params[li]
                delta = g * dphi(hs[li])
                xin = xs[li]
                if per_example:
                    grads.append((delta[..., :, :, None] * xin[:, None, :], delta))
                elif delta.ndim == 2:
                    grads.append((delta.T @ xin, delta.sum(axis=0)))
                else:
                    grads.append((np.einsum("...bi,bj->...ij", delta, xin, optimize=True),
                                  delta.sum(axis=-2)))
                if li > 0:
                    g = delta @ W
        else:
            C = self.spec["channels"]
            g = g.reshape(g.shape[:-1] + (C, -1))  # (..., B, C, n)
            for li in range(len(self.params) - 2, -1, -1):
                W, _ = self.params[li]
                delta = g * dphi(hs[li])  # (..., B, C_out, n)
                xsh = xs[li]  # (B, C_in, K, n)
                if per_example:
                    dW = np.einsum("...bon,bckn->...bock", delta, xsh, optimize=True)
                    db = delta.sum(axis=-1)
                elif delta.ndim == 3:
                    B, Ci, K, n = xsh.shape
                    dW = np.tensordot(delta, xsh.reshape(B, Ci * K, n),
                                      axes=([0, 2], [0, 2])).reshape(W.shape)
                    db = delta.sum(axis=(0, 2))
                else:
                    dW = np.einsum("...bon,bckn->...ock", delta, xsh, optimize=True)
                    db = delta.sum(axis=(-3, -1))
                grads.append((dW, db))
                if li > 0 and delta.ndim == 3:
                    dxsh = np.moveaxis(np.tensordot(W, delta, axes=([0], [1])), 2, 0)
                elif li > 0:
                    dxsh = np.einsum("...bon,ock->...bckn", delta, W, optimize=True)
                if li > 0:
                    g = np.zeros(dxsh.shape[:-2] + dxsh.shape[-1:], dtype=dxsh.dtype)
                    for k, s in enumerate(self._shifts):
                        g += np.roll(dxsh[..., k, :], int(s), axis=-1)
        grads.reverse()
        return grads

    # ------------------------------------------------------------------ losses
    def loss_and_grad(self, X, y):
        """Mean softmax cross-entropy on ``(X, y)`` and its gradient (list like ``params``)."""
        z, cache = self.forward(X, cache=True)
        loss, dz = softmax_xent(z, y)
        return loss, self.backward(cache, dz)

    # ------------------------------------------------------------------ NTK
    def per_example_jacobian_blocks(self, X):
        """Yield ``J_l`` of shape ``(B * n_classes, P_l)`` per parameter array.

        Rows are ordered (example, class); columns follow :meth:`get_flat`.
        """
        B = X.shape[0]
        k = self.spec["n_classes"]
        z, cache = self.forward(X, cache=True)
        dz = np.broadcast_to(np.eye(k, dtype=z.dtype)[:, None, :], (k, B, k))
        grads = self.backward(cache, dz, per_example=True)
        for dW, db in grads:
            for a in (dW, db):
                # a: (k, B, *shape) -> (B, k, P)
                a = np.moveaxis(a.reshape(k, B, -1), 0, 1)
                yield a.reshape(B * k, -1)


def softmax_xent(z, y):
    """Mean softmax cross-entropy of logits ``z`` (B, k) with labels ``y`` and d loss / dz."""
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    logp = z - m - np.log(s)
    B = z.shape[0]
    loss = -float(np.mean(logp[np.arange(B), y]))
    dz = e / s
    dz[np.arange(B), y] -= 1.0
    dz /= B
    return loss, dz


def build_params(spec, dtype=np.float64):
    """Draw the initial parameters of a network with the given validated ``spec``."""
    sw, sb = spec["sigma_w"], spec["sigma_b"]
    seed, rep = spec["seed"], spec["replica"]
    depth, k = spec["depth"], spec["n_classes"]
    params = []
    if spec["arch"] == "mlp":
        N = spec["width"]
        shapes = [(N, spec["d_in"])] + [(N, N)] * (depth - 1) + [(k, N)]
        fan_in = [s[1] for s in shapes]
    else:
        C, K, n = spec["channels"], spec["kernel_size"], spec["d_in"]
        shapes = [(C, 1, K)] + [(C, C, K)] * (depth - 1) + [(k, C * n)]
        fan_in = [K] + [C * K] * (depth - 1) + [C * n]
    for layer, (shape, fi) in enumerate(zip(shapes, fan_in)):
        if layer < depth:
            rng = layer_rng(seed, rep, layer)
        else:  # the readout has its own stream, shared by every depth
            rng = np.random.default_rng(np.random.SeedSequence(
                int(seed), spawn_key=(STREAM_READOUT, int(rep))))
        W = rng.standard_normal(shape) * (sw / math.sqrt(fi))
        b = rng.standard_normal(shape[0]) * sb
        params.append((W.astype(dtype), b.astype(dtype)))
    return params

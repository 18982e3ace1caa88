r"""Training dynamics near the phase boundary of random deep networks.

A small NumPy trainer (hand-written backprop) for MLPs and periodic 1D CNNs initialised
exactly as the random-network processes draw them (``W ~ N(0, sigma_w**2 / fan_in)``,
``b ~ N(0, sigma_b**2)``), trainability sweeps over the ``(sigma_w, depth)`` plane and over
``sigma_b``, the empirical neural tangent kernel (NTK) at initialisation, and a report that
relates the test accuracy to the mean-field metric factor :math:`\kappa L` and to the
distance from the critical line :math:`\sigma_{w,c}(\sigma_b)`.

At criticality the order parameter of the two-replica process decays as

.. math:: \rho(l) = 1 - c(l) \simeq \frac{1}{\kappa\, l},

so after :math:`L` layers two inputs keep a decorrelation :math:`1/(\kappa L)`: the product
:math:`\kappa L` measures how far a critical network of depth :math:`L` has collapsed, and
differs between boundary points (``sigma_b``, activation) with different :math:`\kappa`.
Off the boundary the mean-field correlation depth :math:`\xi(\sigma_w, \sigma_b)` sets the
trainable depth, :math:`L \lesssim c\,\xi` (Schoenholz et al., ICLR 2017).

Public functions: :func:`make_task`, :func:`init_network`, :func:`train`,
:func:`jacobian`, :func:`empirical_ntk`, :func:`ntk_spectrum`,
:func:`trainability_sweep`, :func:`critical_sweep`, :func:`measure_width_cost`,
:func:`plot_trainability`, :func:`training_report`. Nothing is downloaded: the default
task is a synthetic teacher-student problem; ``task="digits"`` uses scikit-learn's
bundled 8x8 digits (optional extra ``absorbphys[digits]``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math

import numpy as np
import xarray as xr

from absorbphys._params import Param
from absorbphys._progress import Progress
from absorbphys._version import __version__

from . import _train_data, _train_nets, meanfield
from ._train_nets import ACTIVATIONS, ARCHS, STREAM_SGD, Network

__all__ = [
    "Network",
    "Task",
    "critical_sweep",
    "empirical_ntk",
    "init_network",
    "jacobian",
    "make_task",
    "measure_width_cost",
    "ntk_spectrum",
    "plot_trainability",
    "train",
    "trainability_sweep",
    "training_report",
]

Task = _train_data.Task

#: Valid range of every argument of the trainer and the sweeps (also used by ``absorbphys
#: train`` to check its options).
PARAMS = {
    "arch": Param("str", choices=ARCHS),
    "activation": Param("str", choices=tuple(ACTIVATIONS)),
    "task": Param("str", choices=_train_data.TASKS),
    "teacher": Param("str", choices=_train_data.TEACHERS),
    "d_in": Param("int", 1, 4096),
    "n_classes": Param("int", 2, 1000),
    "teacher_width": Param("int", 1, 4096),
    "n_train": Param("int", 1, 10**6),
    "n_test": Param("int", 1, 10**6),
    "depth": Param("int", 1, 1000),
    "width": Param("int", 1, 8192),
    "channels": Param("int", 1, 1024),
    "kernel_size": Param("int", 1, 63),
    "sigma_w": Param("float", 0.0, 100.0, low_open=True),
    "sigma_b": Param("float", 0.0, 100.0),
    "seed": Param("int", 0, 2**63 - 1),
    "replica": Param("int", 0, 2**31 - 1),
    "repeats": Param("int", 1, 10**4),
    "lr": Param("float", 0.0, 1e3, low_open=True),
    "epochs": Param("int", 0, 10**5),
    "batch_size": Param("int", 1, 10**6),
    "ntk_examples": Param("int", 0, 4096),
    "n_boot": Param("int", 0, 10**6),
}


#: Most values one swept argument may list (sigma_w, depth, sigma_b, widths, activations):
#: every value multiplies the networks trained, each for about a second; refused before
#: anything is allocated or trained.
MAX_GRID_VALUES = 10_000
#: Most networks one sweep may train (grid points x repeats): about 10 days at a second each.
MAX_TRAININGS = 10**6


def _check(name, value):
    return PARAMS[name].check(name, value)


def _check_trainings(n):
    """Refuse a sweep of more than :data:`MAX_TRAININGS` networks (one-line ValueError)."""
    if n > MAX_TRAININGS:
        raise ValueError(f"repeats: the grid times repeats asks for {n} trained networks, at "
                         f"most {MAX_TRAININGS:.0e}; use fewer grid values or repeats")


def _mf_nan(fn, *args, activation):
    """Return a mean-field quantity, NaN where the mean field has none."""
    try:
        return float(fn(*args, activation=activation))
    except (ValueError, RuntimeError, ArithmeticError):
        return math.nan


def _kappa(sigma_b, activation):
    """``meanfield.kappa``, NaN for activations with kinks (no finite kappa)."""
    try:
        return float(meanfield.kappa(sigma_b, activation=activation))
    except ValueError:
        return math.nan


def _blas_one_thread():
    """Limit BLAS to one thread: the trainer's matrices are tiny and threads only contend.

    Uses ``threadpoolctl`` when installed (it comes with scikit-learn); otherwise a no-op
    (set ``OPENBLAS_NUM_THREADS=1`` yourself for the same effect).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ====================================================================== data and networks
def make_task(task="teacher", *, n_train=512, n_test=512, d_in=16, n_classes=4,
              teacher="mlp", teacher_width=32, seed=0):
    """Build a classification task with a train/test split (nothing is downloaded).

    Parameters
    ----------
    task : {"teacher", "digits"}
        ``"teacher"``: Gaussian inputs ``x ~ N(0, I_{d_in})`` labelled by the arg-max of a
        fixed random teacher (``teacher="mlp"``: one tanh hidden layer of ``teacher_width``
        units; ``"linear"``: a random linear map). ``"digits"``: scikit-learn's bundled 8x8
        digits (64 features, 10 classes; needs ``pip install 'absorbphys[digits]'``).
    n_train, n_test : int
        Sizes of the two sets (digits: ``n_train + n_test <= 1797``).
    d_in, n_classes : int
        Input dimension and number of classes of the teacher task (ignored for digits).
    teacher : {"mlp", "linear"}
        Teacher rule.
    teacher_width : int
        Hidden width of the MLP teacher.
    seed : int
        Seed of the inputs, the teacher and the digits shuffle.

    Returns
    -------
    Task
        Inputs standardised with the training mean and standard deviation per feature.

    Examples
    --------
    >>> t = make_task(n_train=64, n_test=32, seed=1)
    >>> t.X_train.shape, t.n_classes
    ((64, 16), 4)
    """
    task = _check("task", task)
    n_train, n_test = _check("n_train", n_train), _check("n_test", n_test)
    seed = _check("seed", seed)
    if task == "teacher":
        d_in, n_classes = _check("d_in", d_in), _check("n_classes", n_classes)
        teacher = _check("teacher", teacher)
        teacher_width = _check("teacher_width", teacher_width)
        arrays = _train_data.teacher_task(n_train, n_test, d_in, n_classes, teacher,
                                          teacher_width, seed)
        params = dict(task=task, n_train=n_train, n_test=n_test, d_in=d_in,
                      n_classes=n_classes, teacher=teacher, teacher_width=teacher_width,
                      seed=seed)
    else:
        arrays = _train_data.digits_task(n_train, n_test, seed)
        n_classes = 10
        params = dict(task=task, n_train=n_train, n_test=n_test, seed=seed)
    return Task(task, *arrays, n_classes=n_classes, params=params)


def init_network(arch="mlp", *, d_in, n_classes, depth=4, width=64, channels=8,
                 kernel_size=3, sigma_w=1.5, sigma_b=0.05, activation="tanh", seed=0,
                 replica=0):
    r"""Draw a network at initialisation, exactly as the random-network processes do.

    Every weight matrix has entries :math:`W_{ij} \sim N(0, \sigma_w^2/\mathrm{fan\_in})`
    and every bias :math:`b_i \sim N(0, \sigma_b^2)`, fresh per layer (MLP: fan-in ``width``,
    input layer ``d_in``; CNN: ``C_in * kernel_size``; readout: its input size).

    Parameters
    ----------
    arch : {"mlp", "cnn"}
        Fully connected network, or periodic 1D CNN on the input seen as a one-channel
        signal of length ``d_in`` (digits: the 8x8 image read row by row), with a linear
        readout on the flattened last layer.
    d_in, n_classes : int
        Input dimension and number of outputs (logits).
    depth : int
        Number of hidden layers ``L``.
    width : int
        Units per hidden layer (MLP).
    channels, kernel_size : int
        Channels per layer and odd kernel size (CNN).
    sigma_w, sigma_b : float
        Weight and bias scales.
    activation : {"tanh", "relu", "erf", "hard_tanh", "linear", "sin"}
        Nonlinearity.
    seed, replica : int
        Layer ``l`` draws from ``SeedSequence(seed, spawn_key=(0, replica, l))``: the same
        seed gives identical arrays, and networks that differ only in ``sigma_w``,
        ``sigma_b`` or depth share their standard normals.

    Returns
    -------
    Network
        Float64 parameters in :attr:`Network.params`.
    """
    arch = _check("arch", arch)
    spec = dict(arch=arch, d_in=_check("d_in", d_in), n_classes=_check("n_classes", n_classes),
                depth=_check("depth", depth), width=_check("width", width),
                channels=_check("channels", channels),
                kernel_size=_check("kernel_size", kernel_size),
                sigma_w=_check("sigma_w", sigma_w), sigma_b=_check("sigma_b", sigma_b),
                activation=_check("activation", activation), seed=_check("seed", seed),
                replica=_check("replica", replica))
    if arch == "cnn" and spec["kernel_size"] % 2 == 0:
        raise ValueError(f"kernel_size must be odd for the centred periodic CNN, "
                         f"got {spec['kernel_size']}")
    if arch == "cnn" and spec["kernel_size"] > spec["d_in"]:
        raise ValueError(f"kernel_size must be <= d_in ({spec['d_in']}), "
                         f"got {spec['kernel_size']}")
    return Network(spec, _train_nets.build_params(spec))


def _check_inputs(net, X, name="X"):
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network from init_network, got {type(net).__name__}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != net.spec["d_in"] or X.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, {net.spec['d_in']}) with n >= 1, "
                         f"got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    return X


def _accuracy(z, y):
    return float(np.mean(np.argmax(z, axis=1) == y))


def _evaluate(net, X, y, chunk=512):
    z = np.concatenate([net.forward(X[i:i + chunk]) for i in range(0, len(y), chunk)])
    loss, _ = _train_nets.softmax_xent(z, y)
    return loss, _accuracy(z, y)


def train(net, task, *, lr=0.05, epochs=10, batch_size=32, seed=0, replica=None):
    """Train ``net`` in place with minibatch SGD on the softmax cross-entropy.

    Parameters
    ----------
    net : Network
        From :func:`init_network`; its parameters are updated in place.
    task : Task
        From :func:`make_task` (``task.d_in`` and ``task.n_classes`` must match ``net``).
    lr : float
        Learning rate (> 0).
    epochs : int
        Passes over the training set (0: evaluate at initialisation only).
    batch_size : int
        Minibatch size (the last minibatch of an epoch may be smaller).
    seed : int
        Seed of the minibatch order (stream ``SeedSequence(seed, spawn_key=(1, replica))``).
    replica : int, optional
        Defaults to the network's own ``replica``.

    Returns
    -------
    dict
        ``epoch`` (0..epochs), ``train_loss``, ``test_loss``, ``train_accuracy``,
        ``test_accuracy`` (arrays of length ``epochs + 1``; entry 0 at initialisation) and
        ``diverged`` (1 if the loss became non-finite; later entries are NaN).
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network from init_network, got {type(net).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task from make_task, got {type(task).__name__}")
    if task.d_in != net.spec["d_in"] or task.n_classes != net.spec["n_classes"]:
        raise ValueError(f"task has d_in={task.d_in}, n_classes={task.n_classes} but net has "
                         f"d_in={net.spec['d_in']}, n_classes={net.spec['n_classes']}")
    lr, epochs = _check("lr", lr), _check("epochs", epochs)
    batch_size, seed = _check("batch_size", batch_size), _check("seed", seed)
    replica = net.spec["replica"] if replica is None else _check("replica", replica)
    with _blas_one_thread():
        return _train(net, task, lr, epochs, batch_size, seed, replica)


def _train(net, task, lr, epochs, batch_size, seed, replica):
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_SGD, replica)))
    hist = {k: np.full(epochs + 1, np.nan) for k in
            ("train_loss", "test_loss", "train_accuracy", "test_accuracy")}
    hist["epoch"] = np.arange(epochs + 1)
    hist["diverged"] = 0
    Xtr, ytr, Xte, yte = task.X_train, task.y_train, task.X_test, task.y_test
    n = len(ytr)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for ep in range(epochs + 1):
            if ep > 0:
                perm = rng.permutation(n)
                for start in range(0, n, batch_size):
                    idx = perm[start:start + batch_size]
                    _, grads = net.loss_and_grad(Xtr[idx], ytr[idx])
                    for (W, b), (dW, db) in zip(net.params, grads):
                        W -= lr * dW
                        b -= lr * db
            trl, tra = _evaluate(net, Xtr, ytr)
            tel, tea = _evaluate(net, Xte, yte)
            if not (math.isfinite(trl) and math.isfinite(tel)):
                hist["diverged"] = 1
                break
            hist["train_loss"][ep], hist["train_accuracy"][ep] = trl, tra
            hist["test_loss"][ep], hist["test_accuracy"][ep] = tel, tea
    return hist


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
    X = _check_inputs(net, X)
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
    X = _check_inputs(net, X)
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
    return _spectrum(theta)


def _spectrum(theta):
    ev = np.linalg.eigvalsh(theta)
    lmax = float(ev[-1])
    tol = max(lmax, 0.0) * theta.shape[0] * np.finfo(float).eps
    ev = np.where(ev < 0, 0.0, ev)
    lmin = float(ev[0])
    cond = lmax / lmin if lmin > tol else math.inf
    return dict(eigenvalues=ev, lambda_max=lmax, lambda_min=lmin, trace=float(np.trace(theta)),
                condition_number=cond)


# ====================================================================== sweeps
def _as_values(name, values, kind):
    if np.ndim(values) == 1 and len(values) > MAX_GRID_VALUES:  # before converting them
        raise ValueError(f"{name} must list at most {MAX_GRID_VALUES} values, "
                         f"got {len(values)}")
    arr = np.atleast_1d(np.asarray(values, dtype=object if kind == "str" else float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a value or a non-empty 1D sequence")
    out = [_check(name, v) for v in arr]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} values must be distinct, got {list(out)}")
    return out


def _common_args(arch, width, channels, kernel_size, task, n_train, n_test, d_in, n_classes,
                 lr, epochs, batch_size, repeats, seed, ntk_examples):
    arch = _check("arch", arch)
    if not isinstance(task, Task):
        task = make_task(task, n_train=n_train, n_test=n_test, d_in=d_in,
                         n_classes=n_classes, seed=seed)
    net_kw = dict(arch=arch, width=_check("width", width), channels=_check("channels", channels),
                  kernel_size=_check("kernel_size", kernel_size))
    if arch == "cnn" and (net_kw["kernel_size"] % 2 == 0 or net_kw["kernel_size"] > task.d_in):
        raise ValueError(f"kernel_size must be odd and <= d_in ({task.d_in}), "
                         f"got {net_kw['kernel_size']}")
    tr_kw = dict(lr=_check("lr", lr), epochs=_check("epochs", epochs),
                 batch_size=_check("batch_size", batch_size))
    repeats, seed = _check("repeats", repeats), _check("seed", seed)
    ntk_examples = _check("ntk_examples", ntk_examples)
    if ntk_examples > len(task.y_train):
        raise ValueError(f"ntk_examples must be <= n_train ({len(task.y_train)}), "
                         f"got {ntk_examples}")
    return task, net_kw, tr_kw, repeats, seed, ntk_examples


def _run_point(task, net_kw, tr_kw, seed, replica, sigma_w, sigma_b, depth, activation,
               ntk_examples):
    net = init_network(d_in=task.d_in, n_classes=task.n_classes, depth=depth,
                       sigma_w=sigma_w, sigma_b=sigma_b, activation=activation, seed=seed,
                       replica=replica, **net_kw)
    out = {}
    if ntk_examples:
        with np.errstate(over="ignore", invalid="ignore"):
            theta = empirical_ntk(net, task.X_train[:ntk_examples])
        if np.all(np.isfinite(theta)):
            out.update(_spectrum(theta))
        else:
            m = theta.shape[0]
            out.update(eigenvalues=np.full(m, np.nan), lambda_max=np.nan, lambda_min=np.nan,
                       trace=np.nan, condition_number=np.nan)
    out.update(_train(net, task, tr_kw["lr"], tr_kw["epochs"], tr_kw["batch_size"], seed,
                      replica))
    return out


_VAR_ATTRS = {
    "train_loss": ("mean softmax cross-entropy on the training set", "nat"),
    "test_loss": ("mean softmax cross-entropy on the test set", "nat"),
    "train_accuracy": ("training accuracy", "1"),
    "test_accuracy": ("test accuracy", "1"),
    "diverged": ("1 if the loss became non-finite during training (later epochs NaN)", "1"),
    "ntk_eigenvalues": ("eigenvalues of the empirical NTK at initialisation (ascending)", "1"),
    "ntk_condition": ("condition number lambda_max/lambda_min of the NTK at initialisation",
                      "1"),
    "ntk_lambda_max": ("largest NTK eigenvalue at initialisation", "1"),
    "ntk_lambda_min": ("smallest NTK eigenvalue at initialisation", "1"),
    "ntk_trace": ("trace of the NTK at initialisation", "1"),
}


def _assemble(results, grid_dims, grid_coords, repeats, epochs, ntk_examples, n_classes):
    """Stack per-point results into a Dataset with dims grid_dims + (batch, epoch[, mode])."""
    shape = tuple(len(grid_coords[d]) for d in grid_dims) + (repeats,)
    dims = tuple(grid_dims) + ("batch",)
    data = {}
    for k in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        arr = np.stack([r[k] for r in results]).reshape(shape + (epochs + 1,))
        data[k] = (dims + ("epoch",), arr)
    data["diverged"] = (dims, np.array([r["diverged"] for r in results],
                                       dtype=np.int64).reshape(shape))
    if ntk_examples:
        m = ntk_examples * n_classes
        data["ntk_eigenvalues"] = (dims + ("mode",), np.stack(
            [r["eigenvalues"] for r in results]).reshape(shape + (m,)))
        for k, src in (("ntk_condition", "condition_number"), ("ntk_lambda_max", "lambda_max"),
                       ("ntk_lambda_min", "lambda_min"), ("ntk_trace", "trace")):
            data[k] = (dims, np.array([r[src] for r in results], float).reshape(shape))
    coords = dict(grid_coords)
    coords["batch"] = np.arange(repeats)
    coords["n_samples"] = ("batch", np.ones(repeats, dtype=np.int64))
    coords["epoch"] = np.arange(epochs + 1)
    ds = xr.Dataset(data, coords=coords)
    for k, (ln, un) in _VAR_ATTRS.items():
        if k in ds:
            ds[k].attrs.update(long_name=ln, units=un)
    ds["epoch"].attrs.update(long_name="training epoch (0 = initialisation)", units="epoch")
    ds["depth"].attrs.update(long_name="number of hidden layers L", units="layer")
    ds["batch"].attrs.update(long_name="independent initialisation (replica)")
    return ds


def _attrs(kind, params, task, arch, swept, seed, n_classes):
    return {
        "model": f"training_{arch}",
        "kind": kind,
        "params": json.dumps(params, sort_keys=True),
        "task": task.name,
        "task_params": json.dumps(task.params, sort_keys=True),
        "n_classes": int(n_classes),
        "control": "sigma_w",
        "size_param": "width" if arch == "mlp" else "channels",
        "time_unit": "layer",
        "swept": json.dumps(swept),
        "seed": int(seed),
        "backend": "numpy",
        "absorbphys_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def trainability_sweep(sigma_w, depth, sigma_b=0.05, *, activation="tanh", arch="mlp",
                       width=32, channels=8, kernel_size=3, task="teacher", n_train=512,
                       n_test=512, d_in=16, n_classes=4, lr=0.05, epochs=10, batch_size=32,
                       repeats=1, seed=0, ntk_examples=16, progress=None):
    """Train a grid of networks over ``(sigma_w, depth)`` (and ``sigma_b``) and record curves.

    Every grid point trains ``repeats`` independent initialisations on the same task, with
    minibatch order seeded per replica (points share their random numbers: see
    :func:`init_network`). The empirical NTK at initialisation on the first
    ``ntk_examples`` training inputs is recorded too (``ntk_examples=0`` skips it;
    ``epochs=0`` gives an NTK/initialisation-only sweep).

    Parameters
    ----------
    sigma_w : float or sequence of float
        Weight scales (dimension ``sigma_w``).
    depth : int or sequence of int
        Numbers of hidden layers (dimension ``depth``).
    sigma_b : float or sequence of float
        Bias scale; a sequence adds the dimension ``sigma_b``, a single value is a scalar
        coordinate.
    activation : str
        Nonlinearity (see :func:`init_network`).
    arch : {"mlp", "cnn"}
        Architecture.
    width, channels, kernel_size : int
        MLP width; CNN channels and kernel size.
    task : {"teacher", "digits"} or Task
        Task name (built with ``n_train``, ``n_test``, ``d_in``, ``n_classes``, ``seed``) or a
        prepared :class:`Task`.
    n_train, n_test, d_in, n_classes : int
        Task sizes (see :func:`make_task`).
    lr, epochs, batch_size : float, int, int
        SGD settings (see :func:`train`).
    repeats : int
        Independent initialisations per point (dimension ``batch``).
    seed : int
        Master seed.
    ntk_examples : int
        Training inputs used for the NTK at initialisation (0: none).
    progress : bool, optional
        Progress bar over the trained networks (default: the ``progress`` option).

    Returns
    -------
    xarray.Dataset
        Dims ``sigma_w``, ``depth`` [, ``sigma_b``], ``batch``, ``epoch`` [, ``mode``];
        variables ``train_loss``, ``test_loss``, ``train_accuracy``, ``test_accuracy``,
        ``diverged`` and, with ``ntk_examples > 0``, ``ntk_eigenvalues``, ``ntk_condition``,
        ``ntk_lambda_max``, ``ntk_lambda_min``, ``ntk_trace``. Attributes are netCDF-safe
        (``params`` is a JSON string of every argument).
    """
    sws = _as_values("sigma_w", sigma_w, "float")
    depths = _as_values("depth", depth, "int")
    sb_list = np.ndim(sigma_b) > 0
    sbs = _as_values("sigma_b", sigma_b, "float")
    act = _check("activation", activation)
    _check_trainings(len(sws) * len(depths) * len(sbs) * _check("repeats", repeats))
    task_, net_kw, tr_kw, repeats, seed, ntk_examples = _common_args(
        arch, width, channels, kernel_size, task, n_train, n_test, d_in, n_classes, lr,
        epochs, batch_size, repeats, seed, ntk_examples)
    results = []
    total = len(sws) * len(depths) * len(sbs) * repeats
    with _blas_one_thread(), Progress(total=total, desc="train", unit="network",
                                      enabled=progress) as bar:
        for sw in sws:
            for L in depths:
                for sb in sbs:
                    for r in range(repeats):
                        results.append(_run_point(task_, net_kw, tr_kw, seed, r, sw, sb, L,
                                                  act, ntk_examples))
                        bar.update(1)
    grid_dims = ["sigma_w", "depth", "sigma_b"]
    coords = {"sigma_w": np.array(sws, float), "depth": np.array(depths, np.int64),
              "sigma_b": np.array(sbs, float)}
    ds = _assemble(results, grid_dims, coords, repeats, tr_kw["epochs"], ntk_examples,
                   task_.n_classes)
    if not sb_list:
        ds = ds.isel(sigma_b=0)
    ds = ds.assign_coords(activation=act)
    params = dict(sigma_w=sws, depth=depths, sigma_b=sbs if sb_list else sbs[0],
                  activation=act, **net_kw, **tr_kw, repeats=repeats, seed=seed,
                  ntk_examples=ntk_examples)
    swept = ["sigma_w", "depth"] + (["sigma_b"] if sb_list else [])
    ds.attrs.update(_attrs("trainability", params, task_, net_kw["arch"], swept, seed,
                           task_.n_classes))
    return ds


def measure_width_cost(sigma_b, activation="tanh", widths=(64, 128, 256), *, t_factor=12.0,
                       samples=128, seed=0):
    r"""Measure the width cost :math:`\mu` of the critical random MLP at ``sigma_b``.

    Simulates the two-replica MLP process (exact Gaussian transition) at the mean-field
    critical point :math:`\sigma_{w,c}(\sigma_b)` for every width ``N`` up to
    ``t_factor * N`` layers and applies :func:`absorbphys.analysis.width_cost` with the
    mean-field :math:`\kappa`: :math:`\mu_N = (\kappa/N) \int t \rho(t; N)\, dt`, the depth
    per unit of width over which a width-``N`` network follows the infinite-width decay
    :math:`1/(\kappa l)`.

    Parameters
    ----------
    sigma_b : float
        Bias scale.
    activation : str
        Built-in smooth activation with a finite :math:`\kappa` (e.g. ``"tanh"``, ``"erf"``).
    widths : sequence of int
        Widths (at least 2, distinct).
    t_factor : float
        Depth of the runs in units of the width (the integral needs ``kappa t rho`` to have
        died out: about 10).
    samples : int
        Samples per width.
    seed : int
        Master seed.

    Returns
    -------
    xarray.Dataset
        The per-width ``mu``, ``mu_error``, ``plateau``, ``tail`` of
        :func:`~absorbphys.analysis.width_cost`, and scalars ``mu_estimate`` and
        ``mu_estimate_error``: ``mu_N`` at the largest width where it is finite, with its
        statistical error and the drift from the next smaller width added in quadrature.
    """
    import absorbphys
    from absorbphys import analysis
    from absorbphys.models.mlp import MLP

    sb = _check("sigma_b", sigma_b)
    act = str(activation)
    ws = [int(w) for w in _as_values("width", widths, "int")]
    if len(ws) < 2:
        raise ValueError(f"widths must hold at least 2 widths, got {ws}")
    t_factor = float(t_factor)
    if not 1.0 <= t_factor <= 1000.0:
        raise ValueError(f"t_factor must be in [1, 1000], got {t_factor}")
    samples, seed = int(samples), _check("seed", seed)
    if samples < 2:
        raise ValueError(f"samples must be >= 2, got {samples}")
    swc = _mf_nan(meanfield.critical_sigma_w, sb, activation=act)
    kap = _kappa(sb, act)
    if not (math.isfinite(swc) and math.isfinite(kap)):
        raise ValueError(f"activation {act!r} has no mean-field critical point with a finite "
                         f"kappa at sigma_b={sb:g}; choose a smooth activation/another sigma_b")
    runs = [absorbphys.simulate(MLP(width=w, sigma_w=swc, sigma_b=sb, activation=act),
                                t_max=int(math.ceil(t_factor * w)), samples=samples,
                                seed=seed, progress=False)
            for w in sorted(ws)]
    ds = analysis.width_cost(runs, kap, size_dim="width")
    fin = np.nonzero(np.isfinite(ds["mu"].values))[0]
    est, est_err = math.nan, math.nan
    if fin.size:
        j = fin[-1]
        est = float(ds["mu"].values[j])
        est_err = float(ds["mu_error"].values[j])
        if fin.size >= 2:
            est_err = math.hypot(est_err, est - float(ds["mu"].values[fin[-2]]))
    ds["mu_estimate"] = ((), est)
    ds["mu_estimate_error"] = ((), est_err)
    ds.attrs.update(sigma_b=sb, activation=act, sigma_w_c=swc, t_factor=t_factor,
                    samples=samples, seed=seed)
    return ds


def critical_sweep(sigma_b, depth, activation="tanh", *, arch="mlp", width=32, channels=8,
                   kernel_size=3, task="teacher", n_train=512, n_test=512, d_in=16,
                   n_classes=4, lr=0.05, epochs=10, batch_size=32, repeats=1, seed=0,
                   ntk_examples=16, mu_widths=None, progress=None):
    r"""Train networks exactly at the mean-field critical point :math:`\sigma_{w,c}(\sigma_b)`.

    Boundary points with different ``sigma_b`` and activation have different metric factors
    :math:`\kappa` and :math:`\mu`; comparing them at equal depth tests whether criticality
    alone sets the accuracy, or :math:`\kappa L` does; a sequence of widths adds the
    depth-to-width ratio :math:`L / (\mu N)`.

    Parameters
    ----------
    sigma_b : float or sequence of float
        Bias scales (dimension ``sigma_b``).
    depth : int or sequence of int
        Numbers of hidden layers (dimension ``depth``).
    activation : str or sequence of str
        Nonlinearities (dimension ``activation``).
    width : int or sequence of int
        MLP width; a sequence adds the dimension ``width`` (``arch="mlp"`` only).
    arch, channels, kernel_size, task, n_train, n_test, d_in, n_classes : optional
        As in :func:`trainability_sweep`.
    lr, epochs, batch_size, repeats, seed, ntk_examples : optional
        As in :func:`trainability_sweep`.
    mu_widths : sequence of int, optional
        Widths at which :func:`measure_width_cost` measures the width cost :math:`\mu` of
        every boundary point (coordinates ``mu`` and ``mu_error``); ``None`` skips it.
    progress : bool, optional
        Progress bar over the trained networks (default: the ``progress`` option).

    Returns
    -------
    xarray.Dataset
        Dims ``activation``, ``sigma_b`` [, ``width``], ``depth``, ``batch``, ``epoch``
        [, ``mode``]; the variables of :func:`trainability_sweep` plus the coordinates
        ``sigma_w(activation, sigma_b)`` (= ``meanfield.critical_sigma_w``),
        ``kappa(activation, sigma_b)`` (= ``meanfield.kappa``) and, with ``mu_widths``,
        ``mu(activation, sigma_b)`` and ``mu_error``.
    """
    sbs = _as_values("sigma_b", sigma_b, "float")
    depths = _as_values("depth", depth, "int")
    acts = _as_values("activation", activation, "str")
    width_dim = np.ndim(width) > 0
    widths = _as_values("width", width, "int")
    if width_dim and arch != "mlp":
        raise ValueError("width: a sequence of widths needs arch='mlp' (CNNs sweep channels)")
    _check_trainings(len(sbs) * len(depths) * len(acts) * len(widths)
                     * _check("repeats", repeats))
    task_, net_kw, tr_kw, repeats, seed, ntk_examples = _common_args(
        arch, widths[0], channels, kernel_size, task, n_train, n_test, d_in, n_classes, lr,
        epochs, batch_size, repeats, seed, ntk_examples)
    swc = np.array([[_mf_nan(meanfield.critical_sigma_w, sb, activation=a) for sb in sbs]
                    for a in acts])
    if not np.all(np.isfinite(swc)):
        i, j = np.argwhere(~np.isfinite(swc))[0]
        raise ValueError(f"activation {acts[i]!r} has no mean-field critical point "
                         f"sigma_w,c at sigma_b={sbs[j]:g}; choose another activation/sigma_b")
    kap = np.array([[_kappa(sb, a) for sb in sbs] for a in acts])
    mu = mu_err = None
    if mu_widths is not None:
        mus = [[measure_width_cost(sb, a, mu_widths, seed=seed) for sb in sbs] for a in acts]
        mu = np.array([[float(m["mu_estimate"]) for m in row] for row in mus])
        mu_err = np.array([[float(m["mu_estimate_error"]) for m in row] for row in mus])
    results = []
    total = len(acts) * len(sbs) * len(widths) * len(depths) * repeats
    with _blas_one_thread(), Progress(total=total, desc="train at sigma_w,c", unit="network",
                                      enabled=progress) as bar:
        for i, a in enumerate(acts):
            for j, sb in enumerate(sbs):
                for w in widths:
                    kw = dict(net_kw, width=w)
                    for L in depths:
                        for r in range(repeats):
                            results.append(_run_point(task_, kw, tr_kw, seed, r, swc[i, j],
                                                      sb, L, a, ntk_examples))
                            bar.update(1)
    grid = ["activation", "sigma_b", "width", "depth"]
    coords = {"activation": np.array(acts, dtype=object), "sigma_b": np.array(sbs, float),
              "width": np.array(widths, np.int64), "depth": np.array(depths, np.int64)}
    ds = _assemble(results, grid, coords, repeats, tr_kw["epochs"], ntk_examples,
                   task_.n_classes)
    if not width_dim:
        ds = ds.squeeze("width")
    ds = ds.assign_coords(sigma_w=(("activation", "sigma_b"), swc),
                          kappa=(("activation", "sigma_b"), kap))
    if mu is not None:
        ds = ds.assign_coords(mu=(("activation", "sigma_b"), mu),
                              mu_error=(("activation", "sigma_b"), mu_err))
        ds["mu"].attrs.update(long_name="width cost mu of rho(l; N) ~ N^-1 f(l/N) "
                                        "(measured, measure_width_cost)",
                              widths=json.dumps([int(w) for w in mu_widths]))
    ds["activation"] = ds["activation"].astype(str)
    ds["sigma_w"].attrs.update(long_name="critical weight scale sigma_w,c (mean field)")
    ds["kappa"].attrs.update(long_name="critical amplitude kappa of rho(l) ~ 1/(kappa l)")
    ds["width"].attrs.update(long_name="hidden width N", units="unit")
    net_kw["width"] = widths if width_dim else widths[0]
    params = dict(sigma_b=sbs, depth=depths, activation=acts, **net_kw, **tr_kw,
                  repeats=repeats, seed=seed, ntk_examples=ntk_examples,
                  mu_widths=None if mu_widths is None else [int(w) for w in mu_widths])
    swept = ["activation", "sigma_b"] + (["width"] if width_dim else []) + ["depth"]
    ds.attrs.update(_attrs("critical", params, task_, net_kw["arch"], swept, seed,
                           task_.n_classes))
    return ds


# ====================================================================== plot
def _edges(v, log):
    """Cell edges around sorted centres ``v`` (midpoints, geometric ones if ``log``)."""
    v = np.sort(np.asarray(v, float))
    t = np.log(v) if log else v
    if t.size == 1:
        e = np.array([t[0] - 0.5, t[0] + 0.5]) if not log else t[0] + np.array([-0.3, 0.3])
    else:
        mid = 0.5 * (t[1:] + t[:-1])
        e = np.concatenate([[t[0] - (mid[0] - t[0])], mid, [t[-1] + (t[-1] - mid[-1])]])
    return np.exp(e) if log else e


def plot_trainability(ds, *, c=6.0, epoch=-1, var="test_accuracy", n_curve=60):
    r"""Plot the test accuracy over the ``sigma_w``-``depth`` plane with mean-field overlays.

    Overlays: the trainable-depth curve :math:`L = c\,\xi(\sigma_w)` from
    ``meanfield.depth_scale`` (Schoenholz et al. find :math:`c \approx 6`) and the critical
    line :math:`\sigma_{w,c}(\sigma_b)`. One panel per ``sigma_b``.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`trainability_sweep`.
    c : float
        Prefactor of the depth-scale curve.
    epoch : int
        Epoch index to show (default: the last).
    var : str
        Variable to colour (``"test_accuracy"``, ``"train_accuracy"``, ``"test_loss"``...).
    n_curve : int
        Points of the :math:`\xi` curve.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; diverged runs appear as blank cells).
    """
    from matplotlib.figure import Figure

    if not isinstance(ds, xr.Dataset) or var not in ds or "sigma_w" not in ds.dims \
            or "depth" not in ds.dims:
        raise ValueError(f"ds must be a trainability_sweep Dataset with variable {var!r}")
    c = Param("float", 0.0, None, low_open=True).check("c", c)
    act = str(ds["activation"].values) if "activation" in ds.coords else "tanh"
    da = ds[var].isel(epoch=epoch).mean("batch", skipna=False).sortby(["sigma_w", "depth"])
    sbs = np.atleast_1d(ds["sigma_b"].values)
    fig = Figure(figsize=(4.2 * len(sbs) + 0.8, 3.8), layout="constrained")
    axes = fig.subplots(1, len(sbs), squeeze=False)[0]
    sw = da["sigma_w"].values
    depths = da["depth"].values
    xe = _edges(sw, log=False)
    logy = depths.min() > 0 and depths.max() >= 4 * depths.min()
    ye = _edges(depths.astype(float), log=logy)
    mesh = None
    for ax, sb in zip(axes, sbs):
        z = (da.sel(sigma_b=sb) if "sigma_b" in da.dims else da).transpose("depth", "sigma_w")
        vmin, vmax = (1.0 / ds.attrs.get("n_classes", 10), 1.0) if "accuracy" in var \
            else (None, None)
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z.values), shading="flat",
                             cmap="viridis", vmin=vmin, vmax=vmax)
        swc = _mf_nan(meanfield.critical_sigma_w, float(sb), activation=act)
        grid = np.linspace(xe[0], xe[-1], n_curve)
        xi = np.array([_mf_nan(meanfield.depth_scale, s, float(sb), activation=act)
                       for s in grid])
        with np.errstate(invalid="ignore"):
            ax.plot(grid, c * xi, color="w", lw=1.5, label=rf"$L = {c:g}\,\xi(\sigma_w)$")
        if math.isfinite(swc):
            ax.axvline(swc, color="r", ls="--", lw=1.2,
                       label=rf"$\sigma_{{w,c}} = {swc:.4g}$")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        if logy:
            ax.set_yscale("log")
            ax.set_yticks(depths, [str(int(v)) for v in depths])
            ax.minorticks_off()
        ax.set_xlabel(r"$\sigma_w$")
        ax.set_ylabel("depth $L$")
        ax.set_title(rf"{act}, $\sigma_b = {float(sb):g}$")
        ax.legend(loc="upper left", fontsize=7, framealpha=0.6)
    fig.colorbar(mesh, ax=list(axes), label=ds[var].attrs.get("long_name", var))
    return fig


# ====================================================================== report
def _spearman_ci(x, y, n_boot, rng, level=0.95):
    """Spearman rank correlation of finite pairs with a bootstrap percentile CI."""
    from scipy import stats

    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return dict(rho=math.nan, ci_low=math.nan, ci_high=math.nan, n=int(n))
    rho = float(stats.spearmanr(x, y).statistic)
    boots = []
    for _ in range(n_boot if n >= 5 else 0):  # no bootstrap CI from fewer than 5 points
        i = rng.integers(0, n, n)
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            boots.append(stats.spearmanr(x[i], y[i]).statistic)
    a = (1 - level) / 2
    lo, hi = (np.quantile(boots, [a, 1 - a]) if boots else (math.nan, math.nan))
    return dict(rho=rho, ci_low=float(lo), ci_high=float(hi), n=int(n))


def _monotone_r2(x, y):
    """R^2 of the best non-increasing function of ``x`` fitted to ``y`` (ties pooled)."""
    from scipy.optimize import isotonic_regression

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if y.size < 3 or np.ptp(y) == 0:
        return math.nan
    ux, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    ym = np.bincount(inv, weights=y) / cnt
    fit = isotonic_regression(ym, weights=cnt.astype(float), increasing=False).x[inv]
    return float(1.0 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2))


def _r2_compare(x1, x2, y, n_boot, rng, level=0.95):
    """Monotone R^2 of y on x1 and on x2, and a bootstrap CI of their difference."""
    x1, x2, y = (np.asarray(v, float).ravel() for v in (x1, x2, y))
    r1, r2 = _monotone_r2(x1, y), _monotone_r2(x2, y)
    diffs = []
    for _ in range(n_boot if y.size >= 5 else 0):
        i = rng.integers(0, y.size, y.size)
        diffs.append(_monotone_r2(x1[i], y[i]) - _monotone_r2(x2[i], y[i]))
    diffs = np.asarray(diffs)
    diffs = diffs[np.isfinite(diffs)]
    a = (1 - level) / 2
    lo, hi = np.quantile(diffs, [a, 1 - a]) if diffs.size else (math.nan, math.nan)
    return dict(r2_x1=r1, r2_x2=r2, diff=r1 - r2, ci_low=float(lo), ci_high=float(hi),
                n=int(y.size))


def _final_accuracy(ds):
    """Return the final test accuracy per replica (diverged runs count as chance, 1/k)."""
    acc = ds["test_accuracy"].isel(epoch=-1)
    chance = 1.0 / int(ds.attrs.get("n_classes", 2))
    return acc.where(ds["diverged"] == 0, chance)


def _acc_err(acc, n_test):
    """Mean over replicas and its standard error.

    The replica scatter when there are several replicas, never below the binomial standard
    error of the test set (a scatter from 2-3 replicas is itself noisy).
    """
    m = acc.mean("batch")
    nb = acc.sizes["batch"]
    se = np.sqrt(m * (1 - m) / n_test)
    if nb > 1:
        se = np.maximum(se, acc.std("batch", ddof=1) / math.sqrt(nb))
    return m, se


def training_report(ds, critical=None, *, n_boot=1000, seed=0, markdown=True):
    r"""Relate the accuracy to :math:`\kappa L`, :math:`\xi` and the distance to criticality.

    For every point of a trainability sweep: the distance :math:`\sigma_w - \sigma_{w,c}`,
    the depth in units of the correlation depth :math:`L/\xi`, and :math:`\kappa L` with
    :math:`\kappa` = ``meanfield.kappa(sigma_b)`` (the amplitude at the critical point of the
    same ``sigma_b``). Rank correlations (Spearman, bootstrap 95% CI over points) of the
    final test accuracy with each. For every ``(sigma_b, depth)`` column: the best
    ``sigma_w`` and whether the grid point nearest :math:`\sigma_{w,c}` is within two
    standard errors of the best. With ``critical`` (from :func:`critical_sweep`): the
    accuracy exactly at :math:`\sigma_{w,c}` against :math:`\kappa L` and against
    :math:`L` across ``sigma_b``/activations, the within-depth rank correlation with
    :math:`\kappa`, and a chi-square test of homogeneity across boundary points at equal
    depth (inverse-variance weights; the error of each accuracy is the replica standard
    error, never below the binomial one of the test set). If the accuracies at equal depth
    differ (p < 0.01), criticality alone does not fix the accuracy. Diverged runs count as
    chance level.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`trainability_sweep`.
    critical : xarray.Dataset, optional
        Output of :func:`critical_sweep`.
    n_boot : int
        Bootstrap resamples for the confidence intervals.
    seed : int
        Seed of the bootstrap.
    markdown : bool
        Also return a Markdown summary under ``"markdown"``.

    Returns
    -------
    dict
        ``points`` (Dataset: ``accuracy``, ``accuracy_err``, ``distance``, ``depth_over_xi``,
        ``kappa_L``, ``sigma_w_c``, ``kappa`` and, when present, ``ntk_condition``),
        ``columns`` (Dataset: ``best_sigma_w``, ``best_accuracy``, ``critical_accuracy``,
        ``critical_is_best``), ``spearman`` (dict name -> ``{rho, ci_low, ci_high, n}``),
        ``critical`` (dict with ``table``, ``spearman``, ``spearman_depth``,
        ``spearman_within_depth``, ``chi2``, ``dof``, ``p_value``, ``r2_kappa_L``, ``r2_L``
        (monotone-fit R^2 of the accuracy on kappa*L and on L), ``r2_diff``,
        ``ntk_log_slope``,
        ``spearman_ntk_condition``; only with ``critical``; with a ``width`` dimension it
        uses the largest width), ``width`` (only when ``critical`` has a ``width`` dimension
        or ``mu``: ``table`` with ``depth_over_width`` and ``depth_over_mu_width``
        L / (mu N), ``spearman_within_width`` (accuracy against the width within each
        boundary point and depth), ``spearman_depth_over_mu_width`` and ``r2_mu``
        (monotone R^2 on L / (mu N) against L / N), ``lines``), ``verdict`` (str) and
        ``markdown``.
    """
    if not isinstance(ds, xr.Dataset) or "test_accuracy" not in ds or "sigma_w" not in ds.dims:
        raise ValueError("ds must be a Dataset from trainability_sweep")
    if critical is not None and (not isinstance(critical, xr.Dataset)
                                 or "kappa" not in critical.coords):
        raise ValueError("critical must be a Dataset from critical_sweep")
    n_boot = _check("n_boot", n_boot)
    rng = np.random.default_rng(_check("seed", seed))
    act = str(ds["activation"].values) if "activation" in ds.coords else "tanh"
    n_test = json.loads(ds.attrs.get("task_params", "{}")).get("n_test", 512)
    d = ds if "sigma_b" in ds.dims else ds.expand_dims("sigma_b")
    acc, err = _acc_err(_final_accuracy(d), n_test)
    sbs = d["sigma_b"].values
    sws = d["sigma_w"].values
    swc = np.array([_mf_nan(meanfield.critical_sigma_w, float(sb), activation=act)
                    for sb in sbs])
    kap = np.array([_kappa(float(sb), act) for sb in sbs])
    xi = np.array([[_mf_nan(meanfield.depth_scale, float(sw), float(sb), activation=act)
                    for sb in sbs] for sw in sws])
    depth = d["depth"].values.astype(float)
    pts = xr.Dataset(
        {"accuracy": acc, "accuracy_err": err},
        coords={"sigma_w_c": ("sigma_b", swc), "kappa": ("sigma_b", kap)})
    pts["distance"] = pts["sigma_w"] - pts["sigma_w_c"]
    pts["xi"] = (("sigma_w", "sigma_b"), xi)
    pts["depth_over_xi"] = xr.DataArray(depth, dims="depth",
                                        coords={"depth": d["depth"]}) / pts["xi"]
    pts["kappa_L"] = pts["kappa"] * pts["depth"]
    if "ntk_condition" in d:
        pts["ntk_condition"] = d["ntk_condition"].median("batch")
    pts = pts.transpose("sigma_w", "depth", "sigma_b")
    a, dist, lx, kl = (pts[v].broadcast_like(pts["accuracy"]).transpose(
        *pts["accuracy"].dims).values for v in ("accuracy", "distance", "depth_over_xi",
                                                "kappa_L"))
    spear = {
        "accuracy_vs_abs_distance": _spearman_ci(np.abs(dist), a, n_boot, rng),
        "accuracy_vs_depth_over_xi": _spearman_ci(lx, a, n_boot, rng),
        "accuracy_vs_kappa_L": _spearman_ci(kl, a, n_boot, rng),
    }
    # columns: best sigma_w per (depth, sigma_b) vs the grid point nearest sigma_w,c
    inear = np.array([int(np.argmin(np.abs(sws - c))) if np.isfinite(c) else -1
                      for c in swc])
    accv = pts["accuracy"].values  # (sigma_w, depth, sigma_b)
    errv = pts["accuracy_err"].values
    ib = np.argmax(accv, axis=0)  # (depth, sigma_b)
    best = np.take_along_axis(accv, ib[None], 0)[0]
    best_err = np.take_along_axis(errv, ib[None], 0)[0]
    nan_col = np.full(accv.shape[1], np.nan)
    crit = np.stack([accv[inear[j], :, j] if inear[j] >= 0 else nan_col
                     for j in range(len(sbs))], axis=-1)
    crit_err = np.stack([errv[inear[j], :, j] if inear[j] >= 0 else nan_col
                         for j in range(len(sbs))], axis=-1)
    gap = best - crit
    is_best = gap <= 2 * np.sqrt(best_err**2 + crit_err**2)
    cols = xr.Dataset(
        {"best_sigma_w": (("depth", "sigma_b"), sws[ib]),
         "best_accuracy": (("depth", "sigma_b"), best),
         "critical_accuracy": (("depth", "sigma_b"), crit),
         "critical_gap": (("depth", "sigma_b"), gap),
         "critical_is_best": (("depth", "sigma_b"), is_best.astype(np.int64))},
        coords={"depth": d["depth"].values, "sigma_b": sbs,
                "nearest_sigma_w": ("sigma_b", np.where(inear >= 0, sws[inear], np.nan))})
    if "ntk_condition" in pts:
        cond = pts["ntk_condition"].transpose(*pts["accuracy"].dims).values
        nearc = np.stack([pts["ntk_condition"].values[inear[j], :, j] if inear[j] >= 0
                          else nan_col for j in range(len(sbs))], -1)
        spear["log_ntk_condition_vs_kappa_L_near_critical"] = _spearman_ci(
            np.broadcast_to(kap, nearc.shape) * depth[:, None], np.log(nearc), n_boot, rng)
        spear["accuracy_vs_log_ntk_condition"] = _spearman_ci(np.log(cond), a, n_boot, rng)
    out = {"points": pts, "columns": cols, "spearman": spear}
    lines = []
    frac = float(np.mean(is_best)) if np.isfinite(crit).any() else math.nan
    if math.isfinite(frac):
        lines.append(f"sweep: the grid point nearest sigma_w,c is within 2 SE of the best "
                     f"sigma_w in {int(is_best.sum())}/{is_best.size} (depth, sigma_b) "
                     f"columns ({100 * frac:.0f}%).")
    else:
        lines.append(f"sweep: the mean field has no critical point for {act!r} at these "
                     f"sigma_b; distances to sigma_w,c are NaN.")
    crit_dependent = None
    if critical is not None:
        wide = critical.isel(width=-1) if "width" in critical.dims else critical
        out["critical"] = _critical_part(wide, n_boot, rng)
        cr = out["critical"]
        crit_dependent = bool(cr["p_value"] < 0.01)
        lines.append(
            f"at sigma_w,c ({cr['n_points']} boundary points x {cr['n_depths']} depths): "
            f"Spearman(accuracy, kappa*L) = {_fmt_sp(cr['spearman'])}, "
            f"Spearman(accuracy, L) = {_fmt_sp(cr['spearman_depth'])}, within-depth "
            f"Spearman(accuracy, kappa) = {_fmt_sp(cr['spearman_within_depth'])}; "
            f"homogeneity across boundary points at equal depth: chi2 = {cr['chi2']:.1f} "
            f"for {cr['dof']} dof, p = {cr['p_value']:.2g}.")
        r2 = cr["r2_diff"]
        lines.append(
            f"the best non-increasing function of kappa*L explains R^2 = {r2['r2_x1']:.3f} of "
            f"the accuracy at sigma_w,c, of L alone R^2 = {r2['r2_x2']:.3f} (difference "
            f"{r2['diff']:+.3f}, 95% bootstrap CI [{r2['ci_low']:+.3f}, {r2['ci_high']:+.3f}]).")
        if math.isfinite(cr["ntk_log_slope"]):
            lines.append(f"NTK at initialisation on the boundary: d ln(cond) / d ln(kappa*L) "
                         f"= {cr['ntk_log_slope']:.2f} (least squares over all points).")
        if "width" in critical.dims or "mu" in critical.coords:
            out["width"] = _width_part(critical, n_boot, rng)
            lines.extend(out["width"]["lines"])
    if crit_dependent is None and not math.isfinite(frac):
        verdict = ("no verdict: the mean field has no critical point sigma_w,c for this "
                   "activation and sigma_b")
    elif crit_dependent is None:
        verdict = ("criticality alone does not predict the best accuracy in this sweep: the "
                   "best sigma_w is away from sigma_w,c beyond noise in "
                   f"{is_best.size - int(is_best.sum())} columns" if frac < 1 else
                   "in this sweep the best accuracy is reached at sigma_w,c within noise "
                   "(give critical= to compare boundary points with different kappa)")
    elif crit_dependent:
        verdict = ("criticality alone does not predict the best accuracy: at sigma_w,c and "
                   "equal depth the accuracy differs between boundary points (different "
                   "kappa) beyond noise (homogeneity p < 0.01)")
        r2 = out["critical"]["r2_diff"]
        if r2["ci_low"] > 0:
            verdict += (f"; kappa*L organises it better than L (monotone R^2 "
                        f"{r2['r2_x1']:.2f} vs {r2['r2_x2']:.2f})")
    else:
        verdict = ("consistent with criticality alone: at sigma_w,c and equal depth the "
                   "accuracy does not differ between boundary points beyond noise "
                   "(homogeneity p >= 0.01)")
    out["verdict"] = verdict
    if markdown:
        out["markdown"] = _markdown(out, lines, act)
    return out


def _critical_part(cds, n_boot, rng):
    """Accuracy exactly at sigma_w,c across boundary points (activation, sigma_b)."""
    from scipy import stats

    n_test = json.loads(cds.attrs.get("task_params", "{}")).get("n_test", 512)
    acc, err = _acc_err(_final_accuracy(cds), n_test)
    order = ("activation", "sigma_b", "depth")
    kl = (cds["kappa"] * cds["depth"]).transpose(*order)
    acc, err = acc.transpose(*order), err.transpose(*order)
    A, E, KL = acc.values, err.values, kl.values
    Ld = np.broadcast_to(cds["depth"].values.astype(float), A.shape)
    K = np.broadcast_to(cds["kappa"].transpose("activation", "sigma_b").values[..., None],
                        A.shape)
    sp = _spearman_ci(KL, A, n_boot, rng)
    sp_depth = _spearman_ci(Ld, A, n_boot, rng)
    # at fixed depth: do boundary points with different kappa differ? (chi-square test of
    # homogeneity with inverse-variance weights, summed over depths)
    M = A.shape[0] * A.shape[1]
    a2, e2 = A.reshape(M, -1), E.reshape(M, -1)  # (points, depth)
    w = 1.0 / e2**2
    mean_w = np.nansum(w * a2, axis=0) / np.nansum(w * np.isfinite(a2), axis=0)
    chi2_d = np.nansum(w * (a2 - mean_w) ** 2, axis=0)
    dof_d = np.sum(np.isfinite(a2), axis=0) - 1
    chi2_tot, dof = float(np.sum(chi2_d)), int(np.sum(dof_d))
    p_value = float(stats.chi2.sf(chi2_tot, dof)) if dof > 0 else math.nan
    centred = a2 - np.nanmean(a2, axis=0)
    # does kappa*L organise the accuracy better than L alone (what criticality alone gives)?
    r2 = _r2_compare(KL, Ld, A, n_boot, rng)
    sp_within = _spearman_ci(K.reshape(M, -1), centred, n_boot, rng)
    dep = {"depth": acc["depth"].values}
    table = xr.Dataset({"accuracy": acc, "accuracy_err": err, "kappa_L": kl,
                        "spread": ("depth", np.nanmax(a2, 0) - np.nanmin(a2, 0)),
                        "chi2": ("depth", chi2_d), "chi2_dof": ("depth", dof_d)},
                       coords=dep)
    ntk_slope, sp_c = math.nan, None
    if "ntk_condition" in cds:
        table["ntk_condition"] = cds["ntk_condition"].median("batch").transpose(*order)
        c = table["ntk_condition"].values
        ok = np.isfinite(c) & (c > 0) & np.isfinite(KL) & (KL > 0)
        if ok.sum() >= 3 and np.ptp(KL[ok]) > 0:
            ntk_slope = float(np.polyfit(np.log(KL[ok]), np.log(c[ok]), 1)[0])
        sp_c = _spearman_ci(KL, np.log(np.where(c > 0, c, np.nan)), n_boot, rng)
    return {"table": table, "spearman": sp, "spearman_depth": sp_depth,
            "spearman_within_depth": sp_within, "chi2": chi2_tot, "dof": dof,
            "r2_kappa_L": r2["r2_x1"], "r2_L": r2["r2_x2"], "r2_diff": r2,
            "p_value": p_value, "spearman_ntk_condition": sp_c,
            "ntk_log_slope": ntk_slope, "n_points": M, "n_depths": int(A.shape[-1])}


def _width_part(cds, n_boot, rng):
    """Accuracy at sigma_w,c against the width and the depth-to-width ratio L / (mu N)."""
    n_test = json.loads(cds.attrs.get("task_params", "{}")).get("n_test", 512)
    acc, err = _acc_err(_final_accuracy(cds), n_test)
    if "width" not in acc.dims:
        acc = acc.expand_dims(width=[int(cds["width"])])
        err = err.expand_dims(width=[int(cds["width"])])
    order = ("activation", "sigma_b", "width", "depth")
    acc, err = acc.transpose(*order), err.transpose(*order)
    N = acc["width"].astype(float)
    L = acc["depth"].astype(float)
    ratio = (L / N).broadcast_like(acc).transpose(*order)
    out = {"lines": []}
    tab = {"accuracy": acc, "accuracy_err": err, "depth_over_width": ratio}
    if acc.sizes["width"] > 1:
        # within each (boundary point, depth): does a wider network do better?
        centred = acc - acc.mean("width")
        sp_w = _spearman_ci(N.broadcast_like(acc).transpose(*order).values, centred.values,
                            n_boot, rng)
        out["spearman_within_width"] = sp_w
        out["lines"].append(f"at sigma_w,c, within (boundary point, depth): Spearman(accuracy, "
                            f"width) = {_fmt_sp(sp_w)}.")
    if "mu" in cds.coords:
        mu = cds["mu"].transpose("activation", "sigma_b")
        r = (ratio / mu).transpose(*order)
        tab["depth_over_mu_width"] = r
        A, R, D = acc.values, r.values, ratio.values
        out["spearman_depth_over_mu_width"] = _spearman_ci(R, A, n_boot, rng)
        out["r2_mu"] = _r2_compare(R, D, A, n_boot, rng)
        r2 = out["r2_mu"]
        out["lines"].append(
            f"at sigma_w,c: Spearman(accuracy, L/(mu N)) = "
            f"{_fmt_sp(out['spearman_depth_over_mu_width'])}; monotone R^2 on L/(mu N) "
            f"{r2['r2_x1']:.3f} vs on L/N {r2['r2_x2']:.3f} (difference {r2['diff']:+.3f}, "
            f"95% CI [{r2['ci_low']:+.3f}, {r2['ci_high']:+.3f}]); mu = "
            + ", ".join(f"{float(mu.sel(activation=a, sigma_b=b)):.3g}"
                        f"+-{float(cds['mu_error'].sel(activation=a, sigma_b=b)):.2g} "
                        f"({a}, sigma_b={float(b):g})"
                        for a in mu["activation"].values for b in mu["sigma_b"].values)
            + ".")
    out["table"] = xr.Dataset(tab)
    return out


def _fmt_sp(s):
    ci = (f"[{s['ci_low']:+.2f}, {s['ci_high']:+.2f}]" if math.isfinite(s["ci_low"])
          else "[no CI: n < 5]")
    return f"{s['rho']:+.2f} {ci} (n={s['n']})"


def _markdown(out, lines, act):
    md = [f"### Trainability near the phase boundary ({act})", "",
          "| rank correlation (Spearman, 95% bootstrap CI) | rho |", "|---|---|"]
    for k, s in out["spearman"].items():
        md.append(f"| {k.replace('_', ' ')} | {_fmt_sp(s)} |")
    if "critical" in out:
        cr = out["critical"]
        md.append(f"| at sigma_w,c: accuracy vs kappa*L | {_fmt_sp(cr['spearman'])} |")
        md.append(f"| at sigma_w,c: accuracy vs L | {_fmt_sp(cr['spearman_depth'])} |")
        md.append(f"| at sigma_w,c, within depth: accuracy vs kappa | "
                  f"{_fmt_sp(cr['spearman_within_depth'])} |")
        if cr["spearman_ntk_condition"] is not None:
            md.append(f"| at sigma_w,c: log NTK condition vs kappa*L | "
                      f"{_fmt_sp(cr['spearman_ntk_condition'])} |")
        t = cr["table"]
        md += ["", "| activation | sigma_b | sigma_w,c | kappa | depth | kappa*L | accuracy |",
               "|---|---|---|---|---|---|---|"]
        for a in t["activation"].values:
            for sb in t["sigma_b"].values:
                for L in t["depth"].values:
                    r = t.sel(activation=a, sigma_b=sb, depth=L)
                    md.append(f"| {a} | {sb:g} | {float(r['sigma_w']):.4f} | "
                              f"{float(r['kappa']):.4g} | {L} | {float(r['kappa_L']):.3g} | "
                              f"{float(r['accuracy']):.3f} +- {float(r['accuracy_err']):.3f} |")
    md += [""] + [f"- {x}" for x in lines] + ["", f"**Verdict:** {out['verdict']}."]
    return "\n".join(md)

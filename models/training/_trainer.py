"""The trainer: tasks, networks initialised like the processes, SGD with backprop.

Also the valid range of every argument of the trainer and the sweeps (``PARAMS``).
"""

from __future__ import annotations

import math

import numpy as np

from absorbphys._params import INT_MAX, Param

from . import _data, _nets
from ._data import Task
from ._nets import ACTIVATIONS, ARCHS, STREAM_SGD, Network

#: Valid range of every argument of the trainer and the sweeps (also used by ``absorbphys
#: train`` to check its options).
PARAMS = {
    "arch": Param("str", choices=ARCHS),
    "activation": Param("str", choices=tuple(ACTIVATIONS)),
    "task": Param("str", choices=_data.TASKS),
    "teacher": Param("str", choices=_data.TEACHERS),
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
    "seed": Param("int", 0, INT_MAX),
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


def check(name, value):
    return PARAMS[name].check(name, value)


def check_trainings(n):
    """Refuse a sweep of more than :data:`MAX_TRAININGS` networks (one-line ValueError)."""
    if n > MAX_TRAININGS:
        raise ValueError(f"repeats: the grid times repeats asks for {n} trained networks, at "
                         f"most {MAX_TRAININGS:.0e}; use fewer grid values or repeats")


def blas_one_thread():
    """Limit BLAS to one thread: the trainer's matrices are tiny and threads only contend.

    With two BLAS threads, a sweep beside another BLAS user on a 2-core machine ran 3-4 times
    slower (the training guide's cell: 115 s against 34 s), the threads spinning for cores.
    """
    from threadpoolctl import threadpool_limits

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
    task = check("task", task)
    n_train, n_test = check("n_train", n_train), check("n_test", n_test)
    seed = check("seed", seed)
    if task == "teacher":
        d_in, n_classes = check("d_in", d_in), check("n_classes", n_classes)
        teacher = check("teacher", teacher)
        teacher_width = check("teacher_width", teacher_width)
        arrays = _data.teacher_task(n_train, n_test, d_in, n_classes, teacher,
                                          teacher_width, seed)
        params = dict(task=task, n_train=n_train, n_test=n_test, d_in=d_in,
                      n_classes=n_classes, teacher=teacher, teacher_width=teacher_width,
                      seed=seed)
    else:
        arrays = _data.digits_task(n_train, n_test, seed)
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
    arch = check("arch", arch)
    spec = dict(arch=arch, d_in=check("d_in", d_in), n_classes=check("n_classes", n_classes),
                depth=check("depth", depth), width=check("width", width),
                channels=check("channels", channels),
                kernel_size=check("kernel_size", kernel_size),
                sigma_w=check("sigma_w", sigma_w), sigma_b=check("sigma_b", sigma_b),
                activation=check("activation", activation), seed=check("seed", seed),
                replica=check("replica", replica))
    if arch == "cnn" and spec["kernel_size"] % 2 == 0:
        raise ValueError(f"kernel_size must be odd for the centred periodic CNN, "
                         f"got {spec['kernel_size']}")
    if arch == "cnn" and spec["kernel_size"] > spec["d_in"]:
        raise ValueError(f"kernel_size must be <= d_in ({spec['d_in']}), "
                         f"got {spec['kernel_size']}")
    return Network(spec, _nets.build_params(spec))


def check_inputs(net, X, name="X"):
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
    loss, _ = _nets.softmax_xent(z, y)
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
    lr, epochs = check("lr", lr), check("epochs", epochs)
    batch_size, seed = check("batch_size", batch_size), check("seed", seed)
    replica = net.spec["replica"] if replica is None else check("replica", replica)
    with blas_one_thread():
        return train_steps(net, task, lr, epochs, batch_size, seed, replica)


def train_steps(net, task, lr, epochs, batch_size, seed, replica):
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

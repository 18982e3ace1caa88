"""Trainability sweeps, the width cost and the trainability plot.

Sweeps over ``(sigma_w, depth)`` and along the critical line.
"""

from __future__ import annotations

import datetime as _dt
import json
import math

import numpy as np
import xarray as xr

import absorbphys
from absorbphys import analysis
from absorbphys._params import Param
from absorbphys._progress import Progress
from absorbphys._version import __version__
from absorbphys.models import meanfield
from absorbphys.models.mlp import MLP

from ._data import Task
from ._ntk import empirical_ntk, spectrum
from ._trainer import (
    MAX_GRID_VALUES,
    blas_one_thread,
    check,
    check_trainings,
    init_network,
    make_task,
    train_steps,
)


def meanfield_or_nan(fn, *args, activation):
    """Return a mean-field quantity, NaN where the mean field has none."""
    try:
        return float(fn(*args, activation=activation))
    except (ValueError, RuntimeError, ArithmeticError):
        return math.nan


def kappa_or_nan(sigma_b, activation):
    """``meanfield.kappa``, NaN for activations with kinks (no finite kappa)."""
    try:
        return float(meanfield.kappa(sigma_b, activation=activation))
    except ValueError:
        return math.nan


# ====================================================================== sweeps
def _as_values(name, values, kind):
    if np.ndim(values) == 1 and len(values) > MAX_GRID_VALUES:  # before converting them
        raise ValueError(f"{name} must list at most {MAX_GRID_VALUES} values, "
                         f"got {len(values)}")
    arr = np.atleast_1d(np.asarray(values, dtype=object if kind == "str" else float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a value or a non-empty 1D sequence")
    out = [check(name, v) for v in arr]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} values must be distinct, got {list(out)}")
    return out


def _common_args(arch, width, channels, kernel_size, task, n_train, n_test, d_in, n_classes,
                 lr, epochs, batch_size, repeats, seed, ntk_examples):
    arch = check("arch", arch)
    if not isinstance(task, Task):
        task = make_task(task, n_train=n_train, n_test=n_test, d_in=d_in,
                         n_classes=n_classes, seed=seed)
    net_kw = dict(arch=arch, width=check("width", width), channels=check("channels", channels),
                  kernel_size=check("kernel_size", kernel_size))
    if arch == "cnn" and (net_kw["kernel_size"] % 2 == 0 or net_kw["kernel_size"] > task.d_in):
        raise ValueError(f"kernel_size must be odd and <= d_in ({task.d_in}), "
                         f"got {net_kw['kernel_size']}")
    tr_kw = dict(lr=check("lr", lr), epochs=check("epochs", epochs),
                 batch_size=check("batch_size", batch_size))
    repeats, seed = check("repeats", repeats), check("seed", seed)
    ntk_examples = check("ntk_examples", ntk_examples)
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
            out.update(spectrum(theta))
        else:
            m = theta.shape[0]
            out.update(eigenvalues=np.full(m, np.nan), lambda_max=np.nan, lambda_min=np.nan,
                       trace=np.nan, condition_number=np.nan)
    out.update(train_steps(net, task, tr_kw["lr"], tr_kw["epochs"], tr_kw["batch_size"], seed,
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
    act = check("activation", activation)
    check_trainings(len(sws) * len(depths) * len(sbs) * check("repeats", repeats))
    task_, net_kw, tr_kw, repeats, seed, ntk_examples = _common_args(
        arch, width, channels, kernel_size, task, n_train, n_test, d_in, n_classes, lr,
        epochs, batch_size, repeats, seed, ntk_examples)
    results = []
    total = len(sws) * len(depths) * len(sbs) * repeats
    with blas_one_thread(), Progress(total=total, desc="train", unit="network",
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
    sb = check("sigma_b", sigma_b)
    act = str(activation)
    ws = [int(w) for w in _as_values("width", widths, "int")]
    if len(ws) < 2:
        raise ValueError(f"widths must hold at least 2 widths, got {ws}")
    t_factor = float(t_factor)
    if not 1.0 <= t_factor <= 1000.0:
        raise ValueError(f"t_factor must be in [1, 1000], got {t_factor}")
    samples, seed = int(samples), check("seed", seed)
    if samples < 2:
        raise ValueError(f"samples must be >= 2, got {samples}")
    swc = meanfield_or_nan(meanfield.critical_sigma_w, sb, activation=act)
    kap = kappa_or_nan(sb, act)
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
    check_trainings(len(sbs) * len(depths) * len(acts) * len(widths)
                     * check("repeats", repeats))
    task_, net_kw, tr_kw, repeats, seed, ntk_examples = _common_args(
        arch, widths[0], channels, kernel_size, task, n_train, n_test, d_in, n_classes, lr,
        epochs, batch_size, repeats, seed, ntk_examples)
    swc = np.array([[meanfield_or_nan(meanfield.critical_sigma_w, sb, activation=a) for sb in sbs]
                    for a in acts])
    if not np.all(np.isfinite(swc)):
        i, j = np.argwhere(~np.isfinite(swc))[0]
        raise ValueError(f"activation {acts[i]!r} has no mean-field critical point "
                         f"sigma_w,c at sigma_b={sbs[j]:g}; choose another activation/sigma_b")
    kap = np.array([[kappa_or_nan(sb, a) for sb in sbs] for a in acts])
    mu = mu_err = None
    if mu_widths is not None:
        mus = [[measure_width_cost(sb, a, mu_widths, seed=seed) for sb in sbs] for a in acts]
        mu = np.array([[float(m["mu_estimate"]) for m in row] for row in mus])
        mu_err = np.array([[float(m["mu_estimate_error"]) for m in row] for row in mus])
    results = []
    total = len(acts) * len(sbs) * len(widths) * len(depths) * repeats
    with blas_one_thread(), Progress(total=total, desc="train at sigma_w,c", unit="network",
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
    from matplotlib.figure import Figure  # deferred: matplotlib, only for the plot

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
        swc = meanfield_or_nan(meanfield.critical_sigma_w, float(sb), activation=act)
        grid = np.linspace(xe[0], xe[-1], n_curve)
        xi = np.array([meanfield_or_nan(meanfield.depth_scale, s, float(sb), activation=act)
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

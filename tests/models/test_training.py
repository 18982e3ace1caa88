"""Tests of absorbphys.models.training: backprop, SGD, NTK, sweeps, report, CLI."""

import json
import math

import numpy as np
import pytest
import xarray as xr

from absorbphys.models import training as T


def _loss_flat(net, X, y):
    return net.loss_and_grad(X, y)[0]


def _fd_grad(f, theta, eps=1e-6):
    g = np.zeros_like(theta)
    for i in range(theta.size):
        tp = theta.copy()
        tp[i] += eps
        tm = theta.copy()
        tm[i] -= eps
        g[i] = (f(tp) - f(tm)) / (2 * eps)
    return g


def _tiny(arch, activation="tanh", **kw):
    base = dict(d_in=8, n_classes=3, depth=3, width=5, channels=3, kernel_size=3,
                sigma_w=1.4, sigma_b=0.3, activation=activation, seed=5)
    base.update(kw)
    return T.init_network(arch, **base)


@pytest.mark.parametrize("arch,activation,kw", [
    ("mlp", "tanh", {}), ("mlp", "erf", {}), ("mlp", "sin", {"depth": 2}),
    # kinked activations: no pre-activation lies within eps of a kink for these seeds
    ("mlp", "relu", {}), ("mlp", "hard_tanh", {}), ("mlp", "linear", {}),
    ("cnn", "tanh", {}), ("cnn", "tanh", {"kernel_size": 5, "channels": 2}),
    ("cnn", "erf", {"depth": 1}),
])
def test_gradient_matches_central_differences(arch, activation, kw):
    net = _tiny(arch, activation, **kw)
    task = T.make_task(n_train=16, n_test=4, d_in=8, n_classes=3, seed=3)
    X, y = task.X_train[:6], task.y_train[:6]
    _, grads = net.loss_and_grad(X, y)
    g = np.concatenate([a.ravel() for W, b in grads for a in (W, b)])
    theta = net.get_flat()

    def f(t):
        net.set_flat(t)
        return _loss_flat(net, X, y)

    fd = _fd_grad(f, theta)
    net.set_flat(theta)
    rel = np.linalg.norm(fd - g) / np.linalg.norm(g)
    assert rel < 1e-6
    # every parameter array received a gradient of the right shape
    assert [(dW.shape, db.shape) for dW, db in grads] == \
        [(W.shape, b.shape) for W, b in net.params]


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_ntk_is_jjt_of_finite_difference_jacobian(arch):
    net = _tiny(arch, depth=2)
    X = T.make_task(n_train=8, n_test=2, d_in=8, n_classes=3, seed=4).X_train[:3]
    theta = net.get_flat()
    Jfd = np.zeros((3 * 3, theta.size))
    eps = 1e-6
    for i in range(theta.size):
        tp = theta.copy()
        tp[i] += eps
        net.set_flat(tp)
        zp = net.forward(X)
        tm = theta.copy()
        tm[i] -= eps
        net.set_flat(tm)
        zm = net.forward(X)
        Jfd[:, i] = ((zp - zm) / (2 * eps)).ravel()
    net.set_flat(theta)
    J = T.jacobian(net, X)
    assert np.linalg.norm(J - Jfd) / np.linalg.norm(J) < 1e-6
    ntk = T.empirical_ntk(net, X)
    ref = Jfd @ Jfd.T
    assert np.linalg.norm(ntk - ref) / np.linalg.norm(ref) < 1e-6
    assert np.array_equal(ntk, ntk.T)
    ev = np.linalg.eigvalsh(ntk)
    assert ev[0] > -1e-10 * ev[-1]
    sp = T.ntk_spectrum(net, X)
    assert sp["condition_number"] == pytest.approx(ev[-1] / ev[0], rel=1e-8)
    assert sp["trace"] == pytest.approx(np.trace(ref), rel=1e-6)


def test_initialisation_law_and_common_random_numbers():
    net = T.init_network(d_in=64, n_classes=4, depth=8, width=256, sigma_w=1.7,
                         sigma_b=0.4, seed=11)
    Ws = np.concatenate([W.ravel() for W, _ in net.params[1:-1]])  # 7 * 65536 entries
    bs = np.concatenate([b for _, b in net.params[:-1]])  # 2048 entries
    # relative SE of a variance estimate is sqrt(2/n): 0.002 (W), 0.031 (b); 5 SE bounds
    assert np.var(Ws) == pytest.approx(1.7**2 / 256, rel=0.011)
    assert np.var(bs) == pytest.approx(0.4**2, rel=0.16)
    assert np.var(net.params[0][0]) == pytest.approx(1.7**2 / 64, rel=0.05)
    assert abs(np.mean(Ws)) < 5 * 1.7 / 256 / math.sqrt(Ws.size) * 16
    # same seed -> identical arrays; other sigma_w -> same normals rescaled
    again = T.init_network(d_in=64, n_classes=4, depth=8, width=256, sigma_w=1.7,
                           sigma_b=0.4, seed=11)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(net.params, again.params))
    other = T.init_network(d_in=64, n_classes=4, depth=4, width=256, sigma_w=0.85,
                           sigma_b=0.4, seed=11)
    np.testing.assert_allclose(other.params[2][0], 0.5 * net.params[2][0], rtol=1e-12)
    np.testing.assert_array_equal(other.params[-1][1], net.params[-1][1])
    diff = T.init_network(d_in=64, n_classes=4, depth=8, width=256, sigma_w=1.7,
                          sigma_b=0.4, seed=12)
    assert not np.array_equal(diff.params[0][0], net.params[0][0])


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_training_lowers_the_loss_on_the_default_task(arch):
    task = T.make_task(seed=0)
    net = T.init_network(arch, d_in=task.d_in, n_classes=task.n_classes, depth=3, width=32,
                         channels=4, sigma_w=1.3, sigma_b=0.05, seed=0)
    h = T.train(net, task, lr=0.05, epochs=8, batch_size=32, seed=0)
    assert h["diverged"] == 0
    assert h["train_loss"][-1] < 0.7 * h["train_loss"][0]
    assert h["test_loss"][-1] < h["test_loss"][0]
    # 4 balanced-ish classes: chance ~0.25-0.35; binomial SE on 512 test points ~0.02
    chance = np.bincount(task.y_test).max() / len(task.y_test)
    assert h["test_accuracy"][-1] > chance + 0.15


def test_sweep_reproducible_and_schema(tmp_path):
    import absorbphys as ap

    kw = dict(sigma_b=[0.05, 0.5], epochs=2, n_train=64, n_test=32, repeats=2,
              ntk_examples=4, seed=7)
    a = T.trainability_sweep([0.9, 1.6], [1, 3], **kw)
    b = T.trainability_sweep([0.9, 1.6], [1, 3], **kw)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
    c = T.trainability_sweep([0.9, 1.6], [1, 3], **{**kw, "seed": 8})
    assert not np.array_equal(a["train_loss"].values, c["train_loss"].values)
    assert a["test_accuracy"].dims == ("sigma_w", "depth", "sigma_b", "batch", "epoch")
    assert a.sizes["epoch"] == 3 and a.sizes["mode"] == 4 * 4
    # a sub-grid gives the same numbers (points are independent of the grid)
    sub = T.trainability_sweep([1.6], [3], **kw)
    np.testing.assert_array_equal(sub["train_loss"].values,
                                  a["train_loss"].sel(sigma_w=[1.6], depth=[3]).values)
    for k, v in a.attrs.items():
        assert isinstance(v, (str, int, float)) and not isinstance(v, bool), k
    assert json.loads(a.attrs["params"])["sigma_b"] == [0.05, 0.5]
    p = ap.save(a, tmp_path / "tr.nc")
    back = ap.load(p)
    xr.testing.assert_identical(back, a)


def test_single_sigma_b_is_scalar_coordinate_and_divergence_flag():
    ds = T.trainability_sweep([1.2], [2], sigma_b=0.1, epochs=1, n_train=32, n_test=16,
                              ntk_examples=0)
    assert "sigma_b" not in ds.dims and float(ds["sigma_b"]) == 0.1
    assert "ntk_condition" not in ds and int(ds["diverged"].sum()) == 0
    # a deep linear network with sigma_w = 3 and lr = 1 blows up geometrically
    bad = T.trainability_sweep([3.0], [6], sigma_b=0.1, activation="linear", epochs=3,
                               n_train=64, n_test=32, lr=1.0, ntk_examples=0)
    assert int(bad["diverged"].sum()) == 1
    assert np.isfinite(bad["test_loss"].isel(epoch=0)).all()
    assert np.isnan(bad["test_loss"].isel(epoch=-1)).all()
    rep = T.training_report(bad.expand_dims(sigma_w_extra=[0]).isel(sigma_w_extra=0),
                            n_boot=0)
    # diverged runs count as chance level in the report
    assert float(rep["points"]["accuracy"].squeeze()) == pytest.approx(0.25)


def test_digits_task():
    pytest.importorskip("sklearn")
    t = T.make_task("digits", n_train=300, n_test=100, seed=1)
    assert t.X_train.shape == (300, 64) and t.n_classes == 10
    np.testing.assert_allclose(t.X_train.mean(axis=0), 0, atol=1e-12)
    t2 = T.make_task("digits", n_train=300, n_test=100, seed=1)
    assert np.array_equal(t.X_test, t2.X_test) and np.array_equal(t.y_train, t2.y_train)
    with pytest.raises(ValueError, match="n_train \\+ n_test must be <= 1797"):
        T.make_task("digits", n_train=1700, n_test=200)


def test_digits_without_sklearn(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'absorbphys\[digits\]'"):
        T.make_task("digits")


@pytest.mark.parametrize("call,exc,match", [
    (lambda: T.init_network(d_in=4, n_classes=2, sigma_w=-1.0), ValueError, "sigma_w must be"),
    (lambda: T.init_network(d_in=4, n_classes=2, depth=0), ValueError, "depth must be"),
    (lambda: T.init_network(d_in=4, n_classes=2, depth=2.5), TypeError, "depth must be"),
    (lambda: T.init_network(d_in=4, n_classes=2, activation="foo"), ValueError, "activation"),
    (lambda: T.init_network("rnn", d_in=4, n_classes=2), ValueError, "arch must be"),
    (lambda: T.init_network("cnn", d_in=8, n_classes=2, kernel_size=4), ValueError, "odd"),
    (lambda: T.make_task("mnist"), ValueError, "task must be"),
    (lambda: T.make_task(n_classes=1), ValueError, "n_classes must be"),
    (lambda: T.jacobian(_tiny("mlp"), np.zeros((2, 5))), ValueError, "X must have shape"),
    (lambda: T.train(_tiny("mlp"), "teacher"), TypeError, "task must be a Task"),
    (lambda: T.train(_tiny("mlp"), T.make_task(n_train=8, n_test=4)), ValueError,
     "task has d_in"),
    (lambda: T.trainability_sweep([1.0, 1.0], [2]), ValueError, "distinct"),
    (lambda: T.trainability_sweep([1.0], [2], lr=0), ValueError, "lr must be"),
    (lambda: T.trainability_sweep([1.0], [2], n_train=8, ntk_examples=9), ValueError,
     "ntk_examples"),
    (lambda: T.training_report(xr.Dataset()), ValueError, "trainability_sweep"),
])
def test_bad_input_one_line_errors(call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def _fake_sweep(acc_fn, n_classes=4):
    """A trainability Dataset with prescribed final accuracies (tests the report logic)."""
    ds = T.trainability_sweep([0.9, 1.1, 1.5, 2.0, 2.5], [2, 4, 8], sigma_b=[0.05, 0.3],
                              epochs=1, n_train=32, n_test=400, ntk_examples=0, repeats=1)
    sw, L, sb = xr.broadcast(ds["sigma_w"], ds["depth"], ds["sigma_b"])
    acc = acc_fn(sw, L, sb).transpose("sigma_w", "depth", "sigma_b")
    ds["test_accuracy"].loc[dict(epoch=1)] = acc.values[..., None]
    ds["diverged"][:] = 0
    return ds


def test_report_detects_optimum_away_from_criticality():
    # accuracy peaked at sigma_w = 2.5, far from sigma_w,c (1.12 and 1.40): a 0.3 gap
    ds = _fake_sweep(lambda sw, L, sb: 0.4 + 0.3 * (sw == 2.5))
    rep = T.training_report(ds, n_boot=100)
    assert int(rep["columns"]["critical_is_best"].sum()) == 0
    assert (rep["columns"]["best_sigma_w"] == 2.5).all()
    assert "does not predict" in rep["verdict"]
    # accuracy peaked at the grid point nearest sigma_w,c -> the report says so
    ds2 = _fake_sweep(lambda sw, L, sb: 0.4 + 0.3 * (np.abs(sw - (1.1 + 0.4 * (sb > 0.1)))
                                                     < 1e-9))
    rep2 = T.training_report(ds2, n_boot=100)
    assert int(rep2["columns"]["critical_is_best"].sum()) == rep2["columns"][
        "critical_is_best"].size
    assert "reached at sigma_w,c" in rep2["verdict"]
    pts = rep2["points"]
    assert set(pts.dims) == {"sigma_w", "depth", "sigma_b"}
    from absorbphys.models import meanfield as mf
    assert float(pts["kappa_L"].sel(depth=8, sigma_b=0.3)) == pytest.approx(
        8 * mf.kappa(0.3, activation="tanh"))
    assert float(pts["distance"].sel(sigma_w=2.0, sigma_b=0.3)) == pytest.approx(
        2.0 - mf.critical_sigma_w(0.3, activation="tanh"))


def test_critical_sweep_and_report_verdicts():
    from absorbphys.models import meanfield as mf
    cr = T.critical_sweep([0.05, 0.5], [2, 8], activation=["tanh", "erf"], epochs=1,
                          n_train=32, n_test=400, ntk_examples=4)
    for a in ("tanh", "erf"):
        for sb in (0.05, 0.5):
            assert float(cr["sigma_w"].sel(activation=a, sigma_b=sb)) == pytest.approx(
                mf.critical_sigma_w(sb, activation=a))
            assert float(cr["kappa"].sel(activation=a, sigma_b=sb)) > 0
    ds = _fake_sweep(lambda sw, L, sb: 0.5 + 0 * sw)
    # accuracy at sigma_w,c set to a decreasing function of kappa*L: must be detected
    kl = cr["kappa"] * cr["depth"]
    cr["test_accuracy"].loc[dict(epoch=1)] = (0.9 - 0.05 * np.log1p(kl)).transpose(
        "activation", "sigma_b", "depth").values[..., None]
    cr["diverged"][:] = 0
    rep = T.training_report(ds, cr, n_boot=200)
    assert rep["critical"]["spearman"]["rho"] == pytest.approx(-1.0)
    assert "does not predict" in rep["verdict"]
    assert "Verdict" in rep["markdown"] and "kappa*L" in rep["markdown"]
    assert rep["critical"]["p_value"] < 0.01
    assert rep["critical"]["spearman_within_depth"]["rho"] < 0
    # accuracy falls with depth but is identical at every boundary point of a given depth:
    # consistent with criticality alone (the pooled kappa*L correlation is not enough)
    cr["test_accuracy"].loc[dict(epoch=1)] = (0.9 - 0.02 * cr["depth"]).broadcast_like(
        cr["test_accuracy"].isel(epoch=1)).transpose(*cr["test_accuracy"].dims[:-1]).values
    rep = T.training_report(ds, cr, n_boot=200)
    assert rep["critical"]["chi2"] == pytest.approx(0.0, abs=1e-9)
    assert rep["critical"]["spearman"]["rho"] < -0.3
    assert "consistent with criticality alone" in rep["verdict"]


def test_monotone_r2():
    from absorbphys.models.training._report import _monotone_r2

    x = np.arange(10.0)
    assert _monotone_r2(x, 1.0 - 0.1 * x) == pytest.approx(1.0)
    assert _monotone_r2(x, 0.1 * x) == pytest.approx(0.0, abs=1e-12)  # wrong direction
    # ties in x are pooled: y scattered within a tie cannot be fitted
    assert _monotone_r2(np.repeat([1.0, 2.0], 2), np.array([1.0, 0.0, 1.0, 0.0])) == \
        pytest.approx(0.0, abs=1e-12)


def test_plot_returns_figure_without_pyplot():
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    matplotlib.use("Agg")
    n_open = len(plt.get_fignums())
    ds = _fake_sweep(lambda sw, L, sb: 0.3 + 0.1 * sw / L)
    fig = T.plot_trainability(ds, n_curve=15)
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == 2
    assert len(plt.get_fignums()) == n_open
    with pytest.raises(ValueError, match="trainability_sweep"):
        T.plot_trainability(xr.Dataset())


def test_cli_train(tmp_path, capsys):
    from absorbphys.cli import main

    out = tmp_path / "t.nc"
    png = tmp_path / "t.png"
    rc = main(["train", "--sigma-w", "1.0,1.5", "--depth", "1,2", "--epochs", "1",
               "--n-train", "32", "--n-test", "16", "--ntk-examples", "2", "--out", str(out),
               "--plot", str(png), "--report"])
    assert rc == 0 and out.is_file() and png.stat().st_size > 0
    assert "Verdict" in capsys.readouterr().out
    assert main(["train", "--depth", "2.5"]) == 2
    assert main(["train", "--sigma-w", "1:2"]) == 2
    err = capsys.readouterr().err
    assert "--sigma-w must be" in err and err.count("\n") == 2
    crit = tmp_path / "c.nc"
    rc = main(["train", "--sigma-w", "1.2,1.5", "--sigma-b", "0.3", "--depth", "2,4",
               "--epochs", "1", "--n-train", "32", "--n-test", "16", "--ntk-examples", "0",
               "--critical-sigma-b", "0.3,0.6", "--critical-widths", "8,16",
               "--mu-widths", "32,48", "--critical-out", str(crit), "--report"])
    text = capsys.readouterr().out
    assert rc == 0 and crit.is_file()
    assert "at sigma_w,c" in text and "L/(mu N)" in text
    c = __import__("absorbphys").load(crit)
    assert c.sizes["width"] == 2 and np.all(np.isfinite(c["mu"].values))
    assert main(["train", "--mu-widths", "32,64"]) == 2
    assert "--critical-sigma-b" in capsys.readouterr().err


def test_measure_width_cost_is_finite_reproducible_and_width_independent():
    # tanh at sigma_b = 0.3 (kappa = 0.233): rho N = f(l / N) already at N = 32-64, so the
    # width cost measured at two widths must agree within the errors (scaling), and the
    # curves must first reach the infinite-width decay (plateau of kappa l rho near 1)
    m = T.measure_width_cost(0.3, "tanh", (32, 64), samples=96, seed=3)
    mu, err = m["mu"].values, m["mu_error"].values
    assert np.all(np.isfinite(mu)) and np.all(err > 0)
    assert abs(mu[0] - mu[1]) < 3 * math.hypot(*err)
    assert np.all(m["plateau"].values > 0.8)
    assert float(m["mu_estimate"]) == mu[1]
    assert float(m["mu_estimate_error"]) >= err[1]
    again = T.measure_width_cost(0.3, "tanh", (32, 64), samples=96, seed=3)
    assert float(again["mu_estimate"]) == float(m["mu_estimate"])
    with pytest.raises(ValueError, match="widths"):
        T.measure_width_cost(0.3, "tanh", (32,))
    with pytest.raises(ValueError, match="kappa"):
        T.measure_width_cost(0.3, "relu", (32, 64))


def test_critical_sweep_width_dimension_and_width_report():
    cr = T.critical_sweep([0.3, 0.6], [2, 8], width=[8, 16], epochs=1, n_train=32,
                          n_test=400, ntk_examples=0)
    assert cr["test_accuracy"].dims[:4] == ("activation", "sigma_b", "width", "depth")
    with pytest.raises(ValueError, match="width"):
        T.critical_sweep(0.3, 2, width=[8, 16], arch="cnn", epochs=0, n_train=32)
    # prescribe mu and an accuracy that falls with L / (mu N): the report must find it, and
    # find that L / (mu N) organises it better than L / N
    cr = cr.assign_coords(mu=(("activation", "sigma_b"), [[2.0, 0.5]]),
                          mu_error=(("activation", "sigma_b"), [[0.1, 0.05]]))
    ratio = cr["depth"] / (cr["mu"] * cr["width"])
    acc = (0.9 - 0.1 * np.log1p(ratio)).transpose("activation", "sigma_b", "width", "depth")
    cr["test_accuracy"].loc[dict(epoch=1)] = acc.values[..., None]
    cr["diverged"][:] = 0
    rep = T.training_report(_fake_sweep(lambda sw, L, sb: 0.5 + 0 * sw), cr, n_boot=200)
    w = rep["width"]
    assert w["spearman_depth_over_mu_width"]["rho"] == pytest.approx(-1.0)
    assert w["spearman_within_width"]["rho"] > 0.8
    assert w["r2_mu"]["r2_x1"] == pytest.approx(1.0) and w["r2_mu"]["diff"] > 0.05
    assert "L/(mu N)" in rep["markdown"]
    assert rep["critical"]["n_points"] == 2  # the critical part uses the largest width

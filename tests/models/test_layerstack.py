"""User layer stacks: the built-in MLP and CNN rebuilt as stacks agree in distribution.

Also: reproducibility (seed, batches, threads, chunking), the schema and the analysis on the
output, sweeps (in-process and in worker processes), the JAX path (skipped without JAX), and
one-line errors for bad user code. Stacks of this module are named ``_ls_*`` (test-only
models, which the conformance suite leaves aside).
"""

import math
import pickle
import sys

import numba
import numpy as np
import pytest
import xarray as xr

import absorbphys as ap
from absorbphys import Param, UsageError
from absorbphys.models import CNN, MLP, LayerStack

SIGMAS = {"sigma_w": Param("float", 0.0, 100.0, doc="weight standard deviation"),
          "sigma_b": Param("float", 0.0, 100.0, doc="bias standard deviation")}


# ------------------------------------------------------------------ the stacks
def mlp_init(rng, width, sigma_w, sigma_b):
    """One layer of MLP(method="weights"): W ~ N(0, sigma_w^2 / N), b ~ N(0, sigma_b^2)."""
    return (rng.standard_normal((width, width)) * (sigma_w / math.sqrt(width)),
            rng.standard_normal(width) * sigma_b)


def mlp_apply(p, h):
    W, b = p
    return np.tanh(h) @ W.T + b


def cnn_init(rng, channels, sigma_w, sigma_b, kernel_size):
    """One layer of CNN(dim=1): W[k, c', c] ~ N(0, sigma_w^2 / (C K)), b_c ~ N(0, sigma_b^2)."""
    W = rng.standard_normal((kernel_size, channels, channels))
    scale = sigma_w / math.sqrt(channels * kernel_size)
    return W * scale, rng.standard_normal(channels) * sigma_b


def cnn_apply(p, h):
    """Circular convolution over the site axis (-2): offsets -(K//2) .. K - 1 - K//2."""
    W, b = p
    a = np.tanh(h)
    o0 = W.shape[0] // 2
    return b + sum(np.roll(a, o0 - k, axis=-2) @ W[k] for k in range(W.shape[0]))


LsMLP = LayerStack.define("_ls_mlp", mlp_init, mlp_apply, params=SIGMAS, control="sigma_w",
                          class_name="LsMLP")
LsCNN = LayerStack.define("_ls_cnn", cnn_init, cnn_apply, dim=1, class_name="LsCNN",
                          params={**SIGMAS, "kernel_size": Param("int", 1, default=3)})


def per_sample(proc, t_max, n, seed=0, **kw):
    return ap.simulate(proc, t_max, samples=n, batches=n, seed=seed, **kw)


def z_scores(a, b):
    """(mean a - mean b) / combined standard error, per layer, from per-sample rho."""
    se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
    diff = a.mean(0) - b.mean(0)
    # no spread (e.g. the light cone of a seed): the means must agree exactly
    return np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))


def strip(ds):
    ds = ds.copy()
    ds.attrs.pop("created", None)
    return ds


# ------------------------------------------------------------------ agreement with built-ins
@pytest.fixture(scope="module")
def mlp_ref():
    """Per-sample rho(t) of the built-in MLP with explicit weights, width 64, 20 layers."""
    return per_sample(MLP(64, 1.4, 0.3, method="weights", q0=1.0), 20, 400, seed=1).rho.values


def test_mlp_stack_reproduces_builtin_mlp_and_detects_a_wrong_sigma_w(mlp_ref):
    n, t, ref = 400, 20, mlp_ref
    same = per_sample(LsMLP(64, 1.4, 0.3), t, n, seed=2).rho.values
    # se of a layer mean ~0.008 (per-sample spread 0.14-0.2 at width 64); 21 layers at 4 se
    assert np.max(np.abs(z_scores(same, ref))) < 4, z_scores(same, ref)
    wrong = per_sample(LsMLP(64, 1.6, 0.3), t, n, seed=2).rho.values
    assert np.max(np.abs(z_scores(wrong, ref))) > 8   # the comparison has power


def test_cnn_stack_reproduces_builtin_cnn_including_seed_observables():
    n, t = 300, 16
    ref = per_sample(CNN(16, 4, 1.4, 0.3, q0=1.0), t, n, seed=1)
    same = per_sample(LsCNN(L=16, channels=4, sigma_w=1.4, sigma_b=0.3), t, n, seed=2)
    assert np.max(np.abs(z_scores(same.rho.values, ref.rho.values))) < 4
    wrong = per_sample(LsCNN(L=16, channels=4, sigma_w=1.8, sigma_b=0.3), t, n, seed=2)
    assert np.max(np.abs(z_scores(wrong.rho.values, ref.rho.values))) > 8
    # seed runs: the perturbation spreads from site 0 as in the built-in CNN
    ref = per_sample(CNN(16, 4, 1.4, 0.3, q0=1.0), 8, 150, seed=3, init="seed")
    seed = per_sample(LsCNN(16, 4, 1.4, 0.3), 8, 150, seed=4, init="seed")
    assert set(seed.data_vars) == {"rho", "rho2", "survival", "n_active", "r2"}
    assert np.all(seed.n_active.values[:, 0] == 1) and np.all(seed.r2.values[:, 0] == 0)
    for var in ("n_active", "r2"):
        assert np.max(np.abs(z_scores(seed[var].values[:, 1:], ref[var].values[:, 1:]))) < 4


def conv2_init(rng, channels, sigma_w, sigma_b, kernel_size):
    """One layer of CNN(dim=2): W[kx, ky, c', c] ~ N(0, sigma_w^2 / (C K^2))."""
    W = rng.standard_normal((kernel_size, kernel_size, channels, channels))
    return (W * (sigma_w / math.sqrt(channels * kernel_size ** 2)),
            rng.standard_normal(channels) * sigma_b)


def conv2_apply(p, h):
    """Circular 2-D convolution over the site axes (-3, -2)."""
    W, b = p
    a, o0 = np.tanh(h), W.shape[0] // 2
    return b + sum(np.roll(a, (o0 - i, o0 - j), axis=(-3, -2)) @ W[i, j]
                   for i in range(W.shape[0]) for j in range(W.shape[1]))


def test_two_dimensional_conv_stack_reproduces_builtin_cnn():
    Conv2 = LayerStack.define("_ls_cnn2", conv2_init, conv2_apply, dim=2,
                              params={**SIGMAS, "kernel_size": Param("int", 1, default=3)})
    n, t = 300, 12
    ref = per_sample(CNN(8, 4, 1.4, 0.3, dim=2, q0=1.0), t, n, seed=1)
    same = per_sample(Conv2(L=8, channels=4, sigma_w=1.4, sigma_b=0.3), t, n, seed=2)
    assert same.attrs["dim"] == 2 and same.attrs["size"] == 64
    assert np.max(np.abs(z_scores(same.rho.values, ref.rho.values))) < 4
    wrong = per_sample(Conv2(L=8, channels=4, sigma_w=1.8, sigma_b=0.3), t, n, seed=2)
    assert np.max(np.abs(z_scores(wrong.rho.values, ref.rho.values))) > 8
    # a seed at site (0, 0) spreads over the grid as in the built-in 2-D CNN
    ref = per_sample(CNN(8, 4, 1.4, 0.3, dim=2, q0=1.0), 4, 150, seed=3, init="seed")
    seed = per_sample(Conv2(8, 4, 1.4, 0.3), 4, 150, seed=4, init="seed")
    for var in ("n_active", "r2"):
        assert np.max(np.abs(z_scores(seed[var].values[:, 1:], ref[var].values[:, 1:]))) < 4


# ------------------------------------------------------------------ reproducibility
def test_seed_batches_threads_and_chunks_do_not_change_results(monkeypatch):
    p = LsMLP(32, 1.5, 0.3)
    a = per_sample(p, 30, 12, seed=7, times="log")
    xr.testing.assert_identical(strip(a), strip(per_sample(p, 30, 12, seed=7, times="log")))
    assert not np.array_equal(a.rho.values, per_sample(p, 30, 12, seed=8, times="log").rho.values)
    # a sample's trajectory depends on (seed, sample) only: not on batches, chunks, threads
    b = ap.simulate(p, 30, samples=12, batches=5, seed=7, times="log")
    np.testing.assert_allclose(b.rho.weighted(b.n_samples).mean("batch"), a.rho.mean("batch"),
                               rtol=1e-13)
    more = per_sample(p, 30, 20, seed=7, times="log")
    np.testing.assert_array_equal(more.rho.values[:12], a.rho.values)
    from absorbphys.models import layerstack

    monkeypatch.setattr(layerstack, "_MAX_CHUNK", 5)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = per_sample(p, 30, 12, seed=7, times="log")
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one.rho.values, a.rho.values)


def test_initial_conditions_survival_and_n_active():
    p = LsMLP(64, 1.0, 0.3, eps=1e-8)          # ordered phase: the replicas merge
    ds = per_sample(p, 200, 4, init="seed", times="log", seed=2)
    rho, surv = ds.rho.values, ds.survival.values
    np.testing.assert_array_equal(surv, (rho > 1e-8).astype(float))
    np.testing.assert_allclose(ds.n_active.values, 64 * rho * (rho > 1e-8))
    assert "r2" not in ds and surv[:, 0].all() and not surv[:, -1].any()
    assert np.all((rho[:, 0] > 1e-7) & (rho[:, 0] < 1e-5))   # 1 - c0 ~ seed_rho
    assert p.is_absorbed(1e-9) and not p.is_absorbed(1e-7)
    same = per_sample(LsMLP(64, 1.8, 0.3), 5, 2, init=1.0)   # identical inputs stay identical
    assert np.all(same.rho.values == 0.0) and np.all(same.survival.values == 0.0)
    half = per_sample(LsMLP(4096, 1.8, 0.3), 1, 2, init=0.5)
    np.testing.assert_allclose(half.rho.values[:, 0], 0.5, atol=0.03)
    assert half.attrs["init"] == "c0=0.5"
    r32 = per_sample(LsMLP(256, 1.5, 0.3, dtype="float32"), 6, 4, seed=3).rho.values
    r64 = per_sample(LsMLP(256, 1.5, 0.3), 6, 4, seed=3).rho.values
    np.testing.assert_allclose(r32, r64, rtol=1e-4)
    three = per_sample(LsMLP(64, 1.5, 0.3, inputs=3), 4, 2, seed=4)
    assert three.rho.shape == (2, 5) and np.all(three.rho.values > 0.1)


def test_user_input_sampler_and_two_dimensional_grid():
    def ones_and_signs(rng, width, sigma_w, sigma_b):
        return rng.choice([-1.0, 1.0], size=width)

    Signs = LayerStack.define("_ls_signs", mlp_init, mlp_apply, params=SIGMAS,
                              sample_input=ones_and_signs)
    assert "q0" not in Signs.params
    ds = per_sample(Signs(256, 1.5, 0.3), 3, 3, seed=1)
    assert np.all(np.abs(ds.rho.values[:, 0] - 1) < 0.2)

    def init2(rng, channels, sigma_w, sigma_b):
        return cnn_init(rng, channels, sigma_w, sigma_b, 1)

    def apply2(p, h):   # 1x1 convolution plus the four neighbours' mean on a torus
        a = np.tanh(h)
        a = 0.5 * a + 0.125 * sum(np.roll(a, s, axis=ax) for s in (-1, 1) for ax in (-3, -2))
        return a @ p[0][0] + p[1]

    Grid = LayerStack.define("_ls_grid", init2, apply2, dim=2, params=SIGMAS)
    g = Grid(L=6, channels=3, sigma_w=1.6, sigma_b=0.2)
    assert g.size == 36 and g.dim == 2
    ds = per_sample(g, 6, 3, init="seed", seed=2)
    assert ds.attrs["dim"] == 2 and ds.attrs["size"] == 36
    assert np.all(ds.n_active.values[:, 0] == 1) and np.all(ds.n_active.values[:, -1] > 1)
    assert np.all(np.isfinite(ds.r2.values)) and np.all(ds.r2.values[:, -1] > 0)


# ------------------------------------------------------------------ schema, analysis, sweeps
def test_schema_analysis_registry_and_save_load(tmp_path):
    assert ap.get_model("_ls_mlp") is LsMLP and LsMLP.control == "sigma_w"
    assert LsMLP.__name__ == "LsMLP" and LsMLP.__module__ == __name__
    p = LsMLP(width=64, sigma_w=1.0, sigma_b=0.3)
    ds = ap.simulate(p, 40, samples=40, batches=10, times="log", seed=3)
    assert ds.attrs["model"] == "_ls_mlp" and ds.attrs["time_unit"] == "layer"
    assert ds["t"].attrs["time_unit"] == "layer" and ds.attrs["size_param"] == "width"
    for var in ("rho", "rho2", "survival"):
        assert ds[var].dims == ("batch", "t") and ds[var].attrs["long_name"]
    fit = ap.analysis.fit_power_law(ds, t_min=5)
    assert np.isfinite(float(fit.delta)) and np.isfinite(float(fit.delta_error))
    back = ap.load(ap.save(ds, tmp_path / "s.nc"))
    xr.testing.assert_identical(ds, back)
    assert pickle.loads(pickle.dumps(p)) == p
    assert p.replace(sigma_w=1.2) == LsMLP(64, 1.2, 0.3)


def test_sweep_in_process_and_in_worker_processes(tmp_path):
    kw = dict(grid={"sigma_w": [1.2, 1.6]}, params={"width": 16, "sigma_b": 0.3}, t_max=6,
              samples=4, seed=5)
    one = ap.sweep("_ls_mlp", workers=1, **kw)
    assert one.rho.dims == ("sigma_w", "batch", "t")
    np.testing.assert_array_equal(one.sigma_w.values, [1.2, 1.6])
    # worker processes import this module, which defines the stack again
    two = ap.sweep(LsMLP, workers=2, out=tmp_path / "w.nc", **kw)
    np.testing.assert_array_equal(two.rho.values, one.rho.values)
    # a worker that cannot rebuild a stack (defined in a function) reports it in one line
    from absorbphys.models import layerstack

    stand_in = layerstack._rebuild(__name__, "_ls_defined_in_a_function", {})
    with pytest.raises(UsageError, match="not defined by importing module .* workers=1"):
        ap.simulate(stand_in, 2)
    stand_in = layerstack._rebuild("no_such_module_here", "_ls_x", {})
    with pytest.raises(UsageError, match="cannot import its module 'no_such_module_here'"):
        ap.simulate(stand_in, 2)


def test_a_stack_is_a_benchmark_row(tmp_path):
    """A user stack runs through the whole benchmark (locate, decay, FSS, verdict, report),
    named in a configuration entry like a built-in model."""
    entry = ap.BenchmarkEntry(
        name="my-mlp", label="tanh MLP written as a stack", model="_ls_mlp",
        params={"sigma_b": 0.3}, control="sigma_w", window=(1.2, 1.6), size=32, t_max=32,
        sweep_points=5, sweep_samples=4, refine=0, decay_t_max=64, decay_samples=8,
        fss_sizes=(8, 16), fss_t_factor=2.0, fss_samples=8, fss_shift=False, budget_s=30,
        extra={"n_boot": 4})
    res = ap.benchmark(config=[entry], out=tmp_path / "out", seed=1, progress=False)
    row = res.rows[0]
    assert row["model"] == "_ls_mlp" and row["size_param"] == "width"
    assert not row["stage_errors"], row["stage_errors"]
    for k in ("critical_point", "delta", "fss_a", "fss_b"):
        assert row[k].error > 0, k
    # (width 32: the window may move; the finite-width transition lies above 1.3956)
    assert 1.0 < row["critical_point"].value < 2.5
    assert row["verdict"] in ("match", "inconclusive", "no match")
    assert (tmp_path / "out" / "report.html").is_file()
    assert (tmp_path / "out" / "data" / "my-mlp" / "decay.nc").is_file()


# ------------------------------------------------------------------ bad user code
def _bad(match, **kw):
    args = dict(name="_ls_bad", init=mlp_init, apply=mlp_apply, params=SIGMAS) | kw
    stack = LayerStack.define(**args)
    with pytest.raises(UsageError, match=match) as info:
        stack(8, 1.0, 0.1)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_bad_user_functions_give_one_line_errors_at_construction():
    def init_raises(rng, width, sigma_w, sigma_b):
        return 1 / 0

    def wrong_shape(p, h):
        return mlp_apply(p, h)[..., :-1]

    def nans(p, h):
        return mlp_apply(p, h) * np.nan

    def mixes(p, h):   # normalises over the whole batch, not per state
        y = mlp_apply(p, h)
        return y / np.linalg.norm(y)

    def global_rng(rng, width, sigma_w, sigma_b):
        return np.random.standard_normal((width, width)), np.zeros(width)

    def returns_list(p, h):
        return [1.0, 2.0]

    assert "init raised ZeroDivisionError: division by zero" in _bad("init", init=init_raises)
    assert "probe at width=8" in _bad("returned shape", apply=wrong_shape)
    _bad(r"non-finite values \(nan\)", apply=nans)
    _bad("apply mixes the states", apply=mixes)
    _bad("draw every random number of init from its rng argument", init=global_rng)
    _bad("apply returned shape", apply=returns_list)


def test_bad_definitions_and_run_time_failures():
    def wrong_signature(rng, width, sigma):
        return None

    with pytest.raises(UsageError, match=r"init is called as init\(rng, \*\*kw\) with keywords "
                                         r"among \(width, sigma_w, sigma_b\).*'sigma'"):
        LayerStack.define("_ls_bad", wrong_signature, mlp_apply, params=SIGMAS)
    with pytest.raises(UsageError, match="taken by the model absorbphys.models.mlp.MLP"):
        LayerStack.define("mlp", mlp_init, mlp_apply, params=SIGMAS)
    with pytest.raises(UsageError, match="'eps' is reserved"):
        LayerStack.define("_ls_bad", mlp_init, mlp_apply, params={"eps": Param("float")})
    with pytest.raises(UsageError, match="sigma_w must be a Param"):
        LayerStack.define("_ls_bad", mlp_init, mlp_apply, params={"sigma_w": (0, 1)})
    with pytest.raises(UsageError, match="control must be one of the numeric params"):
        LayerStack.define("_ls_bad", mlp_init, mlp_apply, params=SIGMAS, control="beta")
    with pytest.raises(UsageError, match="dim must be one of 0, 1, 2"):
        LayerStack.define("_ls_bad", mlp_init, mlp_apply, params=SIGMAS, dim=3)
    with pytest.raises(TypeError, match="LayerStack.define"):
        LayerStack()
    # parameters are validated like a built-in model's
    with pytest.raises(ValueError, match=r"sigma_w must be in \[0, 100\], got -1"):
        LsMLP(8, -1.0, 0.1)
    with pytest.raises(ValueError, match=r"width must be an integer in \[2, inf\), got 1"):
        LsMLP(1, 1.0, 0.1)

    def linear(p, h):   # unbounded: overflows after ~150 layers at sigma_w = 100
        W, b = p
        with np.errstate(over="ignore", invalid="ignore"):
            return h @ W.T + b

    Linear = LayerStack.define("_ls_linear", mlp_init, linear, params=SIGMAS)
    with pytest.raises(UsageError, match=r"non-finite states .* by layer \d+ of sample 0") as e:
        ap.simulate(Linear(8, 100.0, 0.0), 400, times="log")
    assert "\n" not in str(e.value)

    def fails_when_wide(p, h):
        if h.shape[-1] > 8:
            raise RuntimeError("too wide for me")
        return mlp_apply(p, h)

    Narrow = LayerStack.define("_ls_narrow", mlp_init, fails_when_wide, params=SIGMAS)
    with pytest.raises(UsageError, match=r"apply raised RuntimeError: too wide for me "
                                         r"\(layer 0 of sample 0\)"):
        ap.simulate(Narrow(16, 1.0, 0.1), 3)


# ------------------------------------------------------------------ JAX
@pytest.fixture(scope="module")
def jax_mlp():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def init(key, width, sigma_w, sigma_b):
        kw, kb = jax.random.split(key)
        return (jax.random.normal(kw, (width, width)) * (sigma_w / jnp.sqrt(width)),
                jax.random.normal(kb, (width,)) * sigma_b)

    def apply(p, h):
        W, b = p
        return jnp.tanh(h) @ W.T + b

    return LayerStack.define("_ls_jax_mlp", init, apply, params=SIGMAS, framework="jax")


def test_jax_stack_reproduces_builtin_mlp(jax_mlp, mlp_ref):
    n, t, ref = 250, 20, mlp_ref
    same = per_sample(jax_mlp(64, 1.4, 0.3), t, n, seed=2)
    assert np.max(np.abs(z_scores(same.rho.values, ref))) < 4
    wrong = per_sample(jax_mlp(64, 1.6, 0.3), t, n, seed=2).rho.values
    assert np.max(np.abs(z_scores(wrong, ref))) > 8
    # the NumPy and JAX versions of a stack share the inputs (layer 0) exactly
    np.testing.assert_allclose(same.rho.values[:, 0],
                               per_sample(LsMLP(64, 1.4, 0.3), 1, n, seed=2).rho.values[:, 0],
                               rtol=1e-13)


def test_flax_module_stack_reproduces_builtin_mlp(mlp_ref):
    """A Flax module as the layer (the guide's example): the built-in MLP in distribution."""
    nn = pytest.importorskip("flax.linen")
    jnp = pytest.importorskip("jax").numpy

    class TanhDense(nn.Module):
        width: int
        sigma_w: float = 1.0
        sigma_b: float = 0.0

        @nn.compact
        def __call__(self, h):
            std = self.sigma_w / jnp.sqrt(self.width)   # traced: one compilation per width
            return nn.Dense(self.width, kernel_init=nn.initializers.normal(std),
                            bias_init=nn.initializers.normal(self.sigma_b))(jnp.tanh(h))

    FlaxMLP = LayerStack.define(
        "_ls_flax_mlp", lambda key, width, sigma_w, sigma_b: TanhDense(
            width, sigma_w, sigma_b).init(key, jnp.zeros((width,))),
        lambda v, h: TanhDense(h.shape[-1]).apply(v, h), params=SIGMAS, framework="jax")
    n, t, ref = 250, 20, mlp_ref
    same = per_sample(FlaxMLP(64, 1.4, 0.3), t, n, seed=2).rho.values
    assert np.max(np.abs(z_scores(same, ref))) < 4, z_scores(same, ref)
    wrong = per_sample(FlaxMLP(64, 1.6, 0.3), t, n, seed=2).rho.values
    assert np.max(np.abs(z_scores(wrong, ref))) > 8
    assert not FlaxMLP._spec.flags["static_floats"]   # sigma_w reached the initialiser traced


def test_jax_stack_is_reproducible_across_batches_and_chunks(jax_mlp, monkeypatch):
    p = jax_mlp(32, 1.5, 0.3)
    a = per_sample(p, 12, 20, seed=4, init="seed", times="log")
    assert set(a.data_vars) == {"rho", "rho2", "survival", "n_active"}
    xr.testing.assert_identical(strip(a),
                                strip(per_sample(p, 12, 20, seed=4, init="seed", times="log")))
    b = per_sample(p, 12, 37, seed=4, init="seed", times="log")   # other chunks and padding
    np.testing.assert_array_equal(b.rho.values[:20], a.rho.values)
    c = ap.simulate(p, 12, samples=20, batches=3, seed=4, init="seed", times="log")
    np.testing.assert_allclose(c.rho.weighted(c.n_samples).mean("batch"), a.rho.mean("batch"),
                               rtol=1e-13)
    f32 = per_sample(jax_mlp(32, 1.5, 0.3, dtype="float32"), 3, 4, seed=1).rho
    assert f32.dtype == np.float64 and np.all(np.isfinite(f32.values))
    # large layers run one sample per call (no vmap): the same trajectories to rounding
    from absorbphys.models import layerstack

    monkeypatch.setattr(layerstack, "_JAX_BYTES", 1)
    single = per_sample(p, 12, 3, seed=4, init="seed", times="log")
    np.testing.assert_array_equal(single.rho.values,
                                  per_sample(p, 12, 5, seed=4, init="seed",
                                             times="log").rho.values[:3])
    np.testing.assert_allclose(single.rho.values, a.rho.values[:3], rtol=1e-9)


def test_jax_bad_code(jax_mlp):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def python_branch(key, width, sigma_w, sigma_b):
        W = jax.random.normal(key, (width, width))
        if W.sum() > 0:     # not traceable
            W = -W
        return W, jnp.zeros(width)

    bad = LayerStack.define("_ls_jax_bad", python_branch, jax_mlp._spec.apply, params=SIGMAS,
                            framework="jax")
    with pytest.raises(UsageError, match="init cannot be traced by jax") as e:
        bad(8, 1.0, 0.1)
    assert "\n" not in str(e.value)
    def branch_on_a_float(key, width, sigma_w, sigma_b):   # floats compiled in as constants
        W, b = jax_mlp._spec.init(key, width, sigma_w, sigma_b)
        return (W, b) if sigma_b > 0 else (W, jnp.zeros(width))

    Static = LayerStack.define("_ls_jax_static", branch_on_a_float, jax_mlp._spec.apply,
                               params=SIGMAS, framework="jax")
    # (the shape of test_jax_stack_reproduces_builtin_mlp: jax_mlp's program is compiled)
    a = per_sample(Static(64, 1.5, 0.3), 20, 2, seed=1).rho.values
    np.testing.assert_allclose(a, per_sample(jax_mlp(64, 1.5, 0.3), 20, 2, seed=1).rho.values,
                               rtol=1e-10)
    assert Static._spec.flags["static_floats"] and not jax_mlp._spec.flags["static_floats"]


def test_missing_jax_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)     # as if JAX were not installed
    with pytest.raises(UsageError, match=r"needs JAX.*pip install 'absorbphys\[jax\]'") as e:
        LayerStack.define("_ls_jax_bad", mlp_init, mlp_apply, params=SIGMAS, framework="jax")
    assert "\n" not in str(e.value)

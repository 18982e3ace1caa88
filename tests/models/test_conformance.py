"""Every registered process passes the same checks (built-ins and the example plugin).

For each model of :func:`absorbphys.list_models` (test-only models, named ``_...``, aside):
the Dataset schema, reproducibility from the seed, identical results for 1 and 2 Numba
threads and for any split of the samples into batches, one-line errors for bad parameters,
and a save/load round trip. A new model must add a tiny example to ``EXAMPLES`` — the test
fails until it does. The CUDA-simulator identity of the models that list the ``cuda``
backend is checked in ``tests/cuda/test_cuda_conformance.py`` with the same examples.
"""

import numba
import numpy as np
import pytest
import xarray as xr

import absorbphys as ap
from absorbphys import Param
from absorbphys.models import LayerStack


def _init(rng, width, sigma_w, sigma_b):
    return (rng.standard_normal((width, width)) * sigma_w / np.sqrt(width),
            rng.standard_normal(width) * sigma_b)


def _apply(layer, h):
    w, b = layer
    return np.tanh(h) @ w.T + b


# A user network (LayerStack) goes through the same checks as the built-ins.
ConformanceStack = LayerStack.define(
    "conformance_stack", _init, _apply, control="sigma_w", class_name="ConformanceStack",
    params={"sigma_w": Param("float", 0.0, 100.0), "sigma_b": Param("float", 0.0, 100.0)})

#: The smallest valid instance of each registered model (kept tiny: the whole module runs in
#: seconds once the kernels are compiled).
EXAMPLES = {
    "barw": dict(L=32, sigma=0.5),
    "cnn": dict(L=8, channels=2, sigma_w=1.4, sigma_b=0.3),
    "contact": dict(L=16, lam=3.3),
    "dk": dict(L=64, p1=0.7, p2=0.8),
    "dp": dict(L=64, p=0.7),
    "mf_network": dict(sigma_w=1.4, sigma_b=0.3),
    "mfcp": dict(N=64, lam=1.5),
    "mlp": dict(width=16, sigma_w=1.4, sigma_b=0.3),
    "resmlp": dict(width=16, sigma_w=1.0, sigma_b=0.3),
    "conformance_stack": dict(width=8, sigma_w=1.4, sigma_b=0.3),
}
#: Deterministic processes (the same data for every seed).
DETERMINISTIC = {"mf_network"}
RUN = dict(t_max=12, samples=6, batches=3)


def _models():
    return sorted(n for n in ap.list_models() if not n.startswith("_"))


def _run(name, **kw):
    cls = ap.get_model(name)
    args = {**RUN, **kw}
    if cls.continuous_time:
        args["t_max"] = float(args["t_max"])
    return ap.simulate(cls(**EXAMPLES[name]), **args)


def _strip(ds):
    ds = ds.copy()
    ds.attrs.pop("created", None)
    return ds


def test_every_model_has_an_example():
    missing = [n for n in _models() if n not in EXAMPLES]
    assert not missing, f"add a tiny example for {missing} to EXAMPLES"


@pytest.mark.parametrize("name", _models())
def test_schema(name):
    cls = ap.get_model(name)
    ds = _run(name)
    for var in ("rho", "rho2", "survival"):
        assert ds[var].dims == ("batch", "t"), var
        assert ds[var].attrs.get("long_name"), var
    assert np.all(np.isfinite(ds.rho.values)) and np.all((ds.survival >= 0) & (ds.survival <= 1))
    assert ds["t"].attrs.get("units") and ds["t"].attrs.get("long_name")
    assert int(ds["n_samples"].sum()) == RUN["samples"]
    for key in ("model", "params", "seed", "backend", "absorbphys_version", "created", "init"):
        assert key in ds.attrs, key
    assert ds.attrs["model"] == name
    if "seed" in cls.inits:
        seeded = _run(name, init="seed")
        for var in set(cls.seed_observables) & set(seeded.data_vars):
            assert seeded[var].dims == ("batch", "t")


@pytest.mark.parametrize("name", _models())
def test_seed_reproducible(name):
    a, b = _run(name, seed=11), _run(name, seed=11)
    xr.testing.assert_identical(_strip(a), _strip(b))
    if name not in DETERMINISTIC:
        c = _run(name, seed=12)
        assert not np.array_equal(a.rho.values, c.rho.values)


@pytest.mark.parametrize("name", _models())
def test_threads_and_batches_do_not_change_results(name):
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run(name, seed=5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = _run(name, seed=5)
    finally:
        numba.set_num_threads(old)
    xr.testing.assert_identical(_strip(one), _strip(two))
    fine = _run(name, seed=5, batches=RUN["samples"])   # one sample per batch
    for var in ("rho", "survival"):
        coarse = one[var].weighted(one.n_samples).mean("batch")
        np.testing.assert_allclose(fine[var].mean("batch").values, coarse.values, rtol=1e-12,
                                   atol=1e-15, err_msg=var)


@pytest.mark.parametrize("name", _models())
def test_bad_parameters_rejected_in_one_line(name):
    cls = ap.get_model(name)
    for pname, spec in cls.params.items():
        if spec.choices is not None and spec.kind in ("str", "callable"):
            bad = "no-such-choice"
        elif spec.kind in ("float", "int") and spec.low is not None:
            bad = spec.low - 1
        elif spec.kind in ("float", "int") and spec.high is not None:
            bad = spec.high * 2 + 1
        else:
            continue
        with pytest.raises((ValueError, TypeError)) as info:
            cls(**{**EXAMPLES[name], pname: bad})
        msg = str(info.value)
        assert pname in msg and "\n" not in msg, (pname, msg)
    with pytest.raises(TypeError, match="no_such_parameter"):
        cls(**EXAMPLES[name], no_such_parameter=1)


@pytest.mark.parametrize("name", _models())
def test_save_load_round_trip(name, tmp_path):
    ds = _run(name)
    back = ap.load(ap.save(ds, tmp_path / f"{name}.nc"))
    xr.testing.assert_identical(ds, back)

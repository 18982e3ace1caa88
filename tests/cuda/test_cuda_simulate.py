"""``simulate(..., backend="cuda")`` through the models: the same Dataset as the CPU backend.

Lattice models: identical values (bit for bit). Networks: equal to rounding. Tiny sizes for
the CUDA simulator.
"""

import numpy as np
import pytest

import absorbphys as ap
import absorbphys.models  # noqa: F401  (registers the models)

CUDA_MODELS = ("dk", "dp", "contact", "mfcp", "mlp", "cnn")

LATTICE = [
    ("dk", dict(L=70, p1=0.7, p2=0.8), 12, "full"),
    ("dk", dict(L=8, p1=0.5, p2=0.8, dim=2), 6, "seed"),
    ("dp", dict(L=100, p=0.6447), 12, "seed"),
    ("dp", dict(L=100, p=0.7, kind="site"), 12, "full"),
    ("dp", dict(L=8, p=0.3, dim=2), 6, "full"),
    ("contact", dict(L=16, lam=3.3), 5.0, "seed"),
    ("contact", dict(L=4, lam=1.8, dim=2), 5.0, "full"),
    ("mfcp", dict(N=50, lam=1.5), 5.0, "full"),
]
NETWORKS = [
    ("mlp", dict(width=24, sigma_w=1.4, sigma_b=0.3), 6, "full"),
    ("mlp", dict(width=24, sigma_w=1.4, sigma_b=0.3, dtype="float32"), 6, "seed"),
    ("mlp", dict(width=19, sigma_w=1.4, sigma_b=0.3, method="weights", inputs=2), 2, 0.5),
    ("cnn", dict(L=8, channels=3, sigma_w=1.5, sigma_b=0.3), 4, "seed"),
    ("cnn", dict(L=4, channels=2, sigma_w=1.5, sigma_b=0.3, dim=2, weight_sharing=False), 4,
     "full"),
]


def _both(name, params, t_max, init):
    proc = ap.get_model(name)(**params)
    kw = dict(t_max=t_max, samples=3, batches=2, init=init, seed=12)
    if proc.continuous_time:
        kw["times"] = [0.0, 0.5, 1.0, 2.0, t_max]
    return ap.simulate(proc, backend="cpu", **kw), ap.simulate(proc, backend="cuda", **kw)


@pytest.mark.parametrize("name", CUDA_MODELS)
def test_models_declare_cuda(name):
    cls = ap.get_model(name)
    assert "cuda" in cls.backends


@pytest.mark.parametrize("name,params,t_max,init", LATTICE)
def test_lattice_simulate_identical(name, params, t_max, init):
    cpu, gpu = _both(name, params, t_max, init)
    assert gpu.attrs["backend"] == "cuda" and cpu.attrs["backend"] == "cpu"
    assert set(gpu.data_vars) == set(cpu.data_vars)
    for v in cpu.data_vars:
        np.testing.assert_array_equal(gpu[v].values, cpu[v].values)
    assert float(cpu["rho"].isel(t=1).sum()) > 0


@pytest.mark.parametrize("name,params,t_max,init", NETWORKS)
def test_network_simulate_agrees(name, params, t_max, init):
    cpu, gpu = _both(name, params, t_max, init)
    assert gpu.attrs["backend"] == "cuda"
    assert set(gpu.data_vars) == set(cpu.data_vars)
    rtol = 1e-9 if params.get("dtype", "float64") == "float64" else 1e-5
    for v in cpu.data_vars:
        np.testing.assert_allclose(gpu[v].values, cpu[v].values, rtol=rtol, atol=1e-300)


def test_auto_picks_cuda_where_available():
    proc = ap.get_model("dk")(L=64, p1=0.7, p2=0.8)
    ds = ap.simulate(proc, t_max=3, samples=2, backend="auto")
    assert ds.attrs["backend"] == "cuda"
    mf = ap.get_model("mf_network")(sigma_w=1.4, sigma_b=0.3)
    if "cuda" not in mf.backends:  # deterministic N -> infinity map: CPU only
        assert ap.simulate(mf, t_max=3, backend="auto").attrs["backend"] == "cpu"


def test_every_registered_cuda_model_is_compared_with_the_cpu():
    """Conformance: a process that lists the cuda backend gets a CPU-identity case here."""
    listed = {n for n, c in ap.list_models().items()
              if "cuda" in c.backends and not n.startswith("_")}
    compared = {case[0] for case in LATTICE + NETWORKS}
    assert listed <= compared, f"add CPU/CUDA comparison cases for {sorted(listed - compared)}"

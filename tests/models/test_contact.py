"""Contact process: lattice d = 1, 2, 3 and complete graph (models/contact.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import absorbphys
from absorbphys.models import ContactProcess, MeanFieldContactProcess, _contact_cpu
from tests import naive


@pytest.mark.parametrize("dim,L,lam,init,t_max", [
    (1, 30, 3.3, "full", 3.0), (1, 50, 3.3, "seed", 10.0), (2, 6, 1.7, "full", 2.0),
    (2, 9, 2.5, "seed", 5.0), (3, 4, 1.3, "full", 1.5), (3, 5, 2.0, "seed", 4.0),
    (1, 2, 4.0, "seed", 3.0), (2, 8, 1.7, "full", 2.0), (2, 2, 3.0, "seed", 3.0),
])
def test_kernel_matches_naive_event_by_event(dim, L, lam, init, t_max):
    times = np.linspace(0.0, t_max, 41)
    for sample in range(2):
        n_ref, r2_ref = naive.naive_contact(L, dim, lam, times, seed=8, sample=sample,
                                            init=init)
        edges = np.array([sample, sample + 1], np.int64)
        rho, _, surv, nact, r2 = _contact_cpu.run_contact(
            np.int64(L), np.int64(dim), lam, times, edges, np.int64(8), init == "seed")
        np.testing.assert_array_equal(nact[0], n_ref)
        np.testing.assert_array_equal(surv[0], (n_ref > 0).astype(float))
        np.testing.assert_allclose(rho[0], n_ref / L**dim)
        if init == "seed":
            np.testing.assert_array_equal(r2[0], r2_ref)


def test_lam_zero_dies_deterministically():
    # lam = 0: every event is a death at rate 1, the k-th death happens at
    # 1/N + 1/(N-1) + ... exactly, whatever the random numbers
    N = 50
    h = np.cumsum(1.0 / np.arange(N, 0, -1))
    times = np.concatenate([[0.0], (h[:-1] + h[1:]) / 2, [h[-1] + 0.5, 50.0]])
    expected = np.concatenate([[N], np.arange(N - 1, -1, -1), [0]]) / N
    for proc in (ContactProcess(N, 0.0), ContactProcess(N, 0.0, dim=1),
                 MeanFieldContactProcess(N, 0.0)):
        ds = absorbphys.simulate(proc, t_max=50.0, samples=3, times=times, seed=3)
        np.testing.assert_allclose(ds.rho.values, np.tile(expected, (3, 1)), atol=1e-15)
        assert np.all(ds.survival.isel(t=-1) == 0.0)
    ds = absorbphys.simulate(ContactProcess(7, 0.0, dim=2), t_max=40.0, samples=2)
    assert np.all(ds.rho.isel(t=-1) == 0.0)


@pytest.mark.parametrize("lam,rho_end_range", [(2.0, (0.49, 0.52)), (1.0, (0.08, 0.1)),
                                               (0.5, (0.0, 0.01))])
def test_mean_field_follows_rate_equation(lam, rho_end_range):
    N, samples = 100_000, 10
    times = np.linspace(0.0, 10.0, 21)
    ds = absorbphys.simulate(MeanFieldContactProcess(N, lam), t_max=10.0, samples=samples,
                             batches=samples, times=times, seed=6)
    mean = ds.rho.mean("batch").values
    sem = ds.rho.std("batch", ddof=1).values / np.sqrt(samples)
    exact = naive.mean_field_contact_rho(lam, times)
    # fluctuations ~ sqrt(rho / N) per sample; the N/(N-1) and O(1/N) drift terms are < 1e-4
    assert np.all(np.abs(mean - exact) < 6 * sem + 2e-4), np.abs(mean - exact) / (sem + 1e-12)
    assert rho_end_range[0] < mean[-1] < rho_end_range[1]


def test_mean_field_seed_and_observables():
    ds = absorbphys.simulate(MeanFieldContactProcess(1000, 1.5), t_max=30.0, samples=400,
                             init="seed", times="log", seed=1)
    assert "n_active" in ds and "r2" not in ds
    surv = ds.survival.mean("batch").values
    assert surv[0] == 1.0 and np.all(np.diff(surv) <= 0)
    # survival of a supercritical branching process: 1 - 1/lam
    assert abs(surv[-1] - (1 - 1 / 1.5)) < 0.1
    assert ds.attrs["dim"] == 0 and ds.attrs["size_param"] == "N" and ds.attrs["size"] == 1000


def test_1d_critical_decay_slope():
    # L = 2^15 >> t^(1/z) ~ 20 at t = 100; 16 samples: local-slope noise ~0.01
    ds = absorbphys.simulate(ContactProcess(2**15, 3.29785), t_max=100.0, samples=16, seed=2,
                             times=np.geomspace(1, 100, 50))
    slopes = naive.local_slopes(ds, 10.0)
    assert np.all((slopes > 0.12) & (slopes < 0.20)), slopes


def test_1d_off_critical_slopes_leave_the_band():
    kw = dict(t_max=100.0, samples=8, seed=2, times=np.geomspace(1, 100, 50))
    sub = naive.local_slopes(absorbphys.simulate(ContactProcess(2**14, 3.0), **kw), 10.0)
    sup = naive.local_slopes(absorbphys.simulate(ContactProcess(2**14, 3.6), **kw), 10.0)
    assert sub[-1] > 0.20 and sup[-1] < 0.12


@pytest.mark.parametrize("dim,L,lam", [(1, 2048, 3.29785), (2, 64, 1.64877), (3, 16, 1.3168)])
def test_seed_runs_are_sane(dim, L, lam):
    ds = absorbphys.simulate(ContactProcess(L, lam, dim=dim), t_max=30.0, samples=300,
                             init="seed", times="log", seed=5)
    surv = ds.survival.mean("batch").values
    assert surv[0] == 1.0 and np.all(np.diff(surv) <= 0) and 0.01 < surv[-1] < 0.7
    w = ds.n_active * ds.n_samples
    r2 = ((ds.r2.fillna(0) * w).sum("batch") / w.sum("batch")).values
    assert r2[0] == 0.0 and r2[-1] > 5 * r2[5] > 0
    n_mean = (w.sum("batch") / ds.n_samples.sum()).values
    assert n_mean[0] == 1.0 and 0.5 < n_mean[-1] < 20


def test_same_seed_same_dataset_any_thread_count():
    naive.assert_same_any_thread_count([(ContactProcess(200, 3.3), "full"),
                                        (ContactProcess(10, 1.7, dim=2), "seed"),
                                        (MeanFieldContactProcess(500, 1.2), "seed")],
                                       t_max=20.0, samples=12, batches=6, seed=77, times="log")


def test_interface():
    assert absorbphys.get_model("contact") is ContactProcess
    assert absorbphys.get_model("mfcp") is MeanFieldContactProcess
    ds = absorbphys.simulate(ContactProcess(8, 2.0, dim=3), t_max=2.0, init="seed")
    assert ds.attrs["time_unit"] == "MCS" and ds.attrs["continuous_time"] == 1
    assert ds.attrs["size"] == 512 and ds.attrs["control"] == "lam"
    assert ds.t.dtype == np.float64 and {"n_active", "r2"} <= set(ds.data_vars)


@pytest.mark.parametrize("cls,args,exc,match", [
    (ContactProcess, (10, -0.5), ValueError, r"lam must be in \[0, 1e\+06\], got -0.5"),
    (ContactProcess, (10, float("inf")), ValueError, r"lam must be in \[0, 1e\+06\], got inf"),
    (ContactProcess, (1, 2.0), ValueError, r"L must be an integer in \[2, inf\), got 1"),
    (ContactProcess, (10.5, 2.0), TypeError, r"L must be an integer"),
    (ContactProcess, (10, 2.0, 4), ValueError, r"dim must be an integer in \[1, 3\], got 4"),
    (ContactProcess, (100000, 2.0, 2), ValueError, r"L\*\*dim must be < 2\*\*31"),
    (MeanFieldContactProcess, (1, 2.0), ValueError, r"N must be an integer in \[2, inf\)"),
    (MeanFieldContactProcess, (10, -1.0), ValueError, r"lam must be in \[0, 1e\+06\]"),
])
def test_bad_input(cls, args, exc, match):
    with pytest.raises(exc, match=match) as info:
        cls(*args)
    assert "\n" not in str(info.value)


@settings(max_examples=60, deadline=None)
@given(lam=st.floats(allow_nan=True, allow_infinity=True), L=st.integers(-5, 1000),
       dim=st.integers(0, 4))
def test_property_rejects_bad_input(lam, L, dim):
    ok = 0 <= lam <= 1e6 and L >= 2 and 1 <= dim <= 3
    if ok:
        ContactProcess(L, lam, dim)
    else:
        with pytest.raises(ValueError) as info:
            ContactProcess(L, lam, dim)
        assert "\n" not in str(info.value) and "must be" in str(info.value)
    if 0 <= lam <= 1e6 and L >= 2:
        MeanFieldContactProcess(L, lam)
    else:
        with pytest.raises(ValueError, match="must be"):
            MeanFieldContactProcess(L, lam)

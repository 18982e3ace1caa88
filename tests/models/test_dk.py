"""Domany–Kinzel automaton and directed percolation (models/dk.py, models/_dk_cpu.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import absorbphys
from absorbphys.models import DirectedPercolation, DomanyKinzel, _dk_cpu
from absorbphys.models.dk import dk_pn
from tests import naive

# (p1, p2): generic, bond-DP critical, XOR, OR, p2 = 1 with p1 < 1, p1 = 0
PAIRS = [(0.5, 0.2), (0.644700185, 0.873762), (1.0, 0.0), (1.0, 1.0), (0.3, 1.0), (0.0, 0.7)]


def _kernel_out(run, L, p1, p2, t_max, seed, init, samples=3):
    times = np.arange(t_max + 1, dtype=np.int64)
    edges = np.array([0, samples], dtype=np.int64)
    return run(np.int64(L), float(p1), float(p2), times, edges, np.int64(seed), init == "seed")


# ------------------------------------------------------------------ exact agreement
@pytest.mark.parametrize("L", [2, 3, 63, 64, 65, 200])
@pytest.mark.parametrize("init", ["full", "seed"])
def test_packed_equals_scalar_bit_for_bit(L, init):
    for k, (p1, p2) in enumerate(PAIRS):
        a = _kernel_out(_dk_cpu.run_dk1_packed, L, p1, p2, 80, 11 + k, init)
        b = _kernel_out(_dk_cpu.run_dk1_scalar, L, p1, p2, 80, 11 + k, init)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=f"L={L} p1={p1} p2={p2} {init}")


@pytest.mark.parametrize("L,p1,p2,init", [
    (70, 0.6, 0.8, "full"), (130, 0.7, 0.9, "seed"), (67, 1.0, 0.0, "seed"),
    (67, 1.0, 1.0, "seed"), (65, 1.0, 0.0, "full"), (40, 0.5, 1.0, "full"),
])
def test_kernel_matches_naive_step_by_step(L, p1, p2, init):
    t_max = 25
    states = naive.naive_dk1_states(L, p1, p2, t_max, seed=5, sample=0, init=init)
    counts = np.array([s.sum() for s in states], dtype=float)
    rho, _, surv, nact, r2 = _kernel_out(_dk_cpu.run_dk1_packed, L, p1, p2, t_max, 5, init,
                                         samples=1)
    np.testing.assert_array_equal(nact[0], counts)
    np.testing.assert_array_equal(surv[0], (counts > 0).astype(float))
    np.testing.assert_allclose(rho[0], counts / L)
    if init == "seed":
        ref = [naive.naive_drift_r2(s, t) for t, s in enumerate(states)]
        np.testing.assert_allclose(r2[0], ref, rtol=1e-12)


@pytest.mark.parametrize("init", ["full", "seed"])
def test_deterministic_rules_or_xor(init):
    # OR (p1 = p2 = 1) and XOR (p1 = 1, p2 = 0) are deterministic: the naive automaton must
    # equal the closed-form rule, and the kernel the naive counts.
    L, t_max = 77, 40
    for (p1, p2), rule in [((1.0, 1.0), np.bitwise_or), ((1.0, 0.0), np.bitwise_xor)]:
        states = naive.naive_dk1_states(L, p1, p2, t_max, init=init)
        s = states[0]
        for t in range(1, t_max + 1):
            s = rule(s, np.roll(s, -1))
            np.testing.assert_array_equal(states[t], s)
        out = _kernel_out(_dk_cpu.run_dk1_packed, L, p1, p2, t_max, 0, init, samples=1)
        np.testing.assert_array_equal(out[3][0], [x.sum() for x in states])


@pytest.mark.parametrize("L", [2, 3, 63, 64, 65, 130])
@pytest.mark.parametrize("init", ["full", "seed"])
def test_2d_packed_equals_scalar_bit_for_bit(L, init):
    times = np.arange(21, dtype=np.int64)
    edges = np.array([0, 2], np.int64)
    for k, pn in enumerate([dk_pn(0.3, 0.51), dk_pn(0.35, 0.35), dk_pn(1.0, 0.0),
                            np.array([0.0, 0.2, 1.0, 0.3, 0.9])]):
        ref = _dk_cpu.run_dk2_scalar(np.int64(L), pn, times, edges, np.int64(k), init == "seed")
        for chunk in (7, 128):  # chunks that split rows, and the default
            out = _dk_cpu.run_dk2_packed(np.int64(L), pn, times, edges, np.int64(k),
                                         init == "seed", chunk)
            for x, y in zip(out, ref):
                np.testing.assert_array_equal(x, y, err_msg=f"L={L} pn={pn} chunk={chunk}")


def test_2d_kernel_matches_naive():
    L, t_max = 7, 8
    for init, pn in [("full", dk_pn(0.4, 0.6)), ("seed", dk_pn(0.9, 0.95)),
                     ("seed", dk_pn(1.0, 1.0)), ("full", np.array([0, 0.3, 1.0, 0.2, 0.8]))]:
        states = naive.naive_dk2_states(L, pn, t_max, seed=3, init=init)
        times = np.arange(t_max + 1, dtype=np.int64)
        rho, _, surv, nact, r2 = _dk_cpu.run_dk2_packed(
            np.int64(L), pn, times, np.array([0, 1], np.int64), np.int64(3), init == "seed")
        np.testing.assert_array_equal(nact[0], [s.sum() for s in states])
        if init == "seed":
            ref = [naive.naive_drift_r2(s, t) for t, s in enumerate(states)]
            np.testing.assert_allclose(r2[0], ref, rtol=1e-12)


def test_dp_maps_onto_dk_exactly():
    for kind, p in [("bond", 0.6447), ("site", 0.7055)]:
        dp = DirectedPercolation(200, p, kind=kind)
        dk = dp.as_domany_kinzel()
        assert dk.p1 == p and dk.p2 == (p * (2 - p) if kind == "bond" else p)
        a = absorbphys.simulate(dp, t_max=50, samples=4, seed=9)
        b = absorbphys.simulate(dk, t_max=50, samples=4, seed=9)
        np.testing.assert_array_equal(a.rho.values, b.rho.values)
    n = np.arange(5)
    np.testing.assert_allclose(dk_pn(0.3, 0.3 * 1.7), 1 - 0.7 ** n, rtol=1e-14)
    np.testing.assert_array_equal(dk_pn(0.4, 0.4), [0, 0.4, 0.4, 0.4, 0.4])
    np.testing.assert_array_equal(DirectedPercolation(8, 0.4, "site", dim=2)._pn(),
                                  [0, 0.4, 0.4, 0.4, 0.4])
    np.testing.assert_array_equal(dk_pn(1.0, 0.5)[3:], [0, 0])
    assert all(0 <= x <= 1 for x in dk_pn(0.2, 0.05))


# ------------------------------------------------------------------ exact cases
@pytest.mark.parametrize("dim,L", [(1, 100), (1, 64), (2, 9)])
def test_all_open_stays_full_and_zero_dies(dim, L):
    ds = absorbphys.simulate(DomanyKinzel(L, 1.0, 1.0, dim=dim), t_max=30, samples=3)
    assert np.all(ds.rho.values == 1.0) and np.all(ds.survival.values == 1.0)
    for proc in (DomanyKinzel(L, 0.0, 0.0, dim=dim), DirectedPercolation(L, 0.0, dim=dim)):
        ds = absorbphys.simulate(proc, t_max=5, samples=3)
        assert np.all(ds.rho.isel(t=0) == 1.0)
        assert np.all(ds.rho.isel(t=slice(1, None)) == 0.0)
        assert np.all(ds.survival.isel(t=slice(1, None)) == 0.0)


def test_seed_run_observables_are_sane():
    ds = absorbphys.simulate(DirectedPercolation(4096, 0.644700185), t_max=300, samples=400,
                             init="seed", seed=2, times="log")
    surv = ds.survival.mean("batch").values
    assert surv[0] == 1.0 and np.all(np.diff(surv) <= 0) and surv[-1] < 0.6
    # r2 pooled over batches (weighted by n_active) grows with t
    w = ds.n_active * ds.n_samples
    r2 = ((ds.r2.fillna(0) * w).sum("batch") / w.sum("batch")).values
    assert r2[0] == 0.0 and np.all(np.diff(r2[1:]) > 0)
    # the cone of a seed is at most t + 1 sites wide: |x + t/2| <= t/2 + 1/2
    t = ds.t.values
    assert np.all(r2 <= (t / 2 + 0.5) ** 2 + 1e-12)
    assert np.all(ds.n_active.values >= 0)
    assert float(ds.n_active.isel(t=0).mean()) == 1.0
    n_mean = (ds.n_active * ds.n_samples).sum("batch").values / 400
    assert n_mean[-1] > 1.5  # critical DP: N(t) grows like t^0.31


def test_same_seed_same_dataset_any_thread_count():
    naive.assert_same_any_thread_count([(DirectedPercolation(300, 0.66), "full"),
                                        (DirectedPercolation(300, 0.66), "seed"),
                                        (DomanyKinzel(12, 0.5, 0.7, dim=2), "seed")],
                                       t_max=60, samples=12, batches=6, seed=123)


# ------------------------------------------------------------------ critical behaviour
def test_bond_dp_critical_decay_slope():
    # L = 2^16 >> t^(1/z) ~ 80 at t = 1000; 16 samples: local-slope noise ~0.01
    ds = absorbphys.simulate(DirectedPercolation(2**16, 0.644700185), t_max=1000, samples=16,
                             seed=1, times=np.unique(np.geomspace(1, 1000, 60).astype(int)))
    slopes = naive.local_slopes(ds, 50.0)
    assert np.all((slopes > 0.12) & (slopes < 0.20)), slopes


def test_bond_dp_off_critical_slopes_drift():
    # the same measurement must fail off criticality (sub: slope grows, super: it falls)
    kw = dict(t_max=1000, samples=8, seed=1, times=np.unique(np.geomspace(1, 1000, 60)
                                                                .astype(int)))
    sub = naive.local_slopes(absorbphys.simulate(DirectedPercolation(2**15, 0.63), **kw), 50.0)
    sup = naive.local_slopes(absorbphys.simulate(DirectedPercolation(2**15, 0.66), **kw), 50.0)
    assert sub[-1] > 0.20 and sup[-1] < 0.12


def test_2d_bond_dp_near_critical_and_phases():
    times = np.unique(np.geomspace(1, 100, 30).astype(int))
    ds = absorbphys.simulate(DirectedPercolation(256, 0.287338, dim=2), t_max=100,
                             samples=4, seed=4, times=times)
    # DP 2+1: delta = 0.451; local slopes approach it from below with corrections
    slopes = naive.local_slopes(ds, 10.0, m=2.0, n=5)
    assert np.all((slopes > 0.36) & (slopes < 0.55)), slopes
    sub = absorbphys.simulate(DirectedPercolation(64, 0.25, dim=2), t_max=200, samples=4)
    sup = absorbphys.simulate(DirectedPercolation(64, 0.33, dim=2), t_max=200, samples=4)
    assert float(sub.survival.isel(t=-1).mean()) == 0.0
    assert float(sup.survival.isel(t=-1).mean()) == 1.0
    assert float(sup.rho.isel(t=-1).mean()) > 0.1


# ------------------------------------------------------------------ interface and bad input
def test_registry_and_attributes():
    assert absorbphys.get_model("dk") is DomanyKinzel
    assert absorbphys.get_model("dp") is DirectedPercolation
    ds = absorbphys.simulate(DomanyKinzel(10, 0.6, 0.8, dim=2), t_max=3, init="seed")
    assert ds.attrs["model"] == "dk" and ds.attrs["control"] == "p1"
    assert ds.attrs["size"] == 100 and ds.attrs["dim"] == 2 and ds.t.attrs["time_unit"] == "step"
    assert {"n_active", "r2"} <= set(ds.data_vars)
    assert DirectedPercolation(5, 0.5).size == 5 and DirectedPercolation(5, 0.5).control == "p"


@pytest.mark.parametrize("cls,args,match", [
    (DomanyKinzel, (10, 1.5, 0.5), r"p1 must be in \[0, 1\], got 1.5"),
    (DomanyKinzel, (10, 0.5, -0.1), r"p2 must be in \[0, 1\]"),
    (DomanyKinzel, (1, 0.5, 0.5), r"L must be an integer in \[2, inf\)"),
    (DomanyKinzel, (10, 0.5, 0.5, 3), r"dim must be an integer in \[1, 2\], got 3"),
    (DirectedPercolation, (10, 2.0), r"p must be in \[0, 1\]"),
    (DirectedPercolation, (10, 0.5, "edge"), r"kind must be one of 'bond', 'site'"),
    (DirectedPercolation, (10, float("nan")), r"p must be in \[0, 1\], got nan"),
])
def test_bad_input_value_error(cls, args, match):
    with pytest.raises(ValueError, match=match) as info:
        cls(*args)
    assert "\n" not in str(info.value)


def test_bad_input_type_error():
    with pytest.raises(TypeError, match=r"L must be an integer in \[2, inf\), got 10.5"):
        DomanyKinzel(10.5, 0.5, 0.5)
    with pytest.raises(TypeError, match="p must be"):
        DirectedPercolation(10, "abc")
    with pytest.raises(ValueError, match="init must be one of"):
        absorbphys.simulate(DirectedPercolation(10, 0.5), t_max=3, init="half")


@settings(max_examples=60, deadline=None)
@given(p=st.floats(allow_nan=False, allow_infinity=True), L=st.integers(-5, 10**6))
def test_property_probabilities_and_sizes(p, L):
    ok_p, ok_L = 0.0 <= p <= 1.0, L >= 2
    for make in (lambda: DirectedPercolation(L, p), lambda: DomanyKinzel(L, 0.5, p),
                 lambda: DomanyKinzel(L, p, 0.5, dim=2)):
        if ok_p and ok_L:
            make()
        else:
            with pytest.raises(ValueError) as info:
                make()
            msg = str(info.value)
            assert "\n" not in msg and ("must be" in msg)

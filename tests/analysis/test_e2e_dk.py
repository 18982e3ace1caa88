"""End to end: small 1+1 directed-percolation runs through the whole analysis pipeline."""

import numpy as np
import pytest

import absorbphys as ap
from absorbphys.analysis import classify, critical_point, spreading
from absorbphys.models import DirectedPercolation

P_C = 0.644700185  # bond DP, Jensen (1999)
DP1 = {"delta": 0.159464, "delta_prime": 0.159464, "theta": 0.313686, "z": 1.580745}


@pytest.fixture(scope="module")
def runs():
    decay = ap.sweep(DirectedPercolation(L=1024, p=0.64),
                     {"p": [0.63, 0.638, 0.644, 0.65, 0.658]}, t_max=1000, samples=64,
                     batches=16, times="log", progress=False, workers=1)
    seed = ap.simulate(DirectedPercolation(L=4096, p=P_C), t_max=4000, samples=3000,
                       batches=20, init="seed", times="log", seed=1)
    return decay, seed


def test_critical_point_and_delta(runs):
    r = critical_point(runs[0])
    assert float(r.p_c_error) < 0.004
    assert abs(float(r.p_c) - P_C) < 4 * float(r.p_c_error)
    assert abs(float(r.delta) - DP1["delta"]) < 4 * float(r.delta_error)


def test_spreading_exponents(runs):
    r = spreading(runs[1])
    for k in ("delta_prime", "theta", "z"):
        assert abs(float(r[k]) - DP1[k]) < 4 * float(r[f"{k}_error"]), k


def test_classify_keeps_dp_and_rejects_others(runs):
    v = classify(*runs)
    assert v.status != "no match"
    assert "dp_1d" in v.candidates and v.best == "dp_1d"
    t = v.table
    for c in ("mean_field", "compact_dp"):
        assert not bool(t.consistent.sel({"class": c}))
    assert np.isfinite(float(t.p_value.sel({"class": "dp_1d"})))

"""CUDA lattice kernels (DK 1+1, 2+1; contact process; mean-field CP) equal the CPU bit for bit.

Sizes are tiny: the CUDA simulator runs every thread in Python (~100 us per thread and
launch). The comparison is exact (``==``) because both backends draw the same counter-based
random numbers and the host sums the per-sample counts in the CPU kernels' order.
"""

import numpy as np
import pytest

from absorbphys.models import _contact_cpu, _dk_cpu

EDGES = np.array([0, 2, 3], np.int64)  # two batches, three samples


def _identical(gpu, cpu):
    assert len(gpu) == len(cpu)
    for g, c in zip(gpu, cpu):
        assert g.shape == c.shape
        np.testing.assert_array_equal(g, c)


@pytest.fixture(scope="module")
def dk():
    from absorbphys.models import _dk_cuda

    return _dk_cuda


@pytest.fixture(scope="module")
def cp():
    from absorbphys.models import _contact_cuda

    return _contact_cuda


@pytest.mark.parametrize("L", [70, 128, 600])  # 600: several blocks per sample
@pytest.mark.parametrize("p1,p2", [(0.7, 0.8), (1.0, 0.3), (0.0, 1.0), (0.3, 0.2)])
@pytest.mark.parametrize("seed_init", [False, True])
def test_dk1_identical_to_cpu(dk, L, p1, p2, seed_init):
    times = np.arange(0, 13, dtype=np.int64)
    cpu = _dk_cpu.run_dk1_packed(L, p1, p2, times, EDGES, 7, seed_init)
    gpu = dk.run_dk1(L, p1, p2, times, EDGES, 7, seed_init)
    _identical(gpu, cpu)
    if (p1, p2) == (0.0, 1.0) and not seed_init:
        # p1 = 0, p2 = 1: a full lattice stays full; the sums are exact
        assert np.all(cpu[0] == np.array([[2.0], [1.0]]))


def test_dk1_output_times_and_absorption(dk):
    # sparse output times, and early absorption (every sample dies): later rows stay 0
    times = np.array([0, 1, 5, 40], np.int64)
    cpu = _dk_cpu.run_dk1_packed(130, 0.3, 0.3, times, EDGES, 3, True)
    gpu = dk.run_dk1(130, 0.3, 0.3, times, EDGES, 3, True)
    _identical(gpu, cpu)
    assert cpu[2][:, -1].sum() == 0  # absorbed by t = 40: the break path ran


def test_dk1_scalar_reference_agrees(dk):
    # the CPU scalar reference (site by site) is the same stream: CUDA equals it too
    times = np.arange(0, 9, dtype=np.int64)
    _identical(dk.run_dk1(100, 0.6, 0.9, times, EDGES, 5, False),
               _dk_cpu.run_dk1_scalar(100, 0.6, 0.9, times, EDGES, 5, False))


@pytest.mark.parametrize("L,t_max,seed_init", [(8, 8, False), (8, 8, True), (66, 3, False)])
def test_dk2_identical_to_cpu(dk, L, t_max, seed_init):
    pn = np.array([0.0, 0.3, 0.55, 0.8, 0.95])
    times = np.arange(0, t_max + 1, dtype=np.int64)
    cpu = _dk_cpu.run_dk2_packed(L, pn, times, EDGES, 3, seed_init)
    gpu = dk.run_dk2(L, pn, times, EDGES, 3, seed_init)
    _identical(gpu, cpu)
    assert cpu[3].sum() > 0
    _identical(gpu, _dk_cpu.run_dk2_scalar(L, pn, times, EDGES, 3, seed_init))


def test_dk2_deterministic_rules(dk):
    # p_n in {0, 1} (no draws on either backend): OR rule keeps a full lattice full
    pn = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    times = np.arange(0, 6, dtype=np.int64)
    for seed_init in (False, True):
        _identical(dk.run_dk2(8, pn, times, EDGES, 1, seed_init),
                   _dk_cpu.run_dk2_packed(8, pn, times, EDGES, 1, seed_init))


@pytest.mark.parametrize("dim,L", [(1, 16), (2, 5), (3, 3)])
@pytest.mark.parametrize("seed_init", [False, True])
def test_contact_identical_to_cpu(cp, dim, L, seed_init):
    times = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 5.0])
    cpu = _contact_cpu.run_contact(L, dim, 3.3, times, EDGES, 11, seed_init)
    gpu = cp.run_contact(L, dim, 3.3, times, EDGES, 11, seed_init)
    _identical(gpu, cpu)
    assert cpu[3][:, 1].sum() > 0


@pytest.mark.parametrize("seed_init", [False, True])
def test_mean_field_contact_identical_to_cpu(cp, seed_init):
    times = np.array([0.0, 0.25, 1.0, 2.0, 5.0])
    cpu = _contact_cpu.run_mean_field_contact(50, 1.5, times, EDGES, 5, seed_init)
    gpu = cp.run_mean_field_contact(50, 1.5, times, EDGES, 5, seed_init)
    _identical(gpu, cpu)


def test_sample_chunks_give_the_same_result(dk, cp, monkeypatch):
    # force one sample per chunk: the global sample index (stream) must survive chunking
    times = np.arange(0, 7, dtype=np.int64)
    monkeypatch.setattr(dk, "STATE_BYTES", 16 * 2)
    _identical(dk.run_dk1(100, 0.7, 0.8, times, EDGES, 5, True),
               _dk_cpu.run_dk1_packed(100, 0.7, 0.8, times, EDGES, 5, True))
    monkeypatch.setattr(cp, "STATE_BYTES", 8 * 16)
    tc = np.array([0.0, 1.0, 3.0])
    _identical(cp.run_contact(16, 1, 3.3, tc, EDGES, 2, False),
               _contact_cpu.run_contact(16, 1, 3.3, tc, EDGES, 2, False))

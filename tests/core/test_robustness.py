"""Interrupts, memory limits, huge integers and unwritable folders: clean, one-line failures."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import absorbphys as ap
from absorbphys._params import check_int
from absorbphys.models import DirectedPercolation, MLP

# a DP run in the active phase that takes minutes: only an interrupt ends it early
LONG = ["simulate", "dp", "-p", "L=65536", "-p", "p=0.7", "--t-max", "100000000",
        "--times", "log", "--samples", "2", "-q"]


def test_interrupt_in_python_is_a_keyboardinterrupt_between_chunks():
    # SIGINT while a parallel kernel runs used to crash the interpreter (an exception set
    # while the kernel returned); simulate holds it and raises between chunks
    code = textwrap.dedent("""
        import os, signal, threading
        import absorbphys as ap
        from absorbphys.models import DirectedPercolation
        ap.simulate(DirectedPercolation(L=64, p=0.7), t_max=10, samples=2)  # compile first
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            ap.simulate(DirectedPercolation(L=65536, p=0.7), t_max=30000, samples=40,
                        batches=40, times="log")
        except KeyboardInterrupt:
            print("interrupted cleanly")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "interrupted cleanly" in r.stdout
    assert "stopping after the current batches" in r.stderr


def test_interrupt_on_the_command_line_ends_at_once_without_output(tmp_path):
    out = tmp_path / "run.nc"
    p = subprocess.Popen([sys.executable, "-m", "absorbphys.cli", *LONG, "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        p.communicate(timeout=8)  # compile and start the kernel
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    else:  # pragma: no cover - the run cannot finish in 8 s
        pytest.fail("the long run ended by itself")
    assert p.returncode in (-signal.SIGINT, 130), err[-2000:]
    assert "Traceback" not in err and "Segmentation" not in err
    assert os.listdir(tmp_path) == []


def test_run_that_cannot_fit_in_memory_is_refused_before_it_starts(monkeypatch):
    from absorbphys import _simulate

    with pytest.raises(ValueError, match=r"L=1099511627776: .* GiB, more than"):
        ap.simulate(DirectedPercolation(L=2**40, p=0.6), t_max=1)
    monkeypatch.setattr(_simulate, "_available_memory", lambda: 2**20)
    with pytest.raises(ValueError, match="use a smaller width"):
        ap.simulate(MLP(width=1024, sigma_w=1.0, sigma_b=0.1, method="weights"), t_max=1)
    ds = ap.simulate(MLP(width=64, sigma_w=1.0, sigma_b=0.1), t_max=1)  # 1 KiB of state fits
    assert np.isfinite(ds.rho).all()


def test_integers_are_exact_and_below_2_63():
    assert check_int("seed", 2**63 - 1, low=0, high=2**63 - 1) == 2**63 - 1
    assert check_int("L", "12", low=1) == 12
    for bad in (2**70, 1e30, "1e30"):
        with pytest.raises(ValueError, match=r"L must be an integer in \[1, inf\) and below "
                                             r"2\*\*63"):
            check_int("L", bad, low=1)
    with pytest.raises(ValueError, match="below 2"):
        DirectedPercolation(L=2**70, p=0.6)
    with pytest.raises(ValueError, match="t_max: times=None records every step"):
        ap.simulate(DirectedPercolation(L=8, p=0.6), t_max=10**12)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_unwritable_folder_is_a_one_line_error(capsys):
    from absorbphys.cli import main

    ds = ap.simulate(DirectedPercolation(L=8, p=0.6), t_max=3)
    with pytest.raises(ValueError, match="out: "):
        ap.save(ds, "/proc/self/x.nc")
    assert main(["simulate", "dp", "-p", "L=8", "-p", "p=0.6", "--t-max", "3",
                 "--out", "/proc/self/x.nc"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("absorbphys simulate: error: out: ") and "\n" not in err

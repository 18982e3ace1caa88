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
from absorbphys.models import MLP, DirectedPercolation

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


def test_user_activation_is_probed_at_construction():
    import math

    for bad, match in ((np.tanh, "Numba-compilable"), (math.tanh, "Numba-compilable"),
                       (lambda x, y: x, "calling it failed"), (lambda x: "a", "return a float")):
        with pytest.raises(TypeError, match=match):
            MLP(width=8, sigma_w=1.0, sigma_b=0.1, activation=bad)
    assert MLP(width=8, sigma_w=1.0, sigma_b=0.1, activation=lambda x: x / (1 + abs(x)))


def test_command_line_input_details(tmp_path, capsys):
    from absorbphys.cli import main
    from absorbphys.models import MeanFieldNetwork

    def err_of(argv):
        assert main(argv) == 2
        e = capsys.readouterr().err.strip()
        assert "\n" not in e and "Traceback" not in e
        return e

    base = ["simulate", "dp", "-p", "L=8", "--t-max", "5"]
    assert "given twice" in err_of(base + ["-p", "p=0.5", "-p", "p=0.6"])
    assert main(base + ["-p", "p=0.6", "--times", "3"]) == 0  # a count of log-spaced times
    capsys.readouterr()
    sw = ["sweep", "dp", "-p", "L=8", "--t-max", "5", "--out", str(tmp_path / "s.nc")]
    assert "must be finite" in err_of(sw + ["-g", "p=0:inf:3"])
    assert "NUM must be an integer in" in err_of(sw + ["-g", "p=0.5:0.6:100000000"])
    assert "given twice" in err_of(sw + ["-g", "p=0.5,0.6", "-p", "L=16"])
    e = err_of(["sweep", "cnn", "-p", "L=8", "-p", "channels=2", "-p", "sigma_w=1",
                "-p", "sigma_b=0.1",
                "-g", "kernel_size=3,9", "--t-max", "5", "--out", str(tmp_path / "c.nc")])
    assert "grid point kernel_size=9: kernel_size must be" in e and "'kernel_size" not in e
    assert "is a directory" in err_of(["analyze", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="must not both be 0"):
        MeanFieldNetwork(sigma_w=0.0, sigma_b=0.0)
    for bad in (["a", "b"], {1, 2}, 3.0):
        with pytest.raises(TypeError, match="times must be"):
            ap.simulate(DirectedPercolation(L=8, p=0.6), t_max=5, times=bad)
    with pytest.raises(ValueError, match="1-d array"):
        ap.simulate(DirectedPercolation(L=8, p=0.6), t_max=5, times=[[1, 2], [3, 4]])

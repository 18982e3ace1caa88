"""CUDA-backend tests: run on a GPU or on Numba's CUDA simulator, never in the main CPU run.

Run them in their own process (the simulator must be enabled before numba is imported)::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda -q

Without a GPU and without ``NUMBA_ENABLE_CUDASIM=1`` only ``test_backend_nogpu.py`` is collected
(it checks the one-line error and that importing absorbphys never touches CUDA); the kernel
tests are left out (``collect_ignore_glob``), so the main ``python -m pytest`` run neither
imports the simulator nor pays for it.
"""

import os

import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def _gpu_present():
    from absorbphys._backends import cuda_available

    return cuda_available()


CUDA_USABLE = SIMULATOR or _gpu_present()

collect_ignore_glob = [] if CUDA_USABLE else ["test_cuda_*.py"]

if SIMULATOR:
    import sys

    from numba.core import config as _numba_config

    # The simulator runs a block's threads as Python threads and polls them for barriers;
    # with the default 5 ms GIL switch interval every barrier costs ~5 ms per thread.
    sys.setswitchinterval(2e-5)

    if not _numba_config.ENABLE_CUDASIM:  # pragma: no cover - misuse guard
        raise pytest.UsageError("NUMBA_ENABLE_CUDASIM=1 was set after numba was imported; run "
                                "`NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda` in its "
                                "own process")


def pytest_collection_modifyitems(config, items):
    """Silence the simulator's uint64-overflow warnings (the RNG wraps on purpose).

    On the simulator only, a failed test is run once more (pytest-rerunfailures). The
    failures seen before (a count lost in one DK or CNN launch, 0-3 per run on a loaded
    2-vCPU machine, never twice in a row) match a race in the simulator's shared-array
    allocation, which :func:`absorbphys.kernels.cuda.patch_simulator` now removes
    (``test_cuda_simulator_fix.py`` shows the race and the fix); the rerun stays as a
    safety net, and ``-rR`` in ``.ci/run`` prints any rerun so that one is not hidden. A
    kernel race would fail again on the rerun; a real GPU gets no rerun.
    """
    here = os.path.dirname(__file__)
    mark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
    simulator = SIMULATOR
    have_rerun = config.pluginmanager.hasplugin("rerunfailures")
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(mark)
            if simulator and have_rerun:
                item.add_marker(pytest.mark.flaky(reruns=1))

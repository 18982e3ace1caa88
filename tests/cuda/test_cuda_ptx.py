"""Every kernel compiles for a real card (sm_90 PTX), checked without a GPU where possible.

Needs NVVM (libnvvm + libdevice: a CUDA toolkit, or ``pip install 'numba-cuda[cu12]'``, or
``CUDA_HOME`` pointing at pip's ``nvidia/cuda_nvcc``); skipped otherwise (the CUDA simulator
alone cannot catch typing errors of the real target). Checked with numba 0.68's built-in
``numba.cuda`` and with numba-cuda 0.30.4.
"""

import os
import subprocess
import sys

import pytest


def _nvvm_available():
    code = "from numba.cuda.cudadrv.nvvm import NVVM; NVVM()"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env)
    return r.returncode == 0


@pytest.mark.skipif(not _nvvm_available(), reason="NVVM (CUDA toolkit) not found")
def test_every_kernel_compiles_to_ptx():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    script = os.path.join(os.path.dirname(__file__), "_ptx_compile.py")
    r = subprocess.run([sys.executable, "-W", "ignore", script], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().startswith("PTX OK")

"""Without a GPU: importing never needs CUDA, and asking for it is a clear one-line error."""

import os
import subprocess
import sys

import pytest

from absorbphys._backends import cuda_available

CUDA_USABLE = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1" or cuda_available()


def test_import_does_not_touch_cuda():
    code = ("import sys, absorbphys, absorbphys.models; "
            "print(any(m == 'numba.cuda' or m.startswith('numba.cuda.') "
            "or m.startswith('numba_cuda') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(CUDA_USABLE, reason="a GPU or the CUDA simulator is present")
def test_cuda_without_gpu_is_one_clear_line():
    import absorbphys
    from absorbphys._backends import resolve_backend
    from absorbphys.kernels import cuda as _cuda

    with pytest.raises(absorbphys.UsageError) as err:
        _cuda.require()
    msg = str(err.value)
    assert "\n" not in msg and "absorbphys[cuda]" in msg and "backend='cpu'" in msg
    assert resolve_backend("auto") == "cpu"

"""Backend selection. CUDA is imported lazily: importing absorbphys never needs a GPU."""

from __future__ import annotations

from absorbphys._params import UsageError
from absorbphys.config import get_option

BACKENDS = ("cpu", "cuda", "auto")


def cuda_available() -> bool:
    """Return whether a CUDA GPU can be used (numba-cuda installed and a device present)."""
    try:
        from numba import cuda  # deferred: numba-cuda (optional) loads only for CUDA
    except Exception:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


def resolve_backend(backend, process=None) -> str:
    """Validate ``backend`` and turn ``"auto"`` into a concrete one.

    Parameters
    ----------
    backend : str or None
        ``None`` (the option ``backend``), ``"cpu"``, ``"cuda"`` or ``"auto"`` (cuda where
        available and supported by the process, else cpu).
    process : AbsorbingProcess, optional
        Checked for a kernel on that backend.

    Returns
    -------
    str
    """
    if backend is None:

        backend = get_option("backend")
        if backend not in BACKENDS:
            raise UsageError("option backend (ABSORBPHYS_BACKEND) must be one of 'cpu', "
                             f"'cuda', 'auto', got {backend!r}")
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of 'cpu', 'cuda', 'auto', got {backend!r}")
    supported = process.backends if process is not None else ("cpu", "cuda")
    if backend == "auto":
        return "cuda" if ("cuda" in supported and cuda_available()) else "cpu"
    if backend not in supported:
        raise UsageError(f"backend {backend!r} is not available for model {process.name!r}; "
                         f"available: {', '.join(supported)}")
    if backend == "cuda" and not cuda_available():
        raise UsageError("backend 'cuda' needs an NVIDIA GPU with numba-cuda "
                         "(pip install 'absorbphys[cuda]'); none was found — "
                         "use backend='cpu' or 'auto'")
    return backend

"""The toolkit for writing kernels, shared by the built-in models and by plugins.

``absorbphys.kernels.rng``
    The counter-based random-number generator (SplitMix64): every draw is a pure function of
    ``(seed, sample, stream, t, index)``, so results do not depend on the number of threads
    and the CUDA kernels draw the same numbers as the CPU ones. Use it instead of
    ``np.random`` inside kernels (see the "Extending" page of the documentation).
``absorbphys.kernels.sums``
    The per-batch sums ``(rho, rho2, survival, n_active[, r2])`` every kernel returns:
    :func:`~absorbphys.kernels.sums.alloc_sums`, :func:`~absorbphys.kernels.sums.record_sums`,
    :func:`~absorbphys.kernels.sums.sums_dict`.
``absorbphys.kernels.cuda``
    Helpers of the CUDA backend (the device generator, launch shapes, the simulator); imported
    only when a process runs with ``backend="cuda"``.
"""

from absorbphys.kernels import rng, sums

__all__ = ["rng", "sums"]

"""``sweep``: run one process over a grid of parameters (checkpointed, resumable, distributed).

The room: :mod:`~absorbphys._sweep.plan` (the grid validated, one process and seed per point),
:mod:`~absorbphys._sweep.store` (the run directory), :mod:`~absorbphys._sweep.executors`
(in-process, a local pool of spawned workers, Dask), :mod:`~absorbphys._sweep.merge` (one
Dataset or one file) and :mod:`~absorbphys._sweep.main` (:func:`sweep`, :func:`execute_plan`).

Layout of a run
---------------
With ``out="run.nc"`` the sweep keeps a run directory ``run.nc.parts/`` next to the output:

``manifest.json``
    The sweep's configuration (model, fixed parameters, grid, ``t_max``, samples, batches,
    init, master seed, backend, output times, absorbphys version), written atomically before
    any work. ``resume=True`` refuses a directory whose manifest differs from the request.
``point-<hash>.nc``
    One netCDF file per finished grid point (the Dataset of :func:`absorbphys.simulate`),
    written atomically (temporary file, fsync, rename, fsync of the directory) as soon as the
    point completes. It carries the configuration hash, the point's key and a SHA-256 of its
    values; on resume a file that cannot be read, or whose hash, key, shape, times or checksum
    do not match, is deleted and recomputed, never merged.
``lock``
    Held (``flock``) while a sweep writes to the directory: two sweeps never share it.

The merged file is written atomically like :func:`absorbphys.save` (temporary file, fsync,
rename), streaming the point files into it one point at a time; the run directory is then
removed (``keep_parts=True`` keeps it). A sweep killed at any moment (even by SIGKILL) and then
resumed gives the Dataset an uninterrupted run gives, apart from the ``created`` attribute.
"""

from absorbphys._sweep.main import execute_plan, sweep
from absorbphys._sweep.plan import Plan, make_plan, point_seed
from absorbphys._sweep.store import PARTS_SUFFIX

__all__ = ["PARTS_SUFFIX", "Plan", "execute_plan", "make_plan", "point_seed", "sweep"]

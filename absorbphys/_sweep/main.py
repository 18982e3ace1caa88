"""``sweep``: run one process over a grid of parameters (checkpointed, resumable, distributed)."""

from __future__ import annotations

import shutil

import xarray as xr

from absorbphys._io import write_json
from absorbphys._progress import Progress
from absorbphys._sweep import executors
from absorbphys._sweep.merge import Merger
from absorbphys._sweep.plan import Plan, make_plan
from absorbphys._sweep.store import (
    MANIFEST,
    DirLock,
    finished_output,
    point_path,
    read_point,
    write_point,
)


# ============================================================================ public
def sweep(model, grid, t_max, samples=1, init="full", seed=0, backend=None, out=None,
          client=None, times=None, batches=None, params=None, resume=False, progress=None,
          workers=None, keep_parts=False) -> xr.Dataset:
    """Run a process at every point of a parameter grid and return one Dataset.

    Parameters
    ----------
    model : str, type or AbsorbingProcess
        Registry name (``"dp"``), process class, or an instance whose parameters are the
        fixed ones (swept parameters override them).
    grid : dict of str to list
        ``{name: [values, ...]}``: swept parameters, in dimension order; values distinct and
        valid for the model. Every point is validated (by constructing its process) before
        any work starts.
    t_max : int or float
        Number of time steps / layers, or the final time for continuous-time processes.
    samples : int
        Independent realisations per grid point (>= 1).
    init : str or float
        Initial condition, as for :func:`absorbphys.simulate`.
    seed : int
        Master seed in [0, 2**63 - 1]. Each point runs with :func:`point_seed` ``(seed,
        process)``, a function of the master seed and the point's parameters only.
    backend : {"cpu", "cuda", "auto"}, optional
        Where each point runs; default: the option ``backend`` (:func:`~absorbphys.set_options`,
        ``ABSORBPHYS_BACKEND``), itself ``"cpu"`` unless set.
    out : str or os.PathLike, optional
        Output netCDF file. Checkpoints live in ``out + ".parts"`` while the sweep runs.
    client : distributed.Client, optional
        Run the points on this Dask cluster instead of local processes.
    times : None, "log", int or array_like
        Output times (see :func:`absorbphys._simulate.make_times`); shared by all points.
    batches : int, optional
        Batches per point (default ``min(samples, 100)``).
    params : dict, optional
        Fixed (not swept) parameters.
    resume : bool
        Continue an interrupted sweep with the same arguments: finished points in the run
        directory are reused, partial or corrupt ones recomputed. A different configuration
        is refused; with no run directory the sweep simply starts, unless ``out`` already
        holds the finished result of the same configuration, which is returned as it is.
        Without ``resume`` an existing run directory is an error (never overwritten).
    progress : bool, optional
        Progress bar on stderr (points done, ETA); default: the ``progress`` option.
    workers : int, optional
        CPU budget for local execution (default: the usable CPU cores). Points run on
        ``min(workers, points left)`` processes with ``workers // processes`` Numba threads
        each (one thread when there are enough points); one process means in-process, with
        Numba's threads. Ignored with ``client``.
    keep_parts : bool
        Keep the run directory after a successful merge (default: remove it).

    Returns
    -------
    xarray.Dataset
        The variables of :func:`absorbphys.simulate` with dims ``(*grid, "batch", "t")``;
        each swept parameter is a dimension coordinate, the fixed ones scalar coordinates,
        and ``point_seed`` (over the swept dims) holds each point's seed. With ``out`` it is
        opened lazily from the written file (``.load()`` reads it into memory); without, it
        is in memory.

    Raises
    ------
    TypeError, ValueError
        Bad input (one line naming the parameter and its valid range), before any work.

    Notes
    -----
    **Attributes.** Those of :func:`absorbphys.simulate`, merged over the points: a value
    shared by every point is kept; ``seed`` is the master seed; ``params`` is the JSON of
    the first point's parameters with each swept one replaced by its list of grid values;
    ``created`` is the time of the merge; any other attribute that differs between points
    (``size`` when the size parameter is swept) becomes a coordinate over the swept
    dimensions it varies along (or is dropped when it is a swept parameter itself, e.g.
    ``dim``). ``swept`` is the JSON list of swept parameter names.

    **Execution.** Points run on local processes (context 'spawn': a script that calls
    :func:`sweep` must guard the call with ``if __name__ == "__main__":``; a model class
    defined interactively runs in-process) or as tasks on a Dask cluster (one Numba thread
    per Dask task thread; kernel launches within a worker process are serialised, since
    Numba's workqueue layer does not allow concurrent launches).

    **Memory.** At most two points per worker are queued. With ``out`` every finished point
    goes straight to its file, and the merge streams the files into the output one point at
    a time, so memory is bounded by the points in flight whatever the grid size. Without
    ``out`` the result is assembled in memory.

    **Checkpoints.** See the module documentation: one file per point in ``out + ".parts"``,
    validated on resume (configuration hash, point key, shape, times, SHA-256 of the
    values); the directory is removed after the merge unless ``keep_parts``.

    Examples
    --------
    >>> ds = sweep("dp", grid={"p": [0.64, 0.65], "L": [64, 128]}, t_max=100,
    ...            samples=10, out="fss.nc")  # doctest: +SKIP
    """
    plan = make_plan(model, grid, t_max, samples, init, seed, backend, out, client, times,
                 batches, params, resume, progress, workers, keep_parts)
    return execute_plan(plan, client)


def execute_plan(plan: Plan, client=None) -> xr.Dataset:
    done = finished_output(plan)
    if done is not None:
        return done
    merger = Merger(plan, keep_data=plan.out is None)
    n = len(plan.processes)
    todo = list(range(n))
    lock = None
    if plan.run_dir is not None:
        plan.run_dir.mkdir(exist_ok=True)
        lock = DirLock(plan.run_dir).__enter__()
    try:
        if plan.run_dir is not None:
            write_json(plan.run_dir / MANIFEST, plan.config, sort_keys=True)
            # temporary files of a killed run (points, manifest, the merged output)
            stale = list(plan.run_dir.glob(".*.part"))
            if plan.resume:
                stale += list(plan.out.parent.glob(f".{plan.out.name}.*.part"))
            for p in stale:
                p.unlink(missing_ok=True)
            todo = []
            for i, key in enumerate(plan.keys):
                path = point_path(plan.run_dir, key)
                ds = read_point(path, plan, key) if plan.resume else None
                if ds is None:
                    path.unlink(missing_ok=True)
                    todo.append(i)
                else:
                    merger.add(i, ds)
        n_resumed = n - len(todo)
        desc = f"sweep {plan.cls.name}" + (f" ({n_resumed} resumed)" if n_resumed else "")

        with Progress(total=max(len(todo), 1), desc=desc, enabled=plan.progress,
                      unit="point") as bar:
            def handle(i, ds):
                if plan.run_dir is not None:
                    write_point(ds, point_path(plan.run_dir, plan.keys[i]), plan,
                                 plan.keys[i])
                merger.add(i, ds)
                bar.update(1)

            tasks = ((i, (plan.processes[i], int(plan.seeds[i]), plan.kw)) for i in todo)
            if not todo:
                pass
            elif client is not None:
                executors.execute_dask(client, tasks, handle, plan.config_hash[:12])
            else:
                nw = min(plan.workers, len(todo))
                if nw > 1 and not executors.importable(plan.cls):
                    nw = 1  # defined in an interactive session: workers could not import it
                if nw <= 1:
                    for i, task in tasks:
                        handle(i, executors.run_point(task))
                else:  # the worker budget is shared: fewer points, more threads each
                    executors.execute_local(tasks, nw, handle, max(1, plan.workers // nw))
        if plan.out is None:
            ds = merger.dataset()
        else:
            merger.write(plan.out)
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    if plan.run_dir is not None and not plan.keep_parts:
        shutil.rmtree(plan.run_dir, ignore_errors=True)
    if plan.out is not None:  # lazily: memory stays bounded by the points in flight
        ds = xr.open_dataset(plan.out, engine="netcdf4")
    return ds

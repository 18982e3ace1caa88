"""Running the simulations of one benchmark entry: grids, checkpoints, seeds, timings.

Every run goes through :func:`absorbphys.sweep` (one grid per stage). With a checkpoint
directory the sweep keeps its per-point files there while it runs, and the finished stage is
stored as ``<stage>.nc`` next to a ``<stage>.json`` describing the request; a later run with
the same request loads it instead of recomputing (this is what makes ``--full`` resumable:
an interrupted stage resumes from the sweep's point files, a finished one is reused).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from absorbphys._io import load, write_json
from absorbphys._params import INT_MAX
from absorbphys._registry import get_model
from absorbphys._sweep import sweep


def stage_seed(seed: int, *names) -> int:
    """Derive an independent seed for one stage of one entry from the master seed."""
    key = json.dumps([int(seed), *map(str, names)]).encode()
    h = hashlib.sha256(key).digest()
    return int.from_bytes(h[:8], "little") & INT_MAX


class Runner:
    """Run the stages of one entry (optionally checkpointed) and keep their timings.

    Parameters
    ----------
    entry : Entry
        The benchmark entry.
    seed : int
        Master seed.
    backend : str or None
        Backend for every run (``None``: the option ``backend``).
    ckpt_dir : pathlib.Path or None
        Checkpoint directory of this entry (``None``: no checkpoints).
    log : callable
        ``log(message)`` for progress lines.
    workers : int or None
        Local worker processes for grids with several points (``None``: the sweep default).
    """

    def __init__(self, entry, seed, backend=None, ckpt_dir=None, log=None, workers=None):
        self.entry = entry
        self.seed = int(seed)
        self.backend = backend
        self.cls = get_model(entry.model)
        self.ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else None
        self.log = log or (lambda msg: None)
        self.workers = workers
        self.timings: dict[str, float] = {}
        self.datasets: dict = {}

    @property
    def size_param(self) -> str:
        """Name of the model's size parameter."""
        return self.cls.size_param

    def make(self, **kw):
        """Construct the process with the entry's fixed parameters plus ``kw``."""
        return self.cls(**{**self.entry.params, **kw})

    def run(self, stage, grid, t_max, samples, init="full", fixed=None, times="log",
            batches=None):
        """Run one stage: a grid of points, all with the same times and samples.

        Parameters
        ----------
        stage : str
            Stage name (also the dataset's key and checkpoint file name).
        grid : dict of str to list
            Swept parameters.
        t_max : float
            Last time.
        samples : int
            Samples per point.
        init : str
            Initial condition.
        fixed : dict, optional
            Further fixed parameters (e.g. the size).
        times : str or array_like
            Output times.
        batches : int, optional
            Batches per point.

        Returns
        -------
        xarray.Dataset
        """
        e = self.entry
        params = {**e.params, **(fixed or {})}
        if not self.cls.continuous_time:
            t_max = int(round(t_max))
        seed = stage_seed(self.seed, e.name, stage)
        request = {"model": e.model, "params": params, "grid": grid, "t_max": t_max,
                   "samples": int(samples), "init": init, "seed": seed,
                   "times": times if isinstance(times, str) else list(map(float, times)),
                   "batches": batches, "backend": self.backend}
        t0 = time.perf_counter()
        ds = self._load_checkpoint(stage, request)
        if ds is None:
            npts = int(np.prod([len(v) for v in grid.values()]))
            workers = 1 if npts == 1 else self.workers
            out = None
            resume = False
            if self.ckpt_dir is not None:
                self.ckpt_dir.mkdir(parents=True, exist_ok=True)
                out = self.ckpt_dir / f"{stage}.nc"
                resume = True
            ds = sweep(e.model, grid=grid, t_max=t_max, samples=int(samples), init=init,
                       seed=seed, backend=self.backend, out=out, times=times,
                       batches=batches, params=params, resume=resume, progress=False,
                       workers=workers)
            if self.ckpt_dir is not None:
                write_json(self.ckpt_dir / f"{stage}.json", request, default=str)
        dt = time.perf_counter() - t0
        self.timings[stage] = self.timings.get(stage, 0.0) + dt
        self.datasets[stage] = ds
        self.log(f"{stage}: {_describe_grid(grid)} t_max={t_max:g} samples={samples} "
                 f"init={init} ({dt:.1f} s)")
        return ds

    def _load_checkpoint(self, stage, request):
        if self.ckpt_dir is None:
            return None
        nc = self.ckpt_dir / f"{stage}.nc"
        js = self.ckpt_dir / f"{stage}.json"
        if not (nc.is_file() and js.is_file()):
            return None
        try:
            saved = json.loads(js.read_text())
        except ValueError:
            return None
        if saved != json.loads(json.dumps(request)):
            return None
        try:
            return load(nc)
        except ValueError:
            return None


def _describe_grid(grid):
    parts = []
    for k, v in grid.items():
        v = list(v)
        if len(v) == 1:
            parts.append(f"{k}={v[0]:.6g}" if isinstance(v[0], float) else f"{k}={v[0]}")
        else:
            parts.append(f"{k}=[{min(v):.6g}..{max(v):.6g}]x{len(v)}")
    return " ".join(parts)

"""Where the points run: in-process, on a local pool of spawned workers, or on Dask."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numba

from absorbphys._params import UsageError
from absorbphys._simulate import simulate

# ============================================================================ execution
_LAUNCH_LOCK = threading.Lock()


def run_point(task):
    """Run one grid point (in a worker process, a Dask worker, or in-process)."""
    proc, seed, kw = task
    # Numba's workqueue layer does not allow concurrent kernel launches from threads.
    with _LAUNCH_LOCK:
        return simulate(proc, seed=seed, progress=False, **kw)


def _run_point_dask(task):
    """Dask task: use as many Numba threads as the worker has task threads."""
    try:
        from distributed import get_worker  # optional (the dist extra): Dask runs only

        n = int(get_worker().state.nthreads)
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # pragma: no cover - outside a worker or old distributed
        pass
    return run_point(task)


def _watch_parent(pid):
    while True:
        time.sleep(1.0)
        if os.getppid() != pid:  # orphaned (the sweep was killed): stop computing
            os._exit(1)


def _init_worker(parent_pid, n_threads):
    numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def execute_local(tasks, n_workers, handle, n_threads=1):
    """Run ``tasks`` [(index, task)] on ``n_workers`` processes, at most 2 per worker queued.

    Each worker uses ``n_threads`` Numba threads.
    """
    ctx = multiprocessing.get_context("spawn")
    ex = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(os.getpid(), n_threads))
    it = iter(tasks)
    pending = {}

    def submit_next():
        for i, task in it:
            pending[ex.submit(run_point, task)] = i
            return

    try:
        for _ in range(2 * n_workers):
            submit_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    ds = fut.result()
                except BrokenProcessPool:
                    raise RuntimeError(
                        "a sweep worker process died; if sweep() is called from a script, "
                        "protect the call with `if __name__ == '__main__':` (workers are "
                        "started with 'spawn'), or pass workers=1") from None
                handle(i, ds)
                submit_next()
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=False)  # every result is in; let the workers exit on their own


def execute_dask(client, tasks, handle, tag):
    try:
        from distributed import as_completed  # optional (the dist extra)
    except ImportError:  # pragma: no cover - the client itself needs distributed
        raise UsageError("client= needs dask.distributed: pip install 'absorbphys[dist]'") \
            from None
    try:
        nthreads = sum(client.nthreads().values())
    except Exception:  # pragma: no cover
        nthreads = 1
    limit = max(2, 2 * nthreads)
    it = iter(tasks)
    index = {}
    ac = as_completed()

    def submit_next():
        for i, task in it:
            fut = client.submit(_run_point_dask, task, pure=False,
                                key=f"absorbphys-sweep-{tag}-{i}-{os.urandom(4).hex()}")
            index[fut.key] = i
            ac.add(fut)
            return

    for _ in range(limit):
        submit_next()
    for fut in ac:
        i = index.pop(fut.key)
        ds = fut.result()
        fut.release()
        handle(i, ds)
        submit_next()


def importable(cls) -> bool:
    if cls.__module__ != "__main__":
        return True
    return getattr(sys.modules.get("__main__"), "__file__", None) is not None

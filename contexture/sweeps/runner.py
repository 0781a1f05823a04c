"""Run a sweep: read finished cells from the store, compute the missing ones, store each result.

Cells are computed in this process (``workers=1``), in a pool of local processes, or on a Dask
cluster; in every case the submitting process writes the results to the store as they arrive,
so the store need not be shared with the workers.
"""

from __future__ import annotations

import multiprocessing
import numbers
import os
import re
import signal
import sys
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from contexture.sweeps.result import CellFailure, SweepFailed, SweepResult
from contexture.sweeps.store import CellStore, decode_record, default_store, encode_record
from contexture.sweeps.sweep import Sweep

__all__ = ["SCHEDULER_ENV", "run_sweep"]

#: Environment variable naming the Dask scheduler used when ``scheduler`` is not given.
SCHEDULER_ENV = "CONTEXTURE_SCHEDULER"
_ADDRESS_RE = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://\S+$")
_LOST = ("BrokenProcessPool: a worker process died (killed, out of memory or crashed) while "
         "this cell was queued or running")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class _Job:
    index: int
    point: dict[str, Any]
    key: str
    kwargs: dict[str, Any]


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _failure(exc: BaseException, error: str = "") -> dict[str, Any]:
    tb = "".join(traceback.format_exception(exc))
    return {"ok": False, "error": error or _short(exc), "traceback": tb}


def _execute(cell: Callable[..., Any], kwargs: dict[str, Any],
             point_names: tuple[str, ...]) -> dict[str, Any]:
    """Run one cell in a worker; return its encoded record or its error (never raise)."""
    start = time.perf_counter()
    try:
        record = encode_record(cell(**kwargs))
        clash = sorted(set(record) & set(point_names))
        if clash:
            raise ValueError(f"the record repeats the grid axes {clash}; leave them out, "
                             f"records are joined with the point's parameters")
    except Exception as exc:  # noqa: BLE001 - every cell error is reported, none stops the sweep
        return {**_failure(exc), "duration_s": time.perf_counter() - start}
    return {"ok": True, "record": record, "duration_s": round(time.perf_counter() - start, 6),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _init_worker(threads: int, environ: dict[str, str]) -> None:
    """Pool initializer: the submitter's environment, ``threads`` BLAS threads, no SIGINT."""
    os.environ.update(environ)
    os.environ.update({name: str(threads) for name in _THREAD_VARS})
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the submitting process handles Ctrl-C
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _backend(scheduler: Any, workers: Any) -> tuple[str, Any]:
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
            raise ValueError(f"workers must be a positive integer (None: one per CPU core), "
                             f"got {workers!r}")
        workers = int(workers)
    source = "scheduler"
    if scheduler is None and os.environ.get(SCHEDULER_ENV, "").strip():
        scheduler, source = os.environ[SCHEDULER_ENV].strip(), f"${SCHEDULER_ENV}"
    if scheduler is None or (isinstance(scheduler, str) and scheduler == "local"):
        return "local", workers or _cores()
    if isinstance(scheduler, str):
        if _ADDRESS_RE.match(scheduler):
            return "dask", scheduler
        raise ValueError(f"{source} must be None, 'local' or a Dask scheduler address like "
                         f"'tcp://host:8786', got {scheduler!r}")
    distributed = sys.modules.get("distributed")
    if distributed is not None and isinstance(scheduler, distributed.Client):
        return "dask", scheduler
    raise TypeError(f"scheduler must be None, 'local', a Dask scheduler address or a "
                    f"distributed.Client, got {type(scheduler).__name__}")


def _run_inline(jobs: list[_Job], cell: Callable[..., Any],
                finish: Callable[[_Job, dict[str, Any]], None]) -> None:
    for job in jobs:
        finish(job, _execute(cell, job.kwargs, tuple(job.point)))


def _new_pool(n: int) -> ProcessPoolExecutor:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context(method),
                               initializer=_init_worker,
                               initargs=(max(1, _cores() // n), dict(os.environ)))


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=10)


def _run_pool(jobs: list[_Job], cell: Callable[..., Any], n: int,
              finish: Callable[[_Job, dict[str, Any]], None]) -> None:
    pending = deque(jobs)
    pool = _new_pool(n)
    inflight: dict[Future[dict[str, Any]], _Job] = {}
    breaks = 0  # pools broken in a row without a finished cell
    try:
        while pending or inflight:
            broken = False
            try:
                while pending and len(inflight) < 2 * n:  # a short queue: Ctrl-C stops quickly
                    job = pending[0]
                    inflight[pool.submit(_execute, cell, job.kwargs, tuple(job.point))] = job
                    pending.popleft()
            except BrokenProcessPool:  # the cells in flight report the break below
                broken = True
            done, _ = wait(inflight, return_when=FIRST_COMPLETED) if inflight else ((), ())
            for fut in done:
                job = inflight.pop(fut)
                try:
                    outcome = fut.result()
                except BrokenProcessPool as exc:
                    broken = True
                    outcome = _failure(exc, _LOST)
                except Exception as exc:  # noqa: BLE001 - e.g. arguments that cannot be pickled
                    outcome = _failure(exc)
                breaks = 0 if outcome["ok"] else breaks
                finish(job, outcome)
            if broken:  # the cells left in a broken pool are lost; go on with a new pool
                breaks += 1
                lost = []
                for fut, job in inflight.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        finish(job, fut.result())  # finished just before the break
                    else:
                        lost.append(job)
                inflight.clear()
                _stop_pool(pool)
                note = _LOST
                if breaks >= 3:
                    lost += pending
                    pending.clear()
                    note = ("BrokenProcessPool: not run, worker pools broke 3 times in a row "
                            "without finishing a cell (in a script, put the main code under "
                            "`if __name__ == '__main__':`)")
                for job in lost:
                    finish(job, _failure(BrokenProcessPool(note), note))
                if pending:
                    pool = _new_pool(n)
    except BaseException:  # KeyboardInterrupt included: keep what finished, stop the rest
        for fut, job in inflight.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                finish(job, fut.result())
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_dask(jobs: list[_Job], cell: Callable[..., Any], target: Any, name: str,
              finish: Callable[[_Job, dict[str, Any]], None]) -> None:
    from distributed import Client, as_completed

    own = isinstance(target, str)
    if own:
        try:
            client = Client(target, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {target}: {exc}") from None
    else:
        client = target
    token = uuid.uuid4().hex[:8]
    futures: dict[Any, _Job] = {}
    try:
        for job in jobs:
            fut = client.submit(_execute, cell, job.kwargs, tuple(job.point), pure=False,
                                key=f"sweep-{name}-{job.key[:16]}-{token}")
            futures[fut] = job
        for fut in as_completed(list(futures), loop=client.loop):
            job = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker that cannot import the cell
                outcome = _failure(exc, f"{_short(exc)} (on the Dask worker, outside the cell)")
            finish(job, outcome)
            fut.release()
    except BaseException:
        if futures:
            client.cancel(list(futures))
        raise
    finally:
        if own:
            client.close()


def run_sweep(sweep: Sweep, *, store: str | os.PathLike[str] | None = None,
              scheduler: Any = None, workers: int | None = None, progress: bool = True,
              raise_on_failure: bool = True) -> SweepResult:
    """Compute the cells of ``sweep`` missing from the store and return every record.

    Infrastructure (no equation of the paper); the real-data chapters run their tables with it.

    Parameters
    ----------
    sweep
        What to compute.
    store
        The store folder; default ``$CONTEXTURE_SWEEP_DIR``, else ``build/sweeps`` under the
        project root (the nearest folder above the cwd holding ``pyproject.toml``). A finished
        cell is ``<store>/<sweep name>/<key[:2]>/<key>.json``.
    scheduler
        ``None`` or ``"local"``: processes on this machine; ``"tcp://host:port"``: the Dask
        scheduler at that address; or a ``distributed.Client``. With ``None``,
        ``$CONTEXTURE_SCHEDULER`` is used when set. Dask workers need this project installed
        (they import the cell by name) and set their own BLAS threads.
    workers
        Local processes (default: one per CPU core); each gets ``cores // workers`` BLAS
        threads. ``1`` computes in this process, without a pool. Ignored with Dask.
    progress
        Show a tqdm bar (cells done, cached and failed, ETA) on stderr.
    raise_on_failure
        Raise :class:`SweepFailed` at the end if any cell raised; otherwise return them in
        ``result.failed``. Either way the other cells finish and are stored.

    Returns
    -------
    SweepResult
        Records in grid order (parameters then record fields) and counts.

    Raises
    ------
    SweepFailed
        If a cell raised and ``raise_on_failure``; each failure names its parameters, and its
        traceback is printed to stderr when it happens.
    KeyboardInterrupt
        Re-raised after the cells finished so far are stored; nothing more is submitted.
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    kind, target = _backend(scheduler, workers)
    cells = CellStore(Path(store).resolve() if store is not None else default_store(),
                      sweep.name)
    code = sweep.code_hash()
    points = sweep.grid.points
    records: dict[int, dict[str, Any]] = {}
    jobs: list[_Job] = []
    for i, point in enumerate(points):
        key = sweep.key(point, code)
        payload = cells.read(key)
        if payload is not None:
            records[i] = decode_record(payload["record"])
        else:
            jobs.append(_Job(i, point, key, {**sweep.fixed, **point}))
    n_cached = len(records)
    failures: dict[int, CellFailure] = {}
    bar = tqdm(total=len(points), initial=n_cached, desc=sweep.name, unit="cell",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    backend = kind if kind == "dask" else ("local" if min(target, len(jobs)) > 1 else "inline")

    def finish(job: _Job, outcome: dict[str, Any]) -> None:
        if outcome["ok"]:
            cells.write(job.key, {
                "sweep": sweep.name, "cell": sweep.cell_name, "code_hash": code,
                "fixed": sweep.fixed, "params": job.point, "record": outcome["record"],
                "meta": {"duration_s": outcome["duration_s"],
                         "finished_at": outcome["finished_at"], "backend": backend}})
            records[job.index] = decode_record(outcome["record"])
        else:
            failures[job.index] = CellFailure(dict(job.point), outcome["error"],
                                              outcome["traceback"], job.key)
            bar.write(f"cell {failures[job.index]} failed:\n{outcome['traceback']}",
                      file=sys.stderr)
        bar.set_postfix_str(f"computed={len(records) - n_cached} cached={n_cached} "
                            f"failed={len(failures)}", refresh=False)
        bar.update(1)

    try:
        if backend == "dask":
            _run_dask(jobs, sweep.cell, target, sweep.name, finish)
        elif backend == "local":
            _run_pool(jobs, sweep.cell, min(target, len(jobs)), finish)
        else:
            _run_inline(jobs, sweep.cell, finish)
    finally:
        bar.close()
    result = SweepResult(
        name=sweep.name, store=cells.folder,
        records=[{**points[i], **records[i]} for i in sorted(records)],
        failed=[failures[i] for i in sorted(failures)],
        n_computed=len(records) - n_cached, n_cached=n_cached, axes=tuple(sweep.grid.axes))
    if result.failed and raise_on_failure:
        raise SweepFailed(sweep.name, result.failed, result)
    return result

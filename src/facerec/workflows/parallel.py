"""A process pool whose workers each build their state (models) once, then run a task per item.

The interface is four things: a ``task(state, item) -> result``, the ``items``, a state
``factory`` (called once per worker as ``factory(threads=WORKER_THREADS, **factory_kwargs)``) and
``jobs``. ``jobs`` is the number of single-threaded workers: the factory is asked for one
onnxruntime intra-op thread and OpenCV is set to one thread in each worker process, so N workers
use N cores without oversubscription. With ``jobs=1`` the work runs in the calling process, its
models also built single-threaded. Workers are started with ``spawn`` (onnxruntime's thread pools
do not survive ``fork``).
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TypeVar

from facerec.errors import FacerecError

Item = TypeVar("Item")
Factory = Callable[..., Any]
"""A module-level function building a worker's state (e.g. a FaceAnalyzer) from keyword arguments,
one of which is ``threads`` (the onnxruntime intra-op threads its models may use)."""
Task = Callable[[Any, Any], Any]
"""A module-level function ``(state, item) -> result``; it should catch per-item errors itself."""

_STATE: Any = None
_TASK: Optional[Task] = None
_INIT_ERROR: Optional[str] = None


AUTO_MIN_ITEMS = 64
"""With ``jobs=None``, fewer items than this run in the calling process (start-up is not worth it)."""
WORKER_THREADS = 1
"""Intra-op threads each worker's models get: one, the parallelism comes from the workers."""


def default_jobs() -> int:
    """One worker per available CPU core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def cap_jobs(jobs: int) -> int:
    """``jobs`` local worker processes, at most one per available core; a larger request is lowered
    with one line on stderr saying so (each worker holds its own models: -j 100000 once meant 145 GB)."""
    cores = default_jobs()
    if jobs > cores:
        sys.stderr.write(f"note: -j {jobs} lowered to {cores}, the number of CPU cores available\n")
        sys.stderr.flush()
        return cores
    return jobs


def die_with_parent() -> None:
    """Make this worker process exit when the process that started it dies, even by SIGKILL:
    ``prctl(PR_SET_PDEATHSIG)`` on Linux, and everywhere a thread watching the parent's pid."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="facerec-parent-watch", daemon=True).start()


def _init_worker(factory: Factory, kwargs: dict, task: Task) -> None:
    global _STATE, _TASK, _INIT_ERROR
    import cv2

    die_with_parent()  # a killed batch job leaves no 185 MB workers behind
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool
    cv2.setNumThreads(1)  # this worker process's OpenCV (resize, warps, YuNet, cv2.dnn) on one core
    _TASK = task
    try:
        _STATE = factory(threads=WORKER_THREADS, **kwargs)
    except FacerecError as exc:  # raising here would make the pool respawn workers forever
        _INIT_ERROR = str(exc)
    except Exception as exc:  # noqa: BLE001
        _INIT_ERROR = f"worker start-up failed: {type(exc).__name__}: {exc}"


def _run_chunk(chunk: Sequence[Any]) -> list[Any]:
    if _INIT_ERROR is not None:
        raise FacerecError(_INIT_ERROR)
    assert _TASK is not None
    return [_TASK(_STATE, item) for item in chunk]


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parallel_map(task: Task, items: Sequence[Any], *, factory: Factory, factory_kwargs: Optional[dict] = None,
                 jobs: Optional[int] = 1, chunksize: int = 4, state: Any = None, engine: Any = None) -> Iterator[Any]:
    """Yield ``task(state, item)`` for every item, in completion order (not input order).

    ``engine``: a :class:`facerec.workflows.ray_engine.RayEngine` runs the map on Ray instead, with
    ``jobs`` actors (None: one per CPU of the cluster); None runs it here, in worker processes.

    ``jobs=None``: one worker per core, or the calling process for fewer than ``AUTO_MIN_ITEMS`` items.
    ``state`` (only with ``jobs=1``) reuses an already-built state instead of calling ``factory``.
    A worker that dies (killed, out of memory) stops the run with :class:`FacerecError` instead of
    hanging it.
    """
    kwargs = dict(factory_kwargs or {})
    if not items:
        return
    if engine is not None:
        yield from engine.map(task, items, factory=factory, factory_kwargs=kwargs, jobs=jobs)
        return
    if jobs is None:
        jobs = default_jobs() if len(items) >= AUTO_MIN_ITEMS else 1
    jobs = max(1, min(cap_jobs(int(jobs)), len(items)))
    if jobs == 1:
        if state is None:
            state = factory(threads=WORKER_THREADS, **kwargs)
        for item in items:
            yield task(state, item)
        return
    chunksize = max(1, min(chunksize, len(items) // (jobs * 4) or 1))
    chunks = _chunks(items, chunksize)
    pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(factory, kwargs, task))
    try:
        pending = {pool.submit(_run_chunk, c) for c in itertools.islice(chunks, jobs * 3)}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    results = fut.result()
                except BrokenProcessPool:
                    raise FacerecError("a worker process died (killed, out of memory or failed to start); "
                                       "rerun to resume") from None
                yield from results
                pending.update(pool.submit(_run_chunk, c) for c in itertools.islice(chunks, 1))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

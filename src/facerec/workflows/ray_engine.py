"""The workflows' batch map on a Ray cluster (``--engine ray``), with Ray Data doing the work.

The contract is the local engine's (:func:`facerec.workflows.parallel.parallel_map`): a
``task(state, item)``, the ``items``, a state ``factory`` and ``jobs``; results come back to the
caller in completion order, so the resumable shards, failure reports and progress bars of every
batch command stay where they are. On Ray the items become a dataset whose rows flow through two
stages:

1. read: the bytes of the image files each item names are read;
2. run: a fixed pool of actors, one CPU each, builds the state once per actor (models with
   single-threaded sessions, as the local engine's workers do) and runs the task, decoding the
   bytes read in stage 1 instead of reading the file again.

Both stages ask for the same resources, so Ray Data fuses them into one actor operator: a block
is read on the node whose actor embeds it (no bytes cross the network, no extra worker processes
to start), while the driver streams blocks to the actors.

The caller's process is the Ray driver. With an address (``--address`` or ``RAY_ADDRESS``) it
joins that cluster; otherwise a local Ray is started for the run (:class:`~facerec.workflows.ray_local.LocalRay`:
every listener on a free port, its own temp folder, so it never meets another Ray on the machine) and
stopped after it by PID, also on Ctrl-C or SIGTERM. Every node needs facerec (with the ``ray`` extra) and its models; the files
are read where the tasks run, so the inputs must be on a file system every node sees.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import signal
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from facerec.errors import FacerecError
from facerec.io.safe_read import read_regular

ENGINES = ("local", "ray")
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20
"""Object store of a Ray started for one run: the rows are file bytes and vectors, a few MB in flight."""
LOCAL_WORKER_NICENESS = 0
"""Niceness of the workers of a Ray started for one run. Ray's default (15) suits a cluster's own
machines; on a shared machine it hands the CPU to every other process, while the local engine's
workers run at the caller's priority."""
MAX_BLOCK_ROWS = 16
"""Rows per Ray Data block at most: small blocks keep every actor busy and the progress smooth."""


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise FacerecError("--engine ray needs Ray: pip install 'facerec[ray]'") from None
    return ray


def image_paths_of(item: Any) -> list[str]:
    """The image files an item names: its string fields with an image suffix (``(index, path)``,
    ``(src, dst)``, ``(path, key, pick)`` ...)."""
    from facerec.io.files import is_image_name

    fields = item if isinstance(item, (tuple, list)) else (item,)
    return [f for f in fields if isinstance(f, str) and is_image_name(Path(f))]


class Boxed:
    """A value carried through Ray Data as one opaque Python object, so that Arrow never turns a
    tuple into a list or a dict into a struct (the task gets back exactly what it was given)."""

    __slots__ = ("value", "files")

    def __init__(self, value: Any, files: Optional[dict] = None) -> None:
        self.value, self.files = value, files

    def __getstate__(self):
        return self.value, self.files

    def __setstate__(self, state) -> None:
        self.value, self.files = state


# -- stage 1: read the files (fused by Ray Data into the actors' operator) ------------------------
def _read_files(batch: dict, cwd: str) -> dict:
    """Attach to each row the bytes of the image files its item names (``{path: bytes}``). Files
    that cannot be read are left out: the task then meets the error itself, so the failure report
    says what the local engine's says."""
    _enter(cwd)
    for box in batch["item"]:
        box.files = {}
        for path in image_paths_of(box.value):
            try:
                box.files[path] = read_regular(path)
            except OSError:
                continue
    return batch


def _enter(cwd: str) -> None:
    """Run in the driver's working folder where this node has it (relative input paths)."""
    if cwd and os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)


def _objects(values: list, np) -> Any:
    """A 1-D object array of ``values`` (even when they are tuples or dicts)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


# -- stage 2: the actors ----------------------------------------------------------------------------
class TaskActor:
    """One Ray actor of the pool: builds the state once (as a local worker process does), then
    runs the task on every row, with the row's file bytes in place of the files."""

    def __init__(self, task, factory, factory_kwargs: dict, cwd: str, batched: bool = False) -> None:
        import ray

        from facerec.workflows import parallel

        _enter(cwd)
        parallel._init_worker(factory, factory_kwargs, task)  # the local workers' start-up, verbatim
        self.error: Optional[str] = parallel._INIT_ERROR
        self.node = ray.get_runtime_context().get_node_id()
        self.task, self.batched = task, batched

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        from facerec.io.images import prefetched_files
        from facerec.workflows import parallel

        n = len(batch["i"])
        results: list = [Boxed(None)] * n
        error = self.error
        if error is None and self.batched:  # one call for the block: the task writes its results in one go
            files = {path: data for box in batch["item"] for path, data in (box.files or {}).items()}
            try:
                with prefetched_files(files):
                    results = [Boxed(r) for r in self.task(parallel._STATE, [box.value for box in batch["item"]])]
            except FacerecError as exc:  # e.g. the gallery's server gone: the driver ends the run with this line
                error = str(exc)
        elif error is None:
            for k, box in enumerate(batch["item"]):
                with prefetched_files(box.files or {}):
                    results[k] = Boxed(parallel._run_chunk([box.value])[0])
        return {"i": batch["i"], "result": _objects(results, np), "node": np.array([self.node] * n),
                "error": np.array([error or ""] * n)}


# -- the driver -------------------------------------------------------------------------------------
class RayEngine:
    """Runs batch maps on Ray: ``with engine.session(): ... engine.map(...)``.

    ``address``: a cluster to join (default ``RAY_ADDRESS``; None starts a local Ray for the run).
    ``rows_per_node`` counts the rows each node ran, over every map of the engine.
    """

    kind = "ray"

    def __init__(self, address: Optional[str] = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.rows_per_node: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def session(self) -> Iterator["RayEngine"]:
        """Connect to the cluster (or start a local Ray) for the block; a local Ray started here is
        stopped at the end, also when the block is left by Ctrl-C or SIGTERM."""
        ray = _require_ray()
        if ray.is_initialized():
            yield self
            return
        logging.getLogger("ray").setLevel(logging.ERROR)  # our bar and summary are the run's output
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # no core-worker notes on our stderr
        kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                        "configure_logging": False}
        local = None
        try:
            if self.address:
                _check_reachable(self.address)
                address = self.address
            else:  # a Ray of our own, every port free, stopped by PID (workflows.ray_local)
                from facerec.workflows.ray_local import LocalRay

                env = dict(os.environ, RAY_worker_niceness=str(LOCAL_WORKER_NICENESS))
                local = LocalRay(object_store_bytes=LOCAL_OBJECT_STORE_BYTES, env=env)
                address = local.start()
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError, OSError) as exc:
            if local is not None:
                local.stop()
            where = self.address or "a local Ray"
            raise FacerecError(f"cannot start or join {where}: {' '.join(str(exc).split())[:300]}") from None
        old = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _raise_interrupt)  # unwind through ray.shutdown() and the local Ray's stop
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)
            try:
                ray.shutdown()
            finally:
                if local is not None:
                    local.stop()

    def cluster_cpus(self) -> int:
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def map(self, task, items: Sequence[Any], *, factory, factory_kwargs: Optional[dict] = None,
            jobs: Optional[int] = None, batched: bool = False) -> Iterator[Any]:
        """Yield ``task(state, item)`` for every item, in completion order, from a pool of ``jobs``
        actors (default, and at most: one per CPU of the cluster). ``batched``: the task takes the
        items of one block (at most ``MAX_BLOCK_ROWS``) as a list and returns their results as a list,
        e.g. to write them in one request from the actor."""
        if not items:
            return
        with self.session():
            yield from self._map(task, items, factory, dict(factory_kwargs or {}), jobs, batched)

    def _map(self, task, items: Sequence[Any], factory, kwargs: dict, jobs: Optional[int],
             batched: bool = False) -> Iterator[Any]:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the caller draws its own (rows done / total, rate, ETA)
        ctx.execution_options.preserve_order = False
        ctx.execution_options.verbose_progress = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # no per-run banners, no pickled-column notes
        cpus = self.cluster_cpus()  # more actors than CPUs would wait for a CPU forever
        size = max(1, min(int(jobs or cpus), cpus, len(items)))
        block = max(1, min(MAX_BLOCK_ROWS, math.ceil(len(items) / (size * 4))))
        cwd = os.getcwd()
        rows = [{"i": i, "item": Boxed(item)} for i, item in enumerate(items)]
        ds = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / block))
        ds = ds.map_batches(_read_files, fn_kwargs={"cwd": cwd}, batch_size=None, num_cpus=1)
        ds = ds.map_batches(TaskActor, fn_constructor_args=(task, factory, kwargs, cwd, batched), batch_size=None,
                            num_cpus=1, compute=ray.data.ActorPoolStrategy(size=size))
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
            if len(batch["i"]) and batch["error"][0]:
                raise FacerecError(str(batch["error"][0]))
            self.rows_per_node.update(str(n) for n in batch["node"])
            yield from (box.value for box in batch["result"])

    def summary(self) -> str:
        """Rows per node, e.g. ``ray: 1000 row(s) on 2 node(s): 3f2a..=510, 9c1e..=490``."""
        total = sum(self.rows_per_node.values())
        parts = ", ".join(f"{node[:8]}={n}" for node, n in sorted(self.rows_per_node.items()))
        return f"ray: {total} row(s) on {len(self.rows_per_node)} node(s): {parts}"


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast, with one line, when ``host:port`` takes no connection (Ray itself retries forever)."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # 'auto', 'ray://...': left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise FacerecError(f"no Ray cluster answers at {address} ({exc.strerror or exc})") from None


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def make_engine(engine: str = "local", address: Optional[str] = None) -> Optional[RayEngine]:
    """The engine a batch command runs on: None for the local worker processes, or a :class:`RayEngine`."""
    if engine not in ENGINES:
        raise FacerecError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if engine == "local":
        if address:
            raise FacerecError("--address needs --engine ray")
        return None
    _require_ray()
    return RayEngine(address)

"""Inference off the event loop: a thread pool where each worker owns one FaceAnalyzer, loaded once."""
from __future__ import annotations

import asyncio
import os
import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from facerec.models.pipeline import PipelineSpec

T = TypeVar("T")


class InferencePool:
    """``await pool.run(fn, *args)`` calls ``fn(analyzer, *args)`` on a worker thread.

    Each of the ``workers`` analyzers is used by one thread at a time; onnxruntime gets
    ``cpu_count // workers`` intra-op threads per analyzer.
    """

    def __init__(self, spec: PipelineSpec, workers: int = 2) -> None:
        from facerec.analyzer import FaceAnalyzer

        self.workers = max(1, int(workers))
        spec = spec.with_(threads=max(1, (os.cpu_count() or 1) // self.workers))
        self.analyzers = [FaceAnalyzer.from_spec(spec) for _ in range(self.workers)]
        self._free: "queue.Queue[Any]" = queue.Queue()
        for a in self.analyzers:
            self._free.put(a)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="facerec-infer")

    @property
    def analyzer(self):
        """One of the analyzers (for metadata: model id, threshold)."""
        return self.analyzers[0]

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        analyzer = self._free.get()
        try:
            return fn(analyzer, *args)
        finally:
            self._free.put(analyzer)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

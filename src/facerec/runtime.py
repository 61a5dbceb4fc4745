"""Shared onnxruntime session settings (thread count, quiet logs)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import onnxruntime as ort


def default_threads() -> int:
    """Intra-op threads when none are given: ``FACEREC_THREADS`` if set, else 0 (onnxruntime decides)."""
    return int(os.environ.get("FACEREC_THREADS", "0") or 0)


def resolve_threads(threads: Optional[int]) -> int:
    """``threads`` as given, or the user's default (:func:`default_threads`) when None."""
    return default_threads() if threads is None else max(0, int(threads))


def onnx_session(path: Path, threads: Optional[int] = None) -> ort.InferenceSession:
    """A CPU inference session with full graph optimisation and warnings silenced.

    ``threads``: intra-op threads (0: onnxruntime decides; None: ``FACEREC_THREADS`` or 0).
    """
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    n = resolve_threads(threads)
    if n:
        opts.intra_op_num_threads = n
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

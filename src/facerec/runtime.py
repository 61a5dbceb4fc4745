"""Shared onnxruntime session settings (thread count, quiet logs)."""
from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort


def default_threads() -> int:
    """Intra-op threads: ``FACEREC_THREADS`` if set, else 0 (onnxruntime decides)."""
    return int(os.environ.get("FACEREC_THREADS", "0") or 0)


def onnx_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """A CPU inference session with full graph optimisation and warnings silenced."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    n = threads or default_threads()
    if n:
        opts.intra_op_num_threads = n
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

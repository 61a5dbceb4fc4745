"""Inference sessions for ONNX models: the one place that knows onnxruntime and OpenVINO.

Detectors and embedders ask :func:`open_session` for a :class:`Session` and run NCHW float32
tensors through it; which library runs them (``backend``), on what (``device``), with how many
threads and at what precision is decided here.

- ``backend``: ``auto`` (the default), ``onnxruntime`` or ``openvino``; None means
  ``FACEREC_BACKEND`` or :data:`DEFAULT_BACKEND`. ``auto`` runs each model on the CPU backend the
  benchmark measured fastest for it (``ModelSpec.cpu_backend`` in the registry, passed here as
  ``preferred``: OpenVINO for the ArcFace-MBF and SFace embedders, onnxruntime for the detectors;
  results/speed.md), and on onnxruntime for any device other than the CPU.
- ``device``: ``cpu`` (default). onnxruntime: ``cuda``, ``cuda:1``, ``tensorrt``, ``dml``,
  ``coreml``, ... or a full execution-provider name, when the installed onnxruntime build has it
  (the CPU provider stays as fallback). OpenVINO: any device its ``Core`` lists (``GPU``,
  ``GPU.1``, ``NPU``, ``AUTO``).
- ``threads``: intra-op threads (0: the library decides; None: ``FACEREC_THREADS`` or 0).

Precision is fp32 on every backend and device: OpenVINO is told ``f32`` explicitly, so that it
never switches to bf16 (CPUs with AMX/AVX-512 BF16) or fp16 (GPUs) on its own. Lower precisions
are not offered: none keeps LFW View 2 accuracy reliably within 0.05 points of fp32 for these
models (OpenVINO int8 by NNCF: results/int8.md; onnxruntime int8 and bf16: results/speed.md).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional, Protocol, Sequence

import numpy as np

from facerec.errors import ModelError
from facerec.runtime import resolve_threads

BACKENDS = ("auto", "onnxruntime", "openvino")
DEFAULT_BACKEND = "auto"
SESSION_BACKENDS = ("onnxruntime", "openvino")
"""The libraries a session can actually run on (``auto`` picks one of them per model)."""
DEFAULT_DEVICE = "cpu"


class Session(Protocol):
    """A loaded model: one NCHW float32 input, a list of outputs in the graph's order."""

    backend: str
    device: str
    input_shape: tuple[Optional[int], ...]
    """The input's shape as compiled; None for a dynamic dimension (a None batch can take any batch)."""

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """The model's outputs for input ``x`` (arrays owned by the caller)."""


def default_backend() -> str:
    """The backend used when none is given: ``FACEREC_BACKEND`` if set, else :data:`DEFAULT_BACKEND`."""
    return resolve_backend(None)


def resolve_backend(backend: Optional[str]) -> str:
    """``backend`` checked (None: the default); a one-line :class:`ModelError` for an unknown name."""
    if backend is None:
        env = os.environ.get("FACEREC_BACKEND", "").strip()
        if not env:
            return DEFAULT_BACKEND
        backend, where = env, " (from FACEREC_BACKEND)"
    else:
        where = ""
    name = backend.strip().lower()
    if name not in BACKENDS:
        raise ModelError(f"unknown inference backend {backend!r}{where}; choose one of: {', '.join(BACKENDS)}")
    return name


def session_backend(backend: Optional[str], device: Optional[str] = None, preferred: str = "onnxruntime") -> str:
    """The library that runs a model: ``backend`` resolved, ``auto`` turned into ``preferred`` on the CPU
    (onnxruntime elsewhere)."""
    name = resolve_backend(backend)
    if name != "auto":
        return name
    on_cpu = (device or DEFAULT_DEVICE).strip().lower() == DEFAULT_DEVICE
    if on_cpu and preferred == "openvino" and importlib.util.find_spec("openvino") is not None:
        return "openvino"
    return "onnxruntime"


def open_session(path: Path, *, backend: Optional[str] = None, device: Optional[str] = None,
                 threads: Optional[int] = None, input_shape: Optional[Sequence[Optional[int]]] = None,
                 preferred: str = "onnxruntime") -> Session:
    """A ready session for the ONNX file ``path``; ``preferred``: the model's fastest CPU backend, used by ``auto``.

    ``input_shape`` (None for a dynamic dimension) lets backends that can reshape a model do so:
    OpenVINO compiles e.g. a batch-1 export for any batch size, or a detector for one fixed input
    size; onnxruntime runs the graph as exported.
    """
    name = session_backend(backend, device, preferred)
    n = resolve_threads(threads)
    dev = (device or DEFAULT_DEVICE).strip()
    if name == "openvino":
        from facerec.inference.openvino_session import OpenVinoSession

        return OpenVinoSession(Path(path), device=dev, threads=n, input_shape=input_shape)
    from facerec.inference.onnxruntime_session import OrtSession

    return OrtSession(Path(path), device=dev, threads=n)


def prepare(path: Path, preferred: str, input_shape: Optional[Sequence[Optional[int]]]) -> Optional[Path]:
    """Prepare the ONNX file ``path`` now for the backend ``auto`` runs it on, as a session would at first
    use (``facerec models pull`` calls this, so that a read-only model cache, e.g. one baked into an
    image, needs no writes later); the OpenVINO IR's path, or None when nothing needs preparing."""
    if session_backend("auto", None, preferred) != "openvino":
        return None
    from facerec.inference.openvino_session import cpu_shape, prepared_model

    return prepared_model(Path(path), cpu_shape(input_shape))

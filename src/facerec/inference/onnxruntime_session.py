"""onnxruntime sessions: CPU by default, other execution providers by ``device``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import onnxruntime as ort

from facerec.errors import ModelError

_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
              "tensorrt": "TensorrtExecutionProvider", "rocm": "ROCMExecutionProvider",
              "dml": "DmlExecutionProvider", "coreml": "CoreMLExecutionProvider",
              "openvino": "OpenVINOExecutionProvider"}
"""Short device names -> execution providers (a full provider name is accepted too)."""


def providers_for(device: str) -> list:
    """The provider list for ``device`` (``cuda:1`` -> device_id 1), CPU kept as fallback."""
    base, _, index = device.partition(":")
    provider = _PROVIDERS.get(base.lower(), base)
    available = ort.get_available_providers()
    if provider not in available:
        raise ModelError(f"device {device!r}: onnxruntime provider {provider} is not available in this "
                         f"onnxruntime build (available: {', '.join(available)})")
    if provider == "CPUExecutionProvider":
        return [provider]
    if index and not index.isdigit():
        raise ModelError(f"device {device!r}: expected NAME or NAME:INDEX, e.g. cuda:0")
    first = (provider, {"device_id": int(index)}) if index else provider
    return [first, "CPUExecutionProvider"]


class OrtSession:
    """An ``onnxruntime.InferenceSession`` with full graph optimisation and quiet logs."""

    backend = "onnxruntime"

    def __init__(self, path: Path, device: str = "cpu", threads: int = 0) -> None:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.device = device
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers_for(device))
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self.input_shape: tuple[Optional[int], ...] = tuple(d if isinstance(d, int) else None for d in inp.shape)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self._input: x})

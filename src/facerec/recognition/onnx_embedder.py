"""Embedders that are ONNX graphs (ArcFace MobileFaceNet, SFace, FaceNet-128 converted), run by
onnxruntime or OpenVINO (:mod:`facerec.inference`)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.models.registry import ModelSpec
from facerec.recognition.base import Embedder, to_input_tensor
from facerec.inference import open_session


def session_shape(spec: ModelSpec) -> tuple[Optional[int], int, int, int]:
    """The input shape an embedder's session is opened for: any batch of ``spec.input_size`` crops."""
    width, height = spec.input_size
    return (None, 3, height, width)


class OnnxEmbedder(Embedder):
    """Any registry embedder whose file is an ONNX graph taking NCHW float32."""

    def __init__(self, spec: ModelSpec, model_path: Path, flip: bool = False, threshold: Optional[float] = None,
                 threads: Optional[int] = None, backend: Optional[str] = None, device: Optional[str] = None) -> None:
        super().__init__(spec, flip, threshold)
        self.session = open_session(model_path, backend=backend, device=device, threads=threads,
                                    input_shape=session_shape(spec),  # any batch where the backend can
                                    preferred=spec.cpu_backend)
        self._fixed_batch = self.session.input_shape[0] == 1  # SFace's export, under onnxruntime

    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        batch = to_input_tensor(crops, self.spec)
        if self._fixed_batch:  # e.g. SFace is exported with batch size 1
            return np.concatenate([self.session.run(batch[i:i + 1])[0] for i in range(len(batch))])
        return self.session.run(batch)[0]

"""Embedders run by onnxruntime: ArcFace MobileFaceNet, SFace, FaceNet-128 (converted)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.models.registry import ModelSpec
from facerec.recognition.base import Embedder, to_input_tensor
from facerec.runtime import onnx_session


class OnnxEmbedder(Embedder):
    """Any registry embedder whose file is an ONNX graph taking NCHW float32."""

    def __init__(self, spec: ModelSpec, model_path: Path, flip: bool = False, threads: Optional[int] = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.dim = spec.dim
        self.input_size = spec.input_size
        self.flip = flip
        self.session = onnx_session(model_path, threads)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._fixed_batch = isinstance(inp.shape[0], int) and inp.shape[0] == 1

    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        batch = to_input_tensor(crops, self.spec)
        if self._fixed_batch:  # e.g. SFace is exported with batch size 1
            return np.concatenate([self.session.run(None, {self._input: batch[i:i + 1]})[0]
                                   for i in range(len(batch))])
        return self.session.run(None, {self._input: batch})[0]

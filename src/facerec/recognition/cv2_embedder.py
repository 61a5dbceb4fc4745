"""Embedders run by OpenCV's DNN module: FaceNet-512 (davidsandberg 20180408-102900, frozen TF graph)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from facerec.errors import ModelError
from facerec.models.registry import ModelSpec
from facerec.recognition.base import Embedder, to_input_tensor

TF_GRAPH_OPENCV = "OpenCV 4.8 (pip install 'opencv-python-headless<4.9' 'numpy<2')"
"""The OpenCV that still reads this graph: 4.9 to 4.14 fail in the TensorFlow importer's graph simplifier
(``simplifySubgraphs``), and OpenCV 5 has no TensorFlow importer at all (found when the lock took the
newest versions, 2026-12-02)."""

OUTPUT_LAYER = "embeddings"
"""The graph's output node (already L2-normalised by the graph, we normalise again anyway)."""


class Cv2DnnEmbedder(Embedder):
    """A frozen TensorFlow graph read by ``cv2.dnn.readNetFromTensorflow``.

    The graph takes one prewhitened RGB 160x160 image at a time (NCHW blob) and its
    ``embeddings`` node gives a 512-D vector; batches are run image by image.
    """

    def __init__(self, spec: ModelSpec, model_path: Path, flip: bool = False, threshold: Optional[float] = None) -> None:
        super().__init__(spec, flip, threshold)
        read = getattr(cv2.dnn, "readNetFromTensorflow", None)
        if read is None:
            raise ModelError(f"model {spec.name!r}: OpenCV {cv2.__version__} has no TensorFlow importer; "
                             f"this graph needs {TF_GRAPH_OPENCV}")
        try:
            self.net = read(str(model_path))
        except cv2.error as exc:
            why = str(exc).strip().splitlines()[-1]
            hint = f" (this graph needs {TF_GRAPH_OPENCV})" if "simplifySubgraphs" in why else ""
            raise ModelError(f"model {spec.name!r}: OpenCV {cv2.__version__} cannot read {model_path}: "
                             f"{why}{hint}") from None

    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        batch = to_input_tensor(crops, self.spec)
        out = np.empty((len(batch), self.dim), dtype=np.float32)
        for i in range(len(batch)):
            self.net.setInput(batch[i:i + 1])
            out[i] = self.net.forward(OUTPUT_LAYER).reshape(-1)
        return out

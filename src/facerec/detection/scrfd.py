"""SCRFD (InsightFace) with our own anchor decoding, run by onnxruntime or OpenVINO."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from facerec.detection.base import Detector, nms
from facerec.inference import open_session
from facerec.models.registry import get_spec
from facerec.types import Detection


class SCRFDDetector(Detector):
    """SCRFD-500M with keypoints. The image is letterboxed into ``input_size`` (top-left anchored)."""

    name = "scrfd"
    model = "scrfd_500m"
    strides = (8, 16, 32)
    anchors_per_cell = 2

    def __init__(self, model_path: Path, input_size: int = 640, score_threshold: float = 0.5,
                 nms_threshold: float = 0.4, threads: Optional[int] = None, backend: Optional[str] = None,
                 device: Optional[str] = None) -> None:
        self.input_size = input_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.session = open_session(model_path, backend=backend, device=device, threads=threads,
                                    input_shape=(1, 3, input_size, input_size),
                                    preferred=get_spec(self.model).cpu_backend)
        self._centers: dict[tuple[int, int, int], np.ndarray] = {}

    def _anchor_centers(self, height: int, width: int, stride: int) -> np.ndarray:
        key = (height, width, stride)
        if key not in self._centers:
            ys, xs = np.mgrid[:height, :width]
            centers = (np.stack([xs, ys], axis=-1).astype(np.float32) * stride).reshape(-1, 2)
            self._centers[key] = np.repeat(centers, self.anchors_per_cell, axis=0)
        return self._centers[key]

    def input_blob(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The network's input for a BGR image (letterboxed into ``input_size``, top-left anchored,
        normalised, NCHW RGB) and the scale from image to input pixels."""
        h, w = image.shape[:2]
        size = self.input_size
        scale = min(size / h, size / w)
        nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return cv2.dnn.blobFromImage(canvas, 1.0 / 128, (size, size), (127.5, 127.5, 127.5), swapRB=True), scale

    def detect(self, image: np.ndarray) -> list[Detection]:
        size = self.input_size
        blob, scale = self.input_blob(image)
        outputs = self.session.run(blob)
        n = len(self.strides)
        boxes, scores, kpss = [], [], []
        for idx, stride in enumerate(self.strides):
            score = outputs[idx].reshape(-1)
            dist = outputs[idx + n].reshape(-1, 4) * stride
            kps = outputs[idx + 2 * n].reshape(-1, 10) * stride
            centers = self._anchor_centers(size // stride, size // stride, stride)
            keep = np.where(score >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            c = centers[keep]
            d = dist[keep]
            boxes.append(np.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], axis=1))
            k = kps[keep].reshape(-1, 5, 2) + c[:, None, :]
            kpss.append(k)
            scores.append(score[keep])
        if not boxes:
            return []
        all_boxes = np.concatenate(boxes) / scale
        all_scores = np.concatenate(scores)
        all_kps = np.concatenate(kpss) / scale
        keep_idx = nms(all_boxes, all_scores, self.nms_threshold)
        return [Detection(bbox=all_boxes[i].astype(np.float32), score=float(all_scores[i]),
                          landmarks=all_kps[i].astype(np.float32)) for i in keep_idx]

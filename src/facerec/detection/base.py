"""The detector interface: a BGR image -> every face with box, score and 5 landmarks."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional

import numpy as np

from facerec.types import Detection


class Detector(ABC):
    """Finds faces in BGR uint8 images of any size."""

    name: str
    """The detector's name in ``build_detector``'s vocabulary (``scrfd``, ``yunet``, ``dlib_hog``)."""
    model: Optional[str] = None
    """The registry model holding its weights (``scrfd_500m``, ``yunet``), None when it has none of its own."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Detection]:
        """All faces, highest score first, in the image's own pixel coordinates."""


class MinFaceSize(Detector):
    """Another detector's faces whose box is at least ``min_face`` pixels on its shorter side."""

    def __init__(self, inner: Detector, min_face: int) -> None:
        self.inner, self.min_face = inner, int(min_face)
        self.name = getattr(inner, "name", type(inner).__name__)

    def detect(self, image: np.ndarray) -> list[Detection]:
        return [d for d in self.inner.detect(image)
                if min(d.bbox[2] - d.bbox[0], d.bbox[3] - d.bbox[1]) >= self.min_face]

    def __getattr__(self, name: str):  # the wrapped detector's settings (input_size, session, ...)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = scores.argsort()[::-1]
    keep: list[int] = []
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    while order.size:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][iou <= iou_threshold]
    return keep

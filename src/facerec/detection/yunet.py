"""YuNet (OpenCV Zoo) through ``cv2.FaceDetectorYN``."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facerec.detection.base import Detector
from facerec.types import Detection


class YuNetDetector(Detector):
    """YuNet 2023mar. Images larger than ``max_side`` are downscaled for detection only."""

    name = "yunet"
    model = "yunet"

    def __init__(self, model_path: Path, score_threshold: float = 0.6, nms_threshold: float = 0.3,
                 max_side: int = 640) -> None:
        self.max_side = max_side
        self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold,
                                              nms_threshold, 5000)
        self._size = (320, 320)

    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        work = image if scale == 1.0 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                     interpolation=cv2.INTER_AREA)
        size = (work.shape[1], work.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(work)
        out: list[Detection] = []
        if faces is None:
            return out
        for row in faces:
            if not _plausible(row, size):
                continue
            x, y, bw, bh = row[:4] / scale
            lms = row[4:14].reshape(5, 2) / scale
            out.append(Detection(bbox=np.array([x, y, x + bw, y + bh], dtype=np.float32),
                                 score=float(row[14]), landmarks=lms.astype(np.float32)))
        out.sort(key=lambda d: -d.score)
        return out


def _plausible(row: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether a YuNet row is a box at all: finite, at least a pixel each way, centred inside the image.

    OpenCV 4.14's YuNet, given a blank image, returns rows at random (a fresh run, a different answer):
    inf/nan or huge coordinates with score 1.0, and now and then a finite box of a face's proportions
    centred off the image (on 300x5 black pixels: 62x82 px at x = -19, score 0.95)."""
    if not np.isfinite(row[:15]).all():
        return False
    x, y, bw, bh = (float(v) for v in row[:4])
    return bw >= 1 and bh >= 1 and 0 <= x + bw / 2 < size[0] and 0 <= y + bh / 2 < size[1]

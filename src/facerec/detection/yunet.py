"""YuNet (OpenCV Zoo) through ``cv2.FaceDetectorYN``."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facerec.detection.base import Detector
from facerec.types import Detection


MIN_SIDE = 64
"""Images with a side under this are padded to it. OpenCV 4.14's YuNet reads memory it never wrote when a
side is 32 px or less: on such blank images it returned rows about half the time (inf/nan, huge, or a
face-sized box of score 0.95-1.0), with a fresh detector as with a reused one; at 40 px and more, or padded
to 64, none in 100 tries of each size."""


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
        if min(size) < MIN_SIDE:  # zeros below and to the right: the boxes keep their coordinates
            work = cv2.copyMakeBorder(work, 0, max(0, MIN_SIDE - size[1]), 0, max(0, MIN_SIDE - size[0]),
                                      cv2.BORDER_CONSTANT, value=0)
        net_size = (work.shape[1], work.shape[0])
        if net_size != self._size:
            self._net.setInputSize(net_size)
            self._size = net_size
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

    A guard behind :data:`MIN_SIDE`'s padding: the garbage rows OpenCV 4.14's YuNet gave on slivers were
    inf/nan or huge coordinates, or finite boxes centred off the image or in the padding."""
    if not np.isfinite(row[:15]).all():
        return False
    x, y, bw, bh = (float(v) for v in row[:4])
    return bw >= 1 and bh >= 1 and 0 <= x + bw / 2 < size[0] and 0 <= y + bh / 2 < size[1]

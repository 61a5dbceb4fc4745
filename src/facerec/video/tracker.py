"""Face tracking between detections: IoU matching + a constant-velocity Kalman filter, as SORT and
ByteTrack do (OpenCV's ``cv2.KalmanFilter``, SciPy's Hungarian ``linear_sum_assignment``).

Every frame each track is predicted one step (that is the box drawn on frames without a
detection); on detection frames predictions and detections are matched by IoU, matched tracks are
corrected, unmatched detections start tracks and tracks unmatched for ``max_misses`` detection
rounds end. The state is ``[cx, cy, w, h]`` and its velocities; noise scales with the face height
(ByteTrack's choice), so small and large faces are tracked alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np

from facerec.types import Detection

STD_POSITION = 1.0 / 20
STD_VELOCITY = 1.0 / 160


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (n, 4) and ``b`` (m, 4), ``[x1, y1, x2, y2]``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _kalman(box: np.ndarray) -> cv2.KalmanFilter:
    kf = cv2.KalmanFilter(8, 4)
    kf.transitionMatrix = np.eye(8, dtype=np.float32)
    for i in range(4):
        kf.transitionMatrix[i, i + 4] = 1.0
    kf.measurementMatrix = np.eye(4, 8, dtype=np.float32)
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    kf.statePost = np.array([[x1 + w / 2], [y1 + h / 2], [w], [h], [0], [0], [0], [0]], np.float32)
    std = [2 * STD_POSITION * h] * 4 + [10 * STD_VELOCITY * h] * 4
    kf.errorCovPost = np.diag(np.square(std)).astype(np.float32)
    return kf


def _state_box(state: np.ndarray) -> np.ndarray:
    cx, cy, w, h = (float(v) for v in state[:4, 0])
    w, h = max(w, 1.0), max(h, 1.0)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


@dataclass
class Track:
    """One face followed over frames."""

    id: int
    kf: cv2.KalmanFilter = field(repr=False)
    box: np.ndarray
    first_frame: int
    last_frame: int
    """The last frame the face was detected on."""
    detection: Optional[Detection] = None
    """The detection matched on the latest detection frame (None when it was missed)."""
    hits: int = 1
    misses: int = 0
    last_box: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    """The box of the latest detection."""
    _before: tuple = field(default=(), repr=False)
    """``(last_frame, last_box)`` before the latest correction, restored by :meth:`Tracker.split`."""

    def __post_init__(self) -> None:
        if self.last_box is None:
            self.last_box = np.asarray(self.box, np.float32).copy()

    def predict(self) -> np.ndarray:
        h = float(self.kf.statePost[3, 0])
        std = [STD_POSITION * h] * 4 + [STD_VELOCITY * h] * 4
        self.kf.processNoiseCov = np.diag(np.square(std)).astype(np.float32)
        self.box = _state_box(self.kf.predict())
        return self.box

    def correct(self, det: Detection, frame: int) -> None:
        x1, y1, x2, y2 = (float(v) for v in det.bbox)
        h = max(y2 - y1, 1.0)
        self.kf.measurementNoiseCov = np.diag(np.square([STD_POSITION * h] * 4)).astype(np.float32)
        meas = np.array([[x1 + (x2 - x1) / 2], [y1 + h / 2], [x2 - x1], [h]], np.float32)
        self.box = _state_box(self.kf.correct(meas))
        self._before = (self.last_frame, self.last_box)
        self.detection = det
        self.last_box = np.asarray(det.bbox, np.float32).copy()
        self.last_frame = frame
        self.hits += 1
        self.misses = 0


class Tracker:
    """SORT-style multi-face tracker (see the module docstring)."""

    def __init__(self, iou_threshold: float = 0.2, max_misses: int = 3) -> None:
        self.iou_threshold = iou_threshold
        self.max_misses = max_misses
        self.tracks: list[Track] = []
        self._next_id = 1

    def predict(self) -> list[Track]:
        """Advance every track one frame; returns the live tracks."""
        for t in self.tracks:
            t.predict()
        return self.tracks

    def update(self, detections: Sequence[Detection], frame: int) -> tuple[list[Track], list[Track]]:
        """Match this frame's detections (after :meth:`predict`); returns ``(live, ended)`` tracks."""
        from scipy.optimize import linear_sum_assignment

        dets = list(detections)
        for t in self.tracks:
            t.detection = None
        matched_t, matched_d = set(), set()
        if self.tracks and dets:
            iou = iou_matrix(np.stack([t.box for t in self.tracks]), np.stack([d.bbox for d in dets]))
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou_threshold:
                    self.tracks[r].correct(dets[c], frame)
                    matched_t.add(r)
                    matched_d.add(c)
        ended = []
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.misses += 1
                if t.misses > self.max_misses:
                    ended.append(t)
        self.tracks = [t for t in self.tracks if t not in ended]
        for j, d in enumerate(dets):
            if j not in matched_d:
                self.tracks.append(Track(id=self._next_id, kf=_kalman(d.bbox), box=np.asarray(d.bbox, np.float32),
                                         first_frame=frame, last_frame=frame, detection=d))
                self._next_id += 1
        return self.tracks, ended

    def split(self, track: Track, frame: int) -> Track:
        """End ``track`` as it was before this frame's detection and start a new track from that
        detection (an identity check found another person in the same place, as after a hard cut)."""
        det = track.detection
        assert det is not None, "only a track matched on this frame can be split"
        if track._before:
            track.last_frame, track.last_box = track._before
        track.hits -= 1
        track.detection = None
        new = Track(id=self._next_id, kf=_kalman(det.bbox), box=np.asarray(det.bbox, np.float32),
                    first_frame=frame, last_frame=frame, detection=det)
        self._next_id += 1
        self.tracks = [new if t is track else t for t in self.tracks]
        return new

    def close(self) -> list[Track]:
        """End every live track (end of the video)."""
        ended, self.tracks = self.tracks, []
        return ended

"""dlib's HOG frontal face detector plus a dlib shape predictor for our 5 ArcFace-order landmarks."""
from __future__ import annotations

from typing import Literal, Optional

import numpy as np

from facerec.detection.base import Detector
from facerec.errors import ModelError
from facerec.models.dlib_support import import_dlib, rgb, shape_points, shape_predictor
from facerec.models.store import ModelStore
from facerec.types import Detection

LandmarkModel = Literal["68", "5"]

# Where the nose tip and the mouth corners sit, given dlib's 5-point shape (eye corners and the
# bottom of the nose). Frame: origin at the eye midpoint, x along the line from the image-left to
# the image-right eye centre, y perpendicular to it (down the face), unit = the eye distance.
# (nx, ny) is the nose-bottom point in that frame. Least-squares fit of dlib's 68-point
# predictions (points 30, 48, 54) on 597 LFW faces; residual std about 0.04 (nose) and
# 0.1 (mouth) eye distances.
NOSE_TIP_X = 1.454       # tip x = 1.454 * nx (the tip moves more with yaw than the nose base)
NOSE_TIP_Y = (-0.325, 1.128)   # tip y = -0.325 + 1.128 * ny
MOUTH_X = (0.46, 0.165)  # corner x = -/+ 0.46 + 0.165 * nx (image-left corner first)
MOUTH_Y = (0.567, 0.695)  # corner y = 0.567 + 0.695 * ny


def landmarks_from_68(points: np.ndarray) -> np.ndarray:
    """Our 5 landmarks from dlib's 68: eye centres (36-41, 42-47), nose tip (30), mouth corners (48, 54)."""
    p = np.asarray(points, dtype=np.float32)
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]).astype(np.float32)


def landmarks_from_5(points: np.ndarray) -> np.ndarray:
    """Our 5 landmarks from dlib's 5-point shape (0-1: image-right eye corners, 2-3: image-left eye
    corners, 4: nose bottom): eye centres are the corner midpoints, nose tip and mouth corners come
    from the fixed geometry above."""
    p = np.asarray(points, dtype=np.float64)
    left_eye, right_eye = (p[2] + p[3]) / 2, (p[0] + p[1]) / 2
    mid = (left_eye + right_eye) / 2
    ex = right_eye - left_eye
    dist = float(np.linalg.norm(ex)) or 1.0
    ex = ex / dist
    ey = np.array([-ex[1], ex[0]])
    nx, ny = ((p[4] - mid) @ ex) / dist, ((p[4] - mid) @ ey) / dist

    def at(x: float, y: float) -> np.ndarray:
        return mid + dist * (x * ex + y * ey)

    mouth_y = MOUTH_Y[0] + MOUTH_Y[1] * ny
    return np.stack([
        left_eye, right_eye,
        at(NOSE_TIP_X * nx, NOSE_TIP_Y[0] + NOSE_TIP_Y[1] * ny),
        at(-MOUTH_X[0] + MOUTH_X[1] * nx, mouth_y),
        at(MOUTH_X[0] + MOUTH_X[1] * nx, mouth_y),
    ]).astype(np.float32)


class DlibHogDetector(Detector):
    """dlib ``get_frontal_face_detector()`` (HOG + linear SVM, frontal faces of about 80 px and up
    after ``upsample`` doublings) with 5 landmarks from the 5-point predictor plus the fixed
    geometry above (default) or from the 68-point predictor. Needs the ``dlib`` extra. Scores are
    the SVM margins (0 = the detector's threshold).

    The default is the 5-point model: on LFW View 1 (pairsDevTrain) with arcface_mbf it gave
    99.32% against 99.23% for the 68-point one (bench/calibrate_extra_models.py --hog), and it
    is CC0 and 9 MB where the 68-point model is 100 MB and for research use only.
    """

    name = "dlib_hog"
    runtime = "dlib"

    def __init__(self, store: Optional[ModelStore] = None, upsample: int = 1,
                 landmarks: LandmarkModel = "5", adjust_threshold: float = 0.0) -> None:
        dlib = import_dlib()
        if str(landmarks) not in ("68", "5"):
            raise ModelError(f"dlib_hog landmarks must be '68' or '5', not {landmarks!r}")
        store = store or ModelStore()
        self.upsample = int(upsample)
        self.adjust_threshold = float(adjust_threshold)
        self.landmark_model = str(landmarks)
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = shape_predictor(store, "dlib_shape68" if self.landmark_model == "68" else "dlib_shape5")
        self._to_five = landmarks_from_68 if self.landmark_model == "68" else landmarks_from_5

    def detect(self, image: np.ndarray) -> list[Detection]:
        img = rgb(image)
        rects, scores, _ = self.detector.run(img, self.upsample, self.adjust_threshold)
        out = []
        for rect, score in zip(rects, scores):
            points = shape_points(self.predictor(img, rect))
            bbox = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float32)
            out.append(Detection(bbox=bbox, score=float(score), landmarks=self._to_five(points)))
        return sorted(out, key=lambda d: -d.score)

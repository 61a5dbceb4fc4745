"""dlib's own aligned face chips (the point/box/colour conversions dlib needs: models.dlib_support).

dlib's ResNet embedder was trained on ``dlib.get_face_chip`` crops: its 5-point shape
predictor (eye corners, nose bottom) is run in a box derived from our 5 landmarks, then the
chip is cut with dlib's padding. Needs the ``dlib`` extra.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from facerec.models.dlib_support import import_dlib, rgb, shape_predictor, to_rectangle
from facerec.models.store import ModelStore

CHIP_PADDING = 0.25
"""dlib's default padding around the face in ``get_face_chip`` (what the network was trained on)."""
BOX_ALONG = 0.45
"""A dlib-HOG-like box is centred this far from the eye midpoint towards the mouth midpoint
(in units of the eye-to-mouth distance); median fitted on 296 LFW faces (SCRFD vs dlib HOG)."""
BOX_SIZE = 2.4
"""The side of that box in units of the eye-to-mouth distance (same fit)."""


def box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """A square box like dlib's HOG detector would give, from our 5 ArcFace-order landmarks."""
    lm = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    eyes, mouth = lm[:2].mean(0), lm[3:].mean(0)
    span = float(np.linalg.norm(mouth - eyes))
    if span < 1e-3:  # degenerate landmarks: fall back on the eye distance
        span = float(np.linalg.norm(lm[1] - lm[0])) or 1.0
    centre = eyes + BOX_ALONG * (mouth - eyes)
    half = BOX_SIZE * span / 2.0
    return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half], dtype=np.float32)


class DlibChipper:
    """Cuts dlib's ``size`` x ``size`` aligned chips for faces given by our 5 landmarks."""

    def __init__(self, store: Optional[ModelStore] = None, landmarks_model: str = "dlib_shape5",
                 size: int = 150) -> None:
        self._dlib = import_dlib()
        self.predictor = shape_predictor(store or ModelStore(), landmarks_model)
        self.size = int(size)

    def chip_rgb(self, image_rgb: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """dlib's aligned RGB chip for the face in ``bbox`` of an RGB image."""
        shape = self.predictor(image_rgb, to_rectangle(bbox))
        return self._dlib.get_face_chip(image_rgb, shape, self.size, CHIP_PADDING)

    def chips(self, image: np.ndarray, landmarks: list[np.ndarray] | tuple) -> list[np.ndarray]:
        """BGR chips (views, not copies) of every face of a BGR image."""
        img = rgb(image)
        return [self.chip_rgb(img, box_from_landmarks(lm))[..., ::-1] for lm in landmarks]

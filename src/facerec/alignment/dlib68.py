"""The original tutorial's alignment: an affine warp of dlib's 68 landmarks onto OpenFace's template.

OpenFace's ``AlignDlib`` maps three landmarks, the inner eye corners (39, 42) and the middle of
the bottom lip (57), onto the mean-face template min-max normalised to the unit square and scaled
to the crop size (``cv2.getAffineTransform``, three points, so an exact affine fit). Only the
numbers this needs are kept: the three template points and the template's bounding box.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from facerec.models.store import ModelStore

INNER_EYES_AND_BOTTOM_LIP = (39, 42, 57)
"""dlib 68-point indices: image-left eye's inner corner, image-right eye's inner corner, bottom lip centre."""

TEMPLATE_POINTS = np.array(
    [[0.403718978315, 0.33867711083],    # point 39
     [0.631326076346, 0.334136672344],   # point 42
     [0.525398405766, 0.841706377792]],  # point 57
    dtype=np.float64,
)
"""OpenFace's mean 68-point face (openface/align_dlib.py ``TEMPLATE``) at the three points used."""
TEMPLATE_MIN = np.array([0.0792396913815, 0.182360984545])
"""Smallest x (point 0, jaw) and y (point 24, brow) of the full OpenFace template."""
TEMPLATE_MAX = np.array([0.971193274221, 1.06080371126])
"""Largest x (point 16, jaw) and y (point 8, chin) of the full OpenFace template."""


def minmax_template(size: int) -> np.ndarray:
    """Where points 39, 42 and 57 go in a ``size`` x ``size`` crop (OpenFace's ``imgDim * MINMAX_TEMPLATE``)."""
    return (size * (TEMPLATE_POINTS - TEMPLATE_MIN) / (TEMPLATE_MAX - TEMPLATE_MIN)).astype(np.float32)


def align_inner_eyes_bottom_lip(img: np.ndarray, landmarks68: np.ndarray, size: int = 96) -> np.ndarray:
    """The ``size`` x ``size`` crop with the inner eye corners and bottom lip on OpenFace's template.

    ``landmarks68`` is dlib's (68, 2) array in ``img``'s pixel coordinates; ``img`` keeps its
    channel order (BGR in, BGR out).
    """
    points = np.asarray(landmarks68, dtype=np.float32).reshape(-1, 2)
    if points.shape[0] != 68:
        raise ValueError(f"expected 68 landmarks, got {points.shape[0]}")
    src = points[list(INNER_EYES_AND_BOTTOM_LIP)]
    matrix = cv2.getAffineTransform(src, minmax_template(size))
    return cv2.warpAffine(img, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def landmarks68(img: np.ndarray, bbox: np.ndarray, store: Optional[ModelStore] = None) -> np.ndarray:
    """dlib's 68 landmarks, (68, 2), for the face in ``bbox`` of a BGR image (needs the ``dlib`` extra)."""
    from facerec.models.dlib_support import rgb, shape_points, shape_predictor, to_rectangle

    predictor = shape_predictor(store or ModelStore(), "dlib_shape68")
    return shape_points(predictor(rgb(img), to_rectangle(bbox)))

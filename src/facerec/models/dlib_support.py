"""Shared dlib plumbing: the optional import, shape predictors from the model store, point conversions."""
from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from facerec.errors import ModelError
from facerec.models.store import ModelStore

INSTALL_HINT = "pip install 'facerec[dlib]'"

BOX_ALONG = 0.45
"""A dlib-HOG-like box is centred this far from the eye midpoint towards the mouth midpoint
(in units of the eye-to-mouth distance); median fitted on 296 LFW faces (SCRFD vs dlib HOG)."""
BOX_SIZE = 2.4
"""The side of that box in units of the eye-to-mouth distance (same fit)."""


def import_dlib() -> ModuleType:
    """The ``dlib`` module, or a :class:`ModelError` saying how to install it."""
    try:
        import dlib
    except ImportError:
        raise ModelError(f"dlib is not installed; it is an optional extra: {INSTALL_HINT}") from None
    return dlib


@lru_cache(maxsize=8)
def _predictor(path: str) -> Any:
    return import_dlib().shape_predictor(path)


def shape_predictor(store: ModelStore, name: str) -> Any:
    """A ``dlib.shape_predictor`` for registry model ``name`` (``dlib_shape5``/``dlib_shape68``), loaded once."""
    import_dlib()
    return _predictor(str(store.path(name)))


def to_rectangle(bbox: np.ndarray) -> Any:
    """Our ``[x1, y1, x2, y2]`` box as a ``dlib.rectangle`` (integer pixels)."""
    x1, y1, x2, y2 = (int(round(float(v))) for v in bbox)
    return import_dlib().rectangle(x1, y1, x2, y2)


def shape_points(shape: Any) -> np.ndarray:
    """A ``dlib.full_object_detection``'s parts as an ``(n, 2)`` float32 array."""
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


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


def rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous RGB copy of a BGR uint8 image, the layout dlib wants."""
    return np.ascontiguousarray(image[..., ::-1])

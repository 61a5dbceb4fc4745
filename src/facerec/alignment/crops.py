"""The aligned crop an embedder expects: its input size, and its face size on the ArcFace template."""
from __future__ import annotations

from typing import Optional

import numpy as np

from facerec.alignment.similarity import align_face
from facerec.models.registry import ModelSpec


def crop_for(image: np.ndarray, landmarks: np.ndarray, size: tuple[int, int],
             spec: Optional[ModelSpec] = None) -> np.ndarray:
    """The ``size`` crop of the face with these 5 landmarks, zoomed as the model ``spec`` says (``align_zoom``)."""
    zoom = spec.align_zoom if spec is not None else 1.0
    return align_face(image, landmarks, size, zoom=zoom)

"""The embedder interface: a batch of aligned face crops -> L2-normalised float32 vectors."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Sequence

import cv2
import numpy as np

from facerec.alignment.crops import crop_for
from facerec.errors import ModelError
from facerec.models.reference import FLIP_SUFFIX
from facerec.models.registry import ModelSpec


def l2_normalize(x: np.ndarray, axis: int = -1, dtype: type = np.float32) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as ``dtype``: the one vector normalisation."""
    x = np.asarray(x, dtype=dtype)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(dtype)


def to_input_tensor(crops: Sequence[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """BGR uint8 crops -> NCHW float32 tensor with the model's colour order and normalisation."""
    width, height = spec.input_size
    batch = np.empty((len(crops), 3, height, width), dtype=np.float32)
    for i, crop in enumerate(crops):
        if crop.shape[:2] != (height, width):
            crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
        img = crop[..., ::-1] if spec.color == "RGB" else crop
        x = img.astype(np.float32)
        if spec.normalization == "arcface":
            x = (x - 127.5) / 127.5
        elif spec.normalization == "prewhiten":
            x = prewhiten(x)
        elif spec.normalization == "fixed":  # FaceNet 2018 models' fixed image standardisation
            x = (x - 127.5) / 128.0
        batch[i] = x.transpose(2, 0, 1)
    return batch


def prewhiten(x: np.ndarray) -> np.ndarray:
    """FaceNet's per-image standardisation: zero mean, unit variance (std floored at 1/sqrt(n))."""
    mean = x.mean()
    std = max(float(x.std()), 1.0 / np.sqrt(x.size))
    return ((x - mean) / std).astype(np.float32)


class Embedder(ABC):
    """Maps aligned face crops (BGR uint8, ``input_size`` or resized to it) to unit vectors.

    Subclasses implement :meth:`_forward` on an already-preprocessed batch or on raw crops.
    ``flip=True`` adds horizontal-flip test-time augmentation (mean of both views).
    """

    name: str
    dim: int
    input_size: tuple[int, int]
    spec: Optional[ModelSpec] = None
    flip: bool = False
    threshold_override: Optional[float] = None
    """The pipeline's own calibrated threshold (a profile's), used instead of the registry's."""

    def __init__(self, spec: ModelSpec, flip: bool = False, threshold: Optional[float] = None) -> None:
        """The settings every registry embedder shares: its spec, flip augmentation, threshold override."""
        self.spec = spec
        self.name = spec.name
        self.dim = spec.dim
        self.input_size = spec.input_size
        self.flip = flip
        self.threshold_override = threshold

    @property
    def id(self) -> str:
        """Identifies the vector space: vectors with different ids must never be compared."""
        return self.name + (FLIP_SUFFIX if self.flip else "")

    @property
    def threshold(self) -> float:
        """Default cosine-similarity threshold for 'same person' (the one given, else the calibrated one)."""
        if self.threshold_override is not None:
            return float(self.threshold_override)
        return self.calibrated_threshold()

    def calibrated_threshold(self) -> float:
        """The model's own threshold (from its registry entry)."""
        if self.spec is None or self.spec.threshold is None:
            raise ModelError(f"embedder {self.name} has no calibrated threshold; pass one with --threshold")
        return float(self.spec.threshold)

    @abstractmethod
    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (unnormalised) embeddings of BGR crops, shape (n, dim)."""

    def align(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The aligned crop this embedder expects for a face with these 5 landmarks."""
        return crop_for(image, landmarks, self.input_size, self.spec)

    def embed_faces(self, image: np.ndarray, landmarks: Sequence[np.ndarray]) -> np.ndarray:
        """Align every face of ``image`` and embed them in one batch: (n, dim)."""
        return self.embed_images([(image, landmarks)])

    def embed_images(self, items: Sequence[tuple[np.ndarray, Sequence[np.ndarray]]]) -> np.ndarray:
        """Every face of several images, ``(image, landmarks of its faces)``, aligned and embedded in
        one batch: rows in order, image by image (the same vectors as one image at a time)."""
        return self.embed([self.align(image, lm) for image, lms in items for lm in lms])

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """L2-normalised float32 embeddings, shape (n, dim); an empty batch gives (0, dim)."""
        crops = list(crops)
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        feats = l2_normalize(self._forward(crops))
        if self.flip:
            flipped = l2_normalize(self._forward([np.ascontiguousarray(c[:, ::-1]) for c in crops]))
            feats = l2_normalize(feats + flipped)
        return feats


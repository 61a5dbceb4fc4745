"""Typed results that flow through the pipeline: detections, then faces with embeddings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

import numpy as np


@dataclass
class Detection:
    """One detected face: box ``[x1, y1, x2, y2]`` in pixels, confidence, 5 landmarks (x, y).

    Landmark order: the subject's right eye (image left), left eye, nose tip,
    right mouth corner, left mouth corner, the order of the ArcFace template.
    """

    bbox: np.ndarray
    score: float
    landmarks: Optional[np.ndarray] = None

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.bbox
        return float(max(0.0, x2 - x1) * max(0.0, y2 - y1))

    def to_dict(self) -> dict:
        out = {"bbox": [round(float(v), 2) for v in self.bbox], "score": round(float(self.score), 4)}
        if self.landmarks is not None:
            out["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]
        return out


@dataclass
class Face(Detection):
    """A detection plus its aligned crop and its L2-normalised embedding."""

    embedding: Optional[np.ndarray] = None
    crop: Optional[np.ndarray] = field(default=None, repr=False)
    fallback: bool = False
    """True when no face was detected and a centred crop stood in (only when asked for)."""
    quality: Optional[float] = None
    """Face quality in [0, 1] (:mod:`facerec.quality`); 0 for a centred-crop fallback."""

    @property
    def normed_embedding(self) -> Optional[np.ndarray]:
        """Alias matching insightface's attribute name."""
        return self.embedding

    def __repr__(self) -> str:
        """One short line: box, score, quality and the embedding's size, never its every float."""
        box = ", ".join(f"{float(v):.0f}" for v in self.bbox)
        parts = [f"bbox=[{box}]", f"score={float(self.score):.3f}"]
        if self.quality is not None:
            parts.append(f"quality={float(self.quality):.2f}")
        if self.embedding is not None:
            parts.append(f"embedding=<{len(self.embedding)}-d>")
        if self.fallback:
            parts.append("fallback=True")
        return f"Face({', '.join(parts)})"

    def to_dict(self, with_embedding: bool = False) -> dict:
        out = super().to_dict()
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 4)
        if self.fallback:
            out["fallback"] = True
        if with_embedding and self.embedding is not None:
            out["embedding"] = [round(float(v), 6) for v in self.embedding]
        return out


class Progress(Protocol):
    """How long jobs report: ``progress(done, total)`` once with ``done=0`` before work starts, then
    after each step; ``total`` is None while unknown, ``label`` names the part (a file being fetched)."""

    def __call__(self, done: int, total: Optional[int], label: str = "") -> None: ...

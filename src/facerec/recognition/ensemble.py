"""Ensembles: weighted concatenation of normalised embeddings from several models, re-normalised.

With weights w_i, member vectors are scaled by sqrt(w_i / sum w) before concatenation, so the
ensemble's cosine similarity is the weighted mean of the members' cosine similarities.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from facerec.recognition.base import Embedder, l2_normalize


class EnsembleEmbedder(Embedder):
    """Several embedders behaving as one; each aligns faces its own way."""

    def __init__(self, members: Sequence[Embedder], weights: Sequence[float], threshold: float | None = None) -> None:
        if len(members) < 2 or len(members) != len(weights):
            raise ValueError("an ensemble needs two or more members and one weight each")
        total = float(sum(weights))
        self.members = list(members)
        self.weights = [float(w) / total for w in weights]
        self.name = "+".join(f"{m.name}:{w:g}" for m, w in zip(self.members, weights))
        self.dim = sum(m.dim for m in self.members)
        self.input_size = self.members[0].input_size
        self.threshold_override = threshold

    @property
    def id(self) -> str:
        return "+".join(f"{m.id}:{w:.4g}" for m, w in zip(self.members, self.weights))

    def calibrated_threshold(self) -> float:
        """The members' thresholds, weighted."""
        return float(sum(w * m.threshold for m, w in zip(self.members, self.weights)))

    def _combine(self, parts: list[np.ndarray]) -> np.ndarray:
        scaled = [p * np.sqrt(w) for p, w in zip(parts, self.weights)]
        return l2_normalize(np.concatenate(scaled, axis=1))

    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return self._combine([m.embed(crops) for m in self.members])

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        crops = list(crops)
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._forward(crops)

    def embed_images(self, items: Sequence[tuple[np.ndarray, Sequence[np.ndarray]]]) -> np.ndarray:
        if not sum(len(lms) for _, lms in items):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._combine([m.embed_images(items) for m in self.members])

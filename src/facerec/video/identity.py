"""Who a track is: a vote of its sampled embeddings against a gallery, and online clustering of
the tracks nobody in the gallery matches (or of every track when there is no gallery)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from facerec.decisions import UNKNOWN
from facerec.recognition.base import l2_normalize


@dataclass
class Vote:
    """One sampled face of a track: the gallery's answer for it."""

    name: str
    similarity: float
    quality: float


@dataclass
class TrackIdentity:
    """The embeddings sampled from one track and the votes they cast."""

    vectors: list[np.ndarray] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)
    skipped: int = 0
    """Faces of this track not sampled because they were below ``--min-quality``."""

    def add(self, vector: np.ndarray, vote: Vote) -> None:
        self.vectors.append(np.asarray(vector, np.float32))
        self.votes.append(vote)

    @property
    def mean(self) -> Optional[np.ndarray]:
        """The track's mean embedding (unit length), None before the first sample."""
        if not self.vectors:
            return None
        return l2_normalize(np.mean(self.vectors, axis=0))

    def decision(self) -> tuple[str, float, dict[str, int]]:
        """``(name, similarity, vote counts)``: the majority name (ties: higher mean similarity)
        and the mean similarity of its votes."""
        if not self.votes:
            return UNKNOWN, 0.0, {}
        counts = Counter(v.name for v in self.votes)
        sims = {n: float(np.mean([v.similarity for v in self.votes if v.name == n])) for n in counts}
        name = max(counts, key=lambda n: (counts[n], sims[n]))
        return name, sims[name], dict(counts)


class OnlineClusters:
    """Leader clustering of track embeddings: a track joins the closest group whose mean is at
    least ``threshold`` alike, else starts ``{prefix}-N``. Online, so each finished track can be
    written at once (and an interrupted run keeps its labels)."""

    def __init__(self, threshold: float, prefix: str = "person") -> None:
        self.threshold = threshold
        self.prefix = prefix
        self.sums: list[np.ndarray] = []

    def nearest(self, vector: np.ndarray) -> tuple[Optional[int], float]:
        if not self.sums:
            return None, -1.0
        means = l2_normalize(np.stack(self.sums))
        sims = means @ vector
        i = int(np.argmax(sims))
        return (i, float(sims[i])) if sims[i] >= self.threshold else (None, float(sims[i]))

    def peek(self, vector: np.ndarray) -> Optional[str]:
        """The existing group ``vector`` would join (None: it would found a new one)."""
        i, _ = self.nearest(vector)
        return None if i is None else f"{self.prefix}-{i + 1}"

    def label(self, vector: np.ndarray) -> str:
        """The group ``vector`` joins (or founds)."""
        i, _ = self.nearest(vector)
        if i is None:
            self.sums.append(np.array(vector, np.float32))
            i = len(self.sums) - 1
        else:
            self.sums[i] = self.sums[i] + vector
        return f"{self.prefix}-{i + 1}"

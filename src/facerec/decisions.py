"""Decisions, the last step of the pipeline: a similarity held against a threshold.

Every decision states the same four things: ``name`` (who: the person decided on, the claimed
person, or :data:`UNKNOWN`), ``similarity`` (cosine), ``threshold`` and ``decision`` (True when
accepted: same person, known person, named class). Verification of two images
(:class:`VerifyResult`), verification against an enrolled person (:class:`PersonVerification`),
identification in a gallery (:class:`IdentifiedFace`) and classification (:class:`Prediction`)
add what is particular to them. ``to_dict()`` gives each one's JSON shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from facerec.types import Face

UNKNOWN = "unknown"
"""The name given to a face that no enrolled person or trained class matches."""


def _r(x: float) -> float:
    return round(float(x), 6)


@dataclass
class Decision:
    """Who, how similar, against which threshold, and the outcome."""

    name: Optional[str]
    similarity: float
    threshold: float
    decision: bool


@dataclass
class VerifyResult(Decision):
    """The answer to 'same person?' for two images (``name`` is None: nobody is claimed)."""

    model: str = ""
    faces: tuple[Face, ...] = field(repr=False, default=())

    @property
    def same(self) -> bool:
        return self.decision

    def to_dict(self) -> dict:
        out = {"same": bool(self.same), "similarity": _r(self.similarity), "threshold": _r(self.threshold),
               "model": self.model}
        if self.faces:
            out["faces"] = [f.to_dict() for f in self.faces]
        return out


@dataclass
class PersonVerification(VerifyResult):
    """'Is this face that enrolled person?': the best similarity against their faces."""

    person: Any = None
    """The gallery's ``Person`` (id, name, faces)."""
    face: Optional[Face] = field(repr=False, default=None)
    """The query face, when the query was an image."""

    def to_dict(self) -> dict:
        out = {"person": self.person.to_dict() if self.person is not None else None, **super().to_dict()}
        if self.face is not None:
            out["face"] = self.face.to_dict()
        return out


@dataclass
class Match:
    """A candidate person for a face."""

    person_id: int
    name: str
    similarity: float

    def to_dict(self) -> dict:
        return {"person_id": self.person_id, "name": self.name, "similarity": _r(self.similarity)}


@dataclass
class IdentifiedFace(Decision):
    """A face found in a query image, its best person (or :data:`UNKNOWN`) and the top-k candidates."""

    bbox: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    score: float = 0.0
    landmarks: Optional[np.ndarray] = None
    person_id: Optional[int] = None
    candidates: list[Match] = field(default_factory=list)
    quality: Optional[float] = None
    fpir: Optional[float] = None
    """The FPIR target ``threshold`` was derived from (None: an explicit threshold)."""

    @property
    def known(self) -> bool:
        return self.person_id is not None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"bbox": [round(float(v), 2) for v in self.bbox], "score": round(float(self.score), 4),
                               "name": self.name, "person_id": self.person_id,
                               "similarity": _r(self.similarity), "threshold": _r(self.threshold), "fpir": self.fpir,
                               "candidates": [m.to_dict() for m in self.candidates]}
        if self.landmarks is not None:
            out["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 4)
        return out


@dataclass
class Prediction(Decision):
    """A classifier's answer for one face: ``name`` is the class, or :data:`UNKNOWN` when rejected.

    ``similarity`` is the cosine similarity to the best class's centroid and ``threshold`` (as in every
    :class:`Decision`, a cosine similarity) the centroid gate below which the face is rejected;
    ``min_probability`` is the classifier's probability floor.
    """

    probability: float = 0.0
    best: str = ""
    """The most likely person even when rejected."""
    top: list[tuple[str, float]] = field(default_factory=list)
    min_probability: float = 0.0

    @property
    def min_similarity(self) -> float:
        """The centroid gate (``threshold``)."""
        return self.threshold

    def to_dict(self) -> dict:
        return {"name": self.name, "probability": _r(self.probability), "similarity": _r(self.similarity),
                "best": self.best, "top": [[n, _r(p)] for n, p in self.top]}

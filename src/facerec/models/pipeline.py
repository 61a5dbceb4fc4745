"""One frozen pipeline spec: what a FaceAnalyzer is built from (as insightface's ``FaceAnalysis(name).prepare``).

A :class:`PipelineSpec` is made once, from a profile plus the options a user gave
(:meth:`PipelineSpec.from_profile`), then handed whole to every command, worker process, Ray actor,
service pool and gallery, which build their analyzer with ``FaceAnalyzer.from_spec`` (the one
builder). The model and detector names are checked when the spec is made (:mod:`facerec.models.reference`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Collection, Optional

from facerec.errors import ModelError
from facerec.models.profiles import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, DEFAULT_FLIP, DEFAULT_PROFILE, get_profile
from facerec.models.reference import parse_detector, parse_model

MODEL_FIELDS = ("model", "detector", "flip")
"""The fields naming the models (a gallery records them; the others are run-time settings)."""


@dataclass(frozen=True)
class PipelineSpec:
    """Models (``model``, ``detector``, ``flip``), decision (``threshold``: None for the calibrated one),
    detector cut-offs (``min_score``, ``min_face``) and run-time settings (``backend``, ``device``,
    ``threads``, ``offline``) of one pipeline."""

    model: str = DEFAULT_EMBEDDER
    detector: str = DEFAULT_DETECTOR
    flip: bool = DEFAULT_FLIP
    threshold: Optional[float] = None
    min_score: Optional[float] = None
    min_face: int = 0
    backend: Optional[str] = None
    device: Optional[str] = None
    threads: Optional[int] = None
    offline: Optional[bool] = None

    def __post_init__(self) -> None:
        parse_model(self.model)
        parse_detector(self.detector)
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ModelError(f"threshold must be a finite number, not {self.threshold}")
        if self.min_face < 0:
            raise ModelError(f"min_face must be 0 or more pixels, not {self.min_face}")

    @classmethod
    def from_profile(cls, profile: Optional[str] = None, **overrides: Any) -> "PipelineSpec":
        """The spec of ``profile`` (default: the default one) with every override that is not None."""
        prof = get_profile(profile or DEFAULT_PROFILE)
        given = {key: value for key, value in overrides.items() if value is not None}
        return cls(**{"model": prof.model, "detector": prof.detector, "flip": prof.flip, **given})

    def with_(self, **changes: Any) -> "PipelineSpec":
        """A copy with these fields changed (None values are ignored)."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def chosen(self, given: Collection[str]) -> dict[str, Any]:
        """The model fields named in ``given`` (the ones a user chose), None for the others."""
        return {key: getattr(self, key) if key in given else None for key in MODEL_FIELDS}

    def analyzer_kwargs(self) -> dict[str, Any]:
        """The spec as :class:`~facerec.analyzer.FaceAnalyzer` keyword arguments."""
        return asdict(self)

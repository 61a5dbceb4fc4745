"""Named pipelines (embedder or ensemble, detector, flip) with their own calibrated thresholds.

An ensemble's best threshold, calibrated on LFW View 1 (``pairsDevTrain.txt``) by
``bench/calibrate_thresholds.py``, is better than the weighted mean of its members' thresholds;
the same holds for flip augmentation. :func:`threshold_for` lets :func:`build_embedder` use the
profile's threshold whenever it builds a profile's model with the profile's flip setting. The
default profile is the default pipeline: ``DEFAULT_EMBEDDER``, ``DEFAULT_DETECTOR``, ``DEFAULT_FLIP``.
Choices and figures: results/accuracy.md, results/speed.md, results/calibration.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from facerec.errors import ModelError
from facerec.models.reference import ModelRef, parse_model


@dataclass(frozen=True)
class Profile:
    """A pipeline we ship: model string, detector, flip, and its View 1 threshold."""

    name: str
    model: str
    detector: str
    flip: bool
    threshold: Optional[float]
    note: str = ""


PROFILES: dict[str, Profile] = {
    p.name: p for p in (
        Profile("default", "arcface_mbf:0.519+sface:0.481", "scrfd:320", False, 0.2907,
                "LFW View 2 99.73% +- 0.24, VAL@FAR=1e-3 99.43% (results/accuracy.md); weights fitted on View 1 "
                "pairsDevTrain.txt by logistic regression on the members' scores; threshold: best accuracy on "
                "View 1 pairsDevTrain.txt. Same View 2 accuracy as `accurate` at half its cost"),
        Profile("accurate", "arcface_mbf+sface", "scrfd:320", True, 0.3140,
                "the previous default, with flip augmentation: LFW View 2 99.73% +- 0.24, VAL@FAR=1e-3 99.43% "
                "(results/evaluate_lfw.md); threshold: best accuracy on View 1 pairsDevTrain.txt (99.77% 10-fold there)"),
        Profile("fast", "arcface_mbf", "scrfd:320", False, 0.2420,
                "one small embedder, small detector input: LFW View 2 99.67% +- 0.30 (results/evaluate_lfw.md); "
                "threshold: best accuracy on View 1 pairsDevTrain.txt"),
    )
}
DEFAULT_PROFILE = "default"
DEFAULT_EMBEDDER = PROFILES[DEFAULT_PROFILE].model
"""The default pipeline's embedder (results/accuracy.md): ArcFace-MBF + SFace, weights fitted on LFW View 1."""
DEFAULT_DETECTOR = PROFILES[DEFAULT_PROFILE].detector
DEFAULT_FLIP = PROFILES[DEFAULT_PROFILE].flip
"""Flip test-time augmentation in the default pipeline (off: no gain on LFW for twice the cost)."""


def get_profile(name: str) -> Profile:
    """The profile called ``name`` or a :class:`ModelError` listing them."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ModelError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


def canonical_model(model: Union[str, ModelRef]) -> tuple[tuple[str, float], ...]:
    """``'a:3+b:1'`` -> ``(('a', 0.75), ('b', 0.25))``: equal for equivalent model strings."""
    return parse_model(model).canonical()


def threshold_for(model: Union[str, ModelRef], flip: bool) -> Optional[float]:
    """The calibrated threshold of a profile using exactly this model and flip setting, if any."""
    key = canonical_model(model)
    for p in PROFILES.values():
        if p.threshold is not None and p.flip == flip and canonical_model(p.model) == key:
            return p.threshold
    return None

"""A face-quality score in [0, 1] from parts that can be measured on one detection.

The parts (:class:`QualityParts`):

* ``size``: the shorter side of the face box, in pixels;
* ``sharpness``: variance of the Laplacian of the grey 112x112 aligned crop (the crop the
  embedders see, so an up-scaled small face counts as blurred too);
* ``yaw`` / ``pitch``: head turn in degrees, estimated from the five landmarks (nose offset from
  the eye midpoint across the face, and from its frontal height between eye and mouth lines
  along it; a nose tip about half an eye distance in front of the eye plane);
* ``det_score``: the detector's confidence.

Each part maps to a sub-score in [0, 1] (:func:`sub_scores`):

* size:      ``clip(log(side / 16) / log(112 / 16))``, 0 at 16 px, 1 from 112 px (the crop size);
* sharpness: ``v / (v + SHARPNESS_HALF)``, 0.5 at the median of LFW's default-detector faces;
* pose:      ``exp(-((yaw / 40)^2 + (pitch / 30)^2) / 2)``;
* detector:  the score itself, clipped to [0, 1].

and the quality is their weighted geometric mean, ``prod(s_i ** w_i)`` with ``WEIGHTS`` summing to
1, so one very bad part (a profile, a 20-pixel face) pulls the whole score down. ``SHARPNESS_HALF``
is about the median of LFW's faces. The size and sharpness weights are set a priori (LFW's crops vary
too little in size and blur to learn them from; video does not); the pose and detector weights were
fitted on LFW View 1 (DevTrain): pose took all of it, the detector score none once pose is in (the
score is still measured and reported). ``bench/bench_quality.py`` shows the error-versus-discard curve
on View 2 (``results/quality.md``).

A landmark-free detection (or a centred-crop fallback) gets no pose evidence: its pose
sub-score is 0.5.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from facerec.alignment.similarity import ARCFACE_TEMPLATE, align_face
from facerec.types import Detection

MIN_SIDE, FULL_SIDE = 16.0, 112.0
SHARPNESS_HALF = 150.0
YAW_SCALE, PITCH_SCALE = 40.0, 30.0
WEIGHTS = {"size": 1 / 6, "sharpness": 1 / 6, "pose": 2 / 3, "detector": 0.0}
NO_POSE = 0.5
_FLOOR = 1e-3
_FRONTAL_PITCH_RATIO = float((ARCFACE_TEMPLATE[2, 1] - ARCFACE_TEMPLATE[:2, 1].mean())
                             / (ARCFACE_TEMPLATE[3:, 1].mean() - ARCFACE_TEMPLATE[:2, 1].mean()))
_NOSE_DEPTH = 0.5
"""Nose tip depth in front of the eye plane, in eye distances (yaw) and eye-mouth heights (pitch)."""


@dataclass(frozen=True)
class QualityParts:
    """The measured evidence for one face."""

    size: float
    sharpness: float
    yaw: Optional[float]
    pitch: Optional[float]
    det_score: float

    def to_dict(self) -> dict:
        return {k: (None if v is None else round(float(v), 3)) for k, v in asdict(self).items()}


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """``(yaw, pitch)`` in degrees from 5 landmarks (ArcFace order); 0, 0 for a frontal face.

    The landmarks are first rotated so the eyes lie level (roll does not count).
    """
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_l, eye_r, nose = lm[0], lm[1], lm[2]
    mouth = lm[3:].mean(axis=0)
    across = eye_r - eye_l
    eye_dist = float(np.hypot(*across))
    if eye_dist < 1e-6:
        return 90.0, 90.0
    ux = across / eye_dist
    uy = np.array([-ux[1], ux[0]])  # downwards in image coordinates
    eyes = (eye_l + eye_r) / 2.0
    yaw_ratio = float((nose - eyes) @ ux) / eye_dist
    height = float((mouth - eyes) @ uy)
    if height < 1e-6:
        return 90.0, 90.0
    pitch_ratio = float((nose - eyes) @ uy) / height - _FRONTAL_PITCH_RATIO
    return (math.degrees(math.atan(yaw_ratio / _NOSE_DEPTH)),
            math.degrees(math.atan(pitch_ratio / _NOSE_DEPTH)))


def sharpness(image: np.ndarray, detection: Detection) -> float:
    """Variance of the Laplacian of the grey 112x112 crop (aligned when there are landmarks)."""
    if detection.landmarks is not None:
        crop = align_face(image, detection.landmarks, 112)
    else:
        x1, y1, x2, y2 = [int(round(v)) for v in detection.bbox]
        h, w = image.shape[:2]
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 <= x1 or y2 <= y1:
            return 0.0
        crop = cv2.resize(image[y1:y2, x1:x2], (112, 112), interpolation=cv2.INTER_LINEAR)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def measure(image: np.ndarray, detection: Detection) -> QualityParts:
    """Every part of the quality of ``detection`` in ``image`` (BGR)."""
    x1, y1, x2, y2 = (float(v) for v in detection.bbox)
    yaw = pitch = None
    if detection.landmarks is not None:
        yaw, pitch = head_pose(detection.landmarks)
    return QualityParts(size=max(0.0, min(x2 - x1, y2 - y1)), sharpness=sharpness(image, detection),
                        yaw=yaw, pitch=pitch, det_score=float(detection.score))


def sub_scores(parts: QualityParts) -> dict[str, float]:
    """Each part mapped to [0, 1] (see the module docstring)."""
    size = math.log(max(parts.size, 1e-6) / MIN_SIDE) / math.log(FULL_SIDE / MIN_SIDE)
    if parts.yaw is None or parts.pitch is None:
        pose = NO_POSE
    else:
        pose = math.exp(-((parts.yaw / YAW_SCALE) ** 2 + (parts.pitch / PITCH_SCALE) ** 2) / 2.0)
    out = {"size": size, "sharpness": parts.sharpness / (parts.sharpness + SHARPNESS_HALF),
           "pose": pose, "detector": parts.det_score}
    return {k: min(1.0, max(0.0, float(v))) for k, v in out.items()}


def combine(subs: dict[str, float], weights: Optional[dict[str, float]] = None) -> float:
    """Weighted geometric mean of sub-scores (weights normalised to sum to 1)."""
    weights = weights or WEIGHTS
    total = sum(weights.values())
    log_q = sum(w * math.log(max(subs[k], _FLOOR)) for k, w in weights.items()) / total
    return float(min(1.0, max(0.0, math.exp(log_q))))


def quality_of(parts: QualityParts) -> float:
    """The quality score of measured parts."""
    return combine(sub_scores(parts))


def face_quality(image: np.ndarray, detection: Detection) -> float:
    """The quality score in [0, 1] of one detected face."""
    return quality_of(measure(image, detection))


def weakest(parts: QualityParts) -> str:
    """The lowest sub-score, in words (for 'skipped: low quality' reports)."""
    subs = sub_scores(parts)
    name = min(WEIGHTS, key=lambda k: subs[k])
    detail = {"size": f"{parts.size:.0f} px face", "sharpness": f"sharpness {parts.sharpness:.0f}",
              "pose": (f"yaw {parts.yaw:.0f} deg, pitch {parts.pitch:.0f} deg" if parts.yaw is not None
                       else "no landmarks"),
              "detector": f"detector score {parts.det_score:.2f}"}[name]
    return f"{name} ({detail})"


def detection_dicts(image: np.ndarray, detections: Sequence[Detection]) -> list[dict]:
    """JSON-ready detections, each with its ``quality`` (for outputs that have no embeddings)."""
    return [d.to_dict() | {"quality": round(face_quality(image, d), 4)} for d in detections]

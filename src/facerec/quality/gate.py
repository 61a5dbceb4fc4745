"""The ``--min-quality`` gate: which faces are too poor to keep, and why in one line."""
from __future__ import annotations

from typing import Optional

import numpy as np

from facerec.errors import FacerecError
from facerec.quality.score import measure, quality_of, weakest
from facerec.types import Detection

DEFAULT_ENROLL_MIN_QUALITY = 0.55
"""Enrollment default: the 2nd percentile of LFW View 1 faces' quality (0.570) rounded down to 0.05
(``results/quality.md``): most of the error-versus-discard gain comes from the first 2-3% discarded."""


def below_reason(image: np.ndarray, face: Detection, min_quality: Optional[float]) -> Optional[str]:
    """None when ``face`` passes ``min_quality`` (or no gate is set), else the reason it does not."""
    if not min_quality:
        return None
    parts = measure(image, face)
    q = getattr(face, "quality", None)
    q = quality_of(parts) if q is None else float(q)
    if q >= min_quality:
        return None
    return f"low quality {q:.2f} < {min_quality:g}: weakest {weakest(parts)}"


class LowQualityError(FacerecError):
    """A face was found but is below ``--min-quality``: skipped, with the reason."""


def require_quality(face: Detection, min_quality: Optional[float], image, name: Optional[str] = None) -> None:
    """Raise :class:`LowQualityError` (``"NAME: low quality ..."``) when ``face`` is below the gate.

    ``image`` (array or path) is only read again when the face fails, to say why.
    """
    q = getattr(face, "quality", None)
    if not min_quality or (q is not None and q >= min_quality):
        return
    from facerec.io.images import load_image

    reason = below_reason(load_image(image), face, min_quality)
    if reason is not None:
        raise LowQualityError(f"{name}: {reason}" if name else reason)


def check_min_quality(value: Optional[float]) -> Optional[float]:
    """Validate a ``--min-quality`` value (None or 0 turn the gate off)."""
    if value is None:
        return None
    if not 0.0 <= float(value) <= 1.0:
        raise FacerecError(f"--min-quality must be between 0 and 1, got {value}")
    return float(value)

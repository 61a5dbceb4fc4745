"""Build a detector by name."""
from __future__ import annotations

from typing import Optional, Union

from facerec.detection.base import Detector
from facerec.errors import ModelError
from facerec.models.profiles import DEFAULT_DETECTOR
from facerec.models.reference import DETECTOR_MODELS, DETECTORS, DetectorRef, parse_detector
from facerec.models.store import ModelStore

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "DETECTOR_MODELS", "build_detector"]


def build_detector(name: Union[str, DetectorRef] = DEFAULT_DETECTOR, store: Optional[ModelStore] = None, *,
                   threads: Optional[int] = None, backend: Optional[str] = None, device: Optional[str] = None,
                   min_score: Optional[float] = None, min_face: int = 0, **options) -> Detector:
    """``yunet``, ``scrfd`` (SCRFD-500M; ``scrfd:320`` sets its input size) or ``dlib_hog`` (dlib extra).

    ``threads``, ``backend`` and ``device`` are SCRFD's inference settings (:mod:`facerec.inference`);
    YuNet runs inside OpenCV (``cv2.FaceDetectorYN``) and dlib on its own, with their process-wide
    settings. ``min_score``: the detection score cut-off of SCRFD and YuNet (their defaults 0.5 and
    0.6); ``min_face``: drop faces whose box is smaller than this many pixels on its shorter side.
    """
    ref = parse_detector(name)
    if min_score is not None:
        if ref.name == "dlib_hog":
            raise ModelError("--min-score applies to scrfd and yunet (dlib_hog has no comparable score)")
        options["score_threshold"] = float(min_score)
    detector = _build(ref, store, threads, backend, device, options)
    if min_face:
        from facerec.detection.base import MinFaceSize

        return MinFaceSize(detector, min_face)
    return detector


def _build(ref: DetectorRef, store: Optional[ModelStore], threads: Optional[int], backend: Optional[str],
           device: Optional[str], options: dict) -> Detector:
    store = store or ModelStore()
    base = ref.name
    if base == "yunet":
        from facerec.detection.yunet import YuNetDetector

        return YuNetDetector(store.path(DETECTOR_MODELS[base]), **options)
    if base == "scrfd":
        from facerec.detection.scrfd import SCRFDDetector

        if ref.size is not None:
            options.setdefault("input_size", ref.size)
        return SCRFDDetector(store.path(DETECTOR_MODELS[base]), threads=threads, backend=backend, device=device, **options)
    if base == "dlib_hog":
        from facerec.detection.dlib_hog import DlibHogDetector

        return DlibHogDetector(store, **options)
    raise ModelError(f"unknown detector {str(ref)!r}; choose one of: {', '.join(DETECTORS)}")

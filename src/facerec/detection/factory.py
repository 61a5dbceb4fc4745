"""Build a detector by name."""
from __future__ import annotations

from typing import Optional

from facerec.detection.base import Detector
from facerec.errors import ModelError
from facerec.models.store import ModelStore

DETECTORS = ("yunet", "scrfd", "dlib_hog")
DEFAULT_DETECTOR = "scrfd:320"
DETECTOR_MODELS = {"yunet": "yunet", "scrfd": "scrfd_500m", "dlib_hog": "dlib_shape5"}
"""The registry model each detector loads (dlib_hog: its default landmark predictor)."""


def build_detector(name: str = DEFAULT_DETECTOR, store: Optional[ModelStore] = None, *,
                   threads: Optional[int] = None, backend: Optional[str] = None, device: Optional[str] = None,
                   min_score: Optional[float] = None, min_face: int = 0, **options) -> Detector:
    """``yunet``, ``scrfd`` (SCRFD-500M; ``scrfd:320`` sets its input size) or ``dlib_hog`` (dlib extra).

    ``threads``, ``backend`` and ``device`` are SCRFD's inference settings (:mod:`facerec.inference`);
    YuNet runs inside OpenCV (``cv2.FaceDetectorYN``) and dlib on its own, with their process-wide
    settings. ``min_score``: the detection score cut-off of SCRFD and YuNet (their defaults 0.5 and
    0.6); ``min_face``: drop faces whose box is smaller than this many pixels on its shorter side.
    """
    if min_score is not None:
        if name.partition(":")[0] == "dlib_hog":
            raise ModelError("--min-score applies to scrfd and yunet (dlib_hog has no comparable score)")
        options["score_threshold"] = float(min_score)
    detector = _build(name, store, threads, backend, device, options)
    if min_face:
        from facerec.detection.base import MinFaceSize

        return MinFaceSize(detector, min_face)
    return detector


def _build(name: str, store: Optional[ModelStore], threads: Optional[int], backend: Optional[str],
           device: Optional[str], options: dict) -> Detector:
    store = store or ModelStore()
    base, _, arg = name.partition(":")
    if base == "yunet":
        from facerec.detection.yunet import YuNetDetector

        return YuNetDetector(store.path(DETECTOR_MODELS[base]), **options)
    if base == "scrfd":
        from facerec.detection.scrfd import SCRFDDetector

        if arg:
            options.setdefault("input_size", int(arg))
        return SCRFDDetector(store.path(DETECTOR_MODELS[base]), threads=threads, backend=backend, device=device, **options)
    if base == "dlib_hog":
        from facerec.detection.dlib_hog import DlibHogDetector

        return DlibHogDetector(store, **options)
    raise ModelError(f"unknown detector {name!r}; choose one of: {', '.join(DETECTORS)}")

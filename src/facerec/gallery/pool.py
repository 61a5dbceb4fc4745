"""Embed one face (largest or most central) of many images, over the workflows' process pool.

Used by ``facerec gallery enroll-dataset``. With ``workers <= 1`` it runs in-process (on the
given analyzer when there is one); workers use one onnxruntime and one OpenCV thread each.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from facerec.errors import FacerecError


@dataclass
class Embedded:
    """The largest face of one image, or why there is none."""

    path: str
    key: object
    bbox: Optional[list[float]] = None
    score: float = 0.0
    vector: Optional[np.ndarray] = None
    error: Optional[str] = None


def _build_analyzer(model: str, detector: str, flip: bool, offline: Optional[bool], threads: Optional[int] = None):
    from facerec.analyzer import FaceAnalyzer

    return FaceAnalyzer(model=model, detector=detector, flip=flip, offline=offline, threads=threads)


def _embed_one(analyzer, path: str, key: object, pick: str = "largest",
               min_quality: Optional[float] = None) -> Embedded:
    from facerec.quality import require_quality

    try:
        face = analyzer.face(path, pick=pick, fallback=False)
        require_quality(face, min_quality, path, path)
        return Embedded(path, key, [float(v) for v in face.bbox], float(face.score),
                        np.asarray(face.embedding, np.float32))
    except FacerecError as exc:
        return Embedded(path, key, error=str(exc).removeprefix(f"{path}: "))


def _task(analyzer, item: tuple[str, object, str, Optional[float]]) -> Embedded:
    return _embed_one(analyzer, *item)


def embed_largest_faces(items: Iterable[tuple[Path | str, object]], *, model: str, detector: str, flip: bool = False,
                        workers: int = 1, analyzer=None, offline: Optional[bool] = None,
                        pick: str = "largest", min_quality: Optional[float] = None) -> Iterator[Embedded]:
    """Yield one :class:`Embedded` per ``(path, key)`` item (its largest or most central face), in completion
    order; faces below ``min_quality`` come back with the reason as their error."""
    from facerec.workflows.parallel import parallel_map

    work = [(str(p), k, pick, min_quality) for p, k in items]
    yield from parallel_map(_task, work, factory=_build_analyzer,
                            factory_kwargs={"model": model, "detector": detector, "flip": flip, "offline": offline},
                            jobs=max(1, workers), state=analyzer if workers <= 1 else None)

"""A small process pool that embeds one face (largest or most central) of many images (each worker loads its models once).

Used by ``facerec gallery enroll-dataset``. With ``workers <= 1`` it runs in-process on the
given analyzer. Workers use one onnxruntime and one OpenCV thread each.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from facerec.errors import FacerecError

_ANALYZER = None


@dataclass
class Embedded:
    """The largest face of one image, or why there is none."""

    path: str
    key: object
    bbox: Optional[list[float]] = None
    score: float = 0.0
    vector: Optional[np.ndarray] = None
    error: Optional[str] = None


def _init(model: str, detector: str, flip: bool, offline: Optional[bool]) -> None:
    global _ANALYZER
    os.environ["FACEREC_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)
    from facerec.analyzer import FaceAnalyzer

    _ANALYZER = FaceAnalyzer(model=model, detector=detector, flip=flip, offline=offline)


def _embed_one(analyzer, path: str, key: object, pick: str = "largest") -> Embedded:
    from facerec.gallery.gallery import pick_face
    from facerec.io.images import load_image

    try:
        img = load_image(path)
        faces = analyzer.faces(img)
        if not faces:
            return Embedded(path, key, error="no face found")
        face = pick_face(faces, img.shape, pick)
        return Embedded(path, key, [float(v) for v in face.bbox], float(face.score),
                        np.asarray(face.embedding, np.float32))
    except FacerecError as exc:
        return Embedded(path, key, error=str(exc).removeprefix(f"{path}: "))


def _work(path: str, key: object, pick: str) -> Embedded:
    assert _ANALYZER is not None
    return _embed_one(_ANALYZER, path, key, pick)


def embed_largest_faces(items: Iterable[tuple[Path | str, object]], *, model: str, detector: str, flip: bool = False,
                        workers: int = 1, analyzer=None, offline: Optional[bool] = None,
                        pick: str = "largest") -> Iterator[Embedded]:
    """Yield one :class:`Embedded` per ``(path, key)`` item (its largest or most central face), in completion order."""
    items = [(str(p), k) for p, k in items]
    if workers <= 1:
        if analyzer is None:
            from facerec.analyzer import FaceAnalyzer

            analyzer = FaceAnalyzer(model=model, detector=detector, flip=flip, offline=offline)
        for path, key in items:
            yield _embed_one(analyzer, path, key, pick)
        return
    ctx = mp.get_context("spawn")
    window = workers * 4
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                             initargs=(model, detector, flip, offline)) as pool:
        pending: set[Future] = set()
        it = iter(items)
        try:
            while True:
                while len(pending) < window:
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    pending.add(pool.submit(_work, *nxt, pick))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()

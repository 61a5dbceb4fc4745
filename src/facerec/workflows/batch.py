"""Batch embedding: one face per image (the one a pick chooses), over the parallel map.

Every command that embeds many images face by face (``facerec embed``, ``gallery
enroll-dataset``, the benchmarks) goes through :func:`embed_images`, and so through
:func:`facerec.workflows.parallel.parallel_map`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Iterator, Optional

import numpy as np

from facerec.detection.selection import DEFAULT_PICK, Pick, parse_pick
from facerec.models.pipeline import PipelineSpec
from facerec.workflows.parallel import parallel_map
from facerec.workflows.reports import reason_of


@dataclass
class EmbeddedImage:
    """The chosen face of one image with its embedding, or why there is none."""

    path: str
    key: Hashable
    """The caller's tag for this item, handed back unchanged (results come in completion order)."""
    vector: Optional[np.ndarray] = None
    bbox: Optional[list[float]] = None
    score: float = 0.0
    fallback: bool = False
    """True when no face was found and the centred crop stood in (only with ``fallback=True``)."""
    model: str = ""
    """The embedder id that made ``vector``."""
    error: Optional[str] = None
    others: list["Candidate"] = field(default_factory=list)
    """With ``keep_others`` and several faces in the image: every face, largest first (the chosen one too)."""
    picked: int = 0
    """Index of the chosen face in ``others``."""

    @property
    def ok(self) -> bool:
        return self.vector is not None


@dataclass
class Candidate:
    """One of several faces of an image."""

    bbox: list[float]
    score: float
    vector: np.ndarray
    usable: bool
    """False when below the quality gate."""


def build_analyzer(spec: Optional[PipelineSpec] = None, threads: Optional[int] = None, **fields):
    """A worker's state: the FaceAnalyzer of this pipeline (the parallel map's factory), from ``spec``
    or from the spec's fields given by name; ``threads``: the worker's (the parallel map sets it)."""
    from facerec.analyzer import FaceAnalyzer

    return FaceAnalyzer.from_spec((spec if spec is not None else PipelineSpec(**fields)).with_(threads=threads))


def embed_image(analyzer, path: str, key: Hashable = None, pick: Pick = DEFAULT_PICK,
                fallback: bool = False, min_quality: Optional[float] = None,
                keep_others: bool = False) -> EmbeddedImage:
    """Embed the face ``pick`` chooses in the image at ``path``; a bad file, no face or a face below
    ``min_quality`` gives ``error``, never an exception. ``keep_others``: with several faces, embed
    them all and return them in ``others`` (the quality gate is then the caller's, per face)."""
    from facerec.quality import require_quality

    try:
        if keep_others:
            return _embed_all(analyzer, path, key, pick, min_quality)
        face = analyzer.face(path, pick=pick, fallback=fallback)
        require_quality(face, min_quality, path, path)
    except Exception as exc:  # noqa: BLE001 (one bad file must not stop the batch)
        return EmbeddedImage(path, key, error=reason_of(exc, path))
    return EmbeddedImage(path, key, vector=np.asarray(face.embedding, np.float32),
                         bbox=[float(v) for v in face.bbox], score=float(face.score), fallback=face.fallback,
                         model=analyzer.model)


def _embed_all(analyzer, path: str, key: Hashable, pick: Pick, min_quality: Optional[float]) -> EmbeddedImage:
    """:func:`embed_image` keeping every face of a multi-face image."""
    from facerec.detection.selection import pick_index
    from facerec.errors import NoFaceError
    from facerec.io.images import load_image
    from facerec.quality import require_quality

    img = load_image(path)
    faces = analyzer.faces(img)
    if not faces:
        raise NoFaceError(f"{path}: no face found")
    k = pick_index(np.stack([f.bbox for f in faces]), img.shape, pick)
    face, others = faces[k], []
    if len(faces) > 1:
        others = [Candidate([float(v) for v in f.bbox], float(f.score), np.asarray(f.embedding, np.float32),
                            not min_quality or f.quality is None or f.quality >= min_quality) for f in faces]
    else:
        require_quality(face, min_quality, img, path)
    return EmbeddedImage(path, key, vector=np.asarray(face.embedding, np.float32), bbox=[float(v) for v in face.bbox],
                         score=float(face.score), model=analyzer.model, others=others, picked=k)


def _task(analyzer, item: tuple[str, Hashable, Pick, bool, Optional[float], bool]) -> EmbeddedImage:
    return embed_image(analyzer, *item)


def embed_images(items: Iterable[tuple[Path | str, Hashable]], spec: Optional[PipelineSpec] = None, *,
                 pick: Pick = DEFAULT_PICK, fallback: bool = False, min_quality: Optional[float] = None,
                 jobs: Optional[int] = 1, analyzer=None, chunksize: int = 4, engine=None, keep_others: bool = False,
                 **fields) -> Iterator[EmbeddedImage]:
    """One :class:`EmbeddedImage` per ``(path, key)`` item, in completion order.

    ``spec``: the workers' pipeline; without one, that of ``analyzer`` (else the default) with the
    spec's ``fields`` given by name; ``jobs``: worker processes as in :func:`parallel_map` (1: this
    process, on ``analyzer`` when given); ``engine``: a :class:`~facerec.workflows.ray_engine.RayEngine`
    to run on Ray (None: here); ``keep_others``: see :func:`embed_image`.
    """
    if spec is None:
        spec = analyzer.spec.with_(**fields) if analyzer is not None else PipelineSpec(**fields)
    pick = parse_pick(pick)
    work = [(str(p), k, pick, fallback, min_quality, keep_others) for p, k in items]
    yield from parallel_map(_task, work, factory=build_analyzer, factory_kwargs={"spec": spec},
                            jobs=jobs, chunksize=chunksize, state=analyzer if jobs == 1 else None, engine=engine)

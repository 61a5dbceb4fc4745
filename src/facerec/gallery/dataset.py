"""Enrolling a folder-per-person dataset into a gallery: resumable and parallel.

An image counts as enrolled when the gallery already holds a face of that person from an image
with the same content hash, so an interrupted or repeated run only embeds what is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from facerec.detection.selection import Pick
from facerec.gallery.gallery import Gallery, image_digest
from facerec.gallery.store import FaceRecord
from facerec.io.text import safe_text

FLUSH_EVERY = 500
"""Persist the search index every this many added faces (a crash loses at most that much index work)."""


@dataclass
class DatasetEnrollment:
    """What an ``enroll_dataset`` run did."""

    added: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def pending_images(gallery: Gallery, items: Sequence[tuple[Path, str]]) -> list[tuple[Path, tuple[str, str]]]:
    """The ``(path, (person, image digest))`` of every item not enrolled yet, in order."""
    done = gallery.store.enrolled_images()
    todo = []
    for path, person in items:
        digest = image_digest(path)[0]
        if (person, digest) not in done:
            todo.append((path, (person, digest)))
    return todo


def enroll_dataset(gallery: Gallery, items: Sequence[tuple[Path, str]], *, workers: int = 1, pick: Pick = "largest",
                   min_quality: Optional[float] = None, offline: Optional[bool] = None,
                   on_start: Optional[Callable[[int, int], None]] = None, on_step: Optional[Callable[[], None]] = None,
                   engine=None) -> DatasetEnrollment:
    """Enroll one face (``pick``, at least ``min_quality``) of every ``(image, person)`` item not already
    in the gallery.

    ``on_start(to_do, skipped)`` is called once before embedding starts, ``on_step()`` after
    each image; ``engine``: a :class:`~facerec.workflows.ray_engine.RayEngine` to embed on Ray
    (``workers`` actors) instead of local processes. Images without a usable face are listed in ``failures``; the others are stored
    as they arrive, so an interruption loses nothing already stored.
    """
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.workflows.batch import embed_images

    todo = pending_images(gallery, items)
    result = DatasetEnrollment(skipped=len(items) - len(todo))
    if on_start is not None:
        on_start(len(todo), result.skipped)
    meta = gallery.store.meta()
    for res in embed_images(todo, model=meta["embedder_name"], detector=meta.get("detector", DEFAULT_DETECTOR),
                            flip=meta.get("flip") == "1", jobs=min(workers, max(1, len(todo))),
                            analyzer=gallery.analyzer, offline=offline, pick=pick, min_quality=min_quality,
                            engine=engine):
        person, digest = res.key  # type: ignore[misc]
        if res.error is not None:
            result.failures.append((safe_text(res.path), res.error))
        else:
            _, ids = gallery.add_records(person, [FaceRecord(vector=res.vector, image_sha256=digest,
                                                             image_path=safe_text(res.path), bbox=res.bbox,
                                                             det_score=res.score)], skip_enrolled=True)
            result.added += len(ids)
            result.skipped += 1 - len(ids)  # enrolled meanwhile by a concurrent run
            if ids and result.added % FLUSH_EVERY == 0:
                gallery.flush()
        if on_step is not None:
            on_step()
    return result

"""Enrolling a folder-per-person dataset into a gallery: resumable and parallel.

An image counts as enrolled when the gallery already holds a face of that person from an image
with the same content hash, so an interrupted or repeated run only embeds what is missing.

Photos with several faces are where galleries get poisoned (a bystander enrolled under the
person's name). With ``pick="auto"`` (the default) they are resolved from the data: after every
single-face photo is in, each face is compared with the person's other faces and the most similar
one is enrolled, if it is at least the embedder's threshold alike; with no other photo of the
person, the face nearest the image centre (the subject of a portrait crop). Every such photo is
reported with how it was resolved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from facerec.detection.selection import Pick
from facerec.gallery.gallery import Gallery, image_digest
from facerec.gallery.backend import FaceRecord
from facerec.io.text import safe_text

if TYPE_CHECKING:
    from facerec.workflows.batch import EmbeddedImage

FLUSH_EVERY = 500
"""Persist the search index every this many added faces (a crash loses at most that much index work)."""


@dataclass
class DatasetEnrollment:
    """What an ``enroll_dataset`` run did."""

    added: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    multi_face: list[tuple[str, str]] = field(default_factory=list)
    """``(image, how it was resolved)`` for every photo with several faces."""
    written_by: dict[str, int] = field(default_factory=dict)
    """Faces stored by Ray actors, per Ray node id (``--engine ray`` into a Milvus server); empty when
    this process stored them."""

    def merge(self, other: "DatasetEnrollment") -> None:
        """Add the counts and lists of ``other`` (one image's outcome, say) to these."""
        self.added += other.added
        self.skipped += other.skipped
        self.failures += other.failures
        self.multi_face += other.multi_face
        for node, n in other.written_by.items():
            self.written_by[node] = self.written_by.get(node, 0) + n


def pending_images(gallery: Gallery, items: Sequence[tuple[Path, str]]) -> list[tuple[Path, tuple[str, str]]]:
    """The ``(path, (person, image digest))`` of every item not enrolled yet, in order. Only the
    persons of ``items`` are looked up in the gallery (per folder, not every row of it)."""
    done = gallery.store.enrolled_images([person for _, person in items])
    todo = []
    for path, person in items:
        digest = image_digest(path)[0]
        if (person, digest) not in done:
            todo.append((path, (person, digest)))
    return todo


def enroll_dataset(gallery: Gallery, items: Sequence[tuple[Path, str]], *, workers: int = 1, pick: Pick | str = "auto",
                   min_quality: Optional[float] = None, offline: Optional[bool] = None,
                   on_start: Optional[Callable[[int, int], None]] = None, on_step: Optional[Callable[[], None]] = None,
                   engine=None) -> DatasetEnrollment:
    """Enroll one face (at least ``min_quality``) of every ``(image, person)`` item not already in the
    gallery: the only one, or of several the one ``pick`` says (``"auto"``: see the module docstring).

    ``on_start(to_do, skipped)`` is called once before embedding starts, ``on_step()`` after
    each image; ``engine``: a :class:`~facerec.workflows.ray_engine.RayEngine` to embed on Ray
    (``workers`` actors) instead of local processes. Images without a usable face are listed in
    ``failures``; the others are stored as they arrive (multi-face photos resolved by likeness at
    the end), so an interruption loses nothing already stored and the next run does the rest.
    """
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.workflows.batch import embed_images

    auto = pick == AUTO
    todo = pending_images(gallery, items)
    result = DatasetEnrollment(skipped=len(items) - len(todo))
    if on_start is not None:
        on_start(len(todo), result.skipped)
    meta = gallery.store.meta()
    deferred: list[EmbeddedImage] = []
    if engine is not None and actors_write(gallery):
        from facerec.gallery.ray_enroll import enroll_on_actors

        deferred = enroll_on_actors(gallery, todo, result, engine=engine, workers=workers, pick=pick,
                                    min_quality=min_quality, offline=offline, on_step=on_step)
    else:
        for res in embed_images(todo, model=meta["embedder_name"], detector=meta.get("detector", DEFAULT_DETECTOR),
                                flip=meta.get("flip") == "1", jobs=min(workers, max(1, len(todo))),
                                analyzer=gallery.analyzer, offline=offline, pick="center" if auto else pick,
                                min_quality=min_quality, engine=engine, keep_others=True):
            if res.error is None and res.others:
                if auto:
                    deferred.append(res)  # once the person's single-face photos are in
                else:
                    _store(gallery, result, res, res.picked, f"took #{res.picked} ({pick})")
            else:
                _store(gallery, result, res)
            if on_step is not None:
                on_step()
    for res in deferred:
        k, how = _resolve(gallery, res)
        _store(gallery, result, res, k, how)
    return result


AUTO = "auto"
"""Resolve photos with several faces by likeness to the person's other photos (see the module docstring)."""


def actors_write(gallery: Gallery) -> bool:
    """Whether ``--engine ray`` writes from the Ray actors: only into a Milvus server, which every node
    reaches (an SQLite or Milvus Lite file opens in one process of one machine: the driver writes)."""
    from facerec.gallery.milvus_store import MilvusStore

    return isinstance(gallery.store, MilvusStore) and not gallery.store.lite


def _resolve(gallery: Gallery, res: EmbeddedImage) -> tuple[Optional[int], str]:
    """Which face of a multi-face photo is the person (None: none is), and how that was decided."""
    import numpy as np

    from facerec.gallery.backend import PersonNotFoundError

    person, _ = res.key  # type: ignore[misc]
    try:
        _, theirs = gallery.store.person_vectors(person)
    except PersonNotFoundError:
        theirs = np.zeros((0, 0), np.float32)
    if not len(theirs):
        return res.picked, f"took #{res.picked}, nearest the centre (no other photo of them to compare with)"
    likeness = (np.stack([c.vector for c in res.others]) @ theirs.T).mean(axis=1)
    order = np.argsort(-likeness)
    best = int(order[0])
    if likeness[best] < gallery.threshold:
        return None, (f"none like their {len(theirs)} other photo(s) (best #{best} {likeness[best]:.2f} < "
                      f"threshold {gallery.threshold:.2f}): skipped")
    return best, (f"took #{best}: most like their {len(theirs)} other photo(s) (similarity {likeness[best]:.2f}, "
                  f"next {likeness[order[1]]:.2f})")


def _store(gallery: Gallery, result: DatasetEnrollment, res: EmbeddedImage, k: Optional[int] = None,
           how: str = "") -> None:
    """Add the face of ``res`` (candidate ``k`` of a multi-face photo) or record why not."""
    record = face_to_store(result, res, k, how)
    if record is None:
        return
    _, ids = gallery.add_records(res.key[0], [record], skip_enrolled=True)  # type: ignore[index]
    result.added += len(ids)
    result.skipped += 1 - len(ids)  # enrolled meanwhile by a concurrent run
    if ids and result.added % FLUSH_EVERY == 0:
        gallery.flush()


def face_to_store(result: DatasetEnrollment, res: EmbeddedImage, k: Optional[int] = None,
                  how: str = "") -> Optional[FaceRecord]:
    """The record of the face of ``res`` to store (candidate ``k`` of a multi-face photo), or None with
    the reason added to ``result.failures``; a multi-face photo is listed in ``result.multi_face``."""
    _, digest = res.key  # type: ignore[misc]
    path = safe_text(res.path)
    if res.others:
        boxes = ", ".join(f"#{i} ({','.join(str(round(v)) for v in c.bbox)})" for i, c in enumerate(res.others))
        result.multi_face.append((path, f"{len(res.others)} faces at {boxes}; {how}"))
        if k is None:
            result.failures.append((path, f"{len(res.others)} faces, none like the person's other photos"))
            return None
        chosen = res.others[k]
        if not chosen.usable:
            result.failures.append((path, f"face #{k} is below the quality gate"))
            return None
        vector, bbox, score = chosen.vector, chosen.bbox, chosen.score
    elif res.error is not None:
        result.failures.append((path, res.error))
        return None
    else:
        vector, bbox, score = res.vector, res.bbox, res.score
    return FaceRecord(vector=vector, image_sha256=digest, image_path=path, bbox=bbox, det_score=score)

"""The gallery facade: enroll, identify, verify, rename, merge, delete, list, export, import.

The facade holds one :class:`~facerec.gallery.backend.GalleryBackend`, chosen from the location
by :func:`~facerec.gallery.backend.open_backend` (an SQLite file searched through a FAISS cache, or
a Milvus gallery), and never asks which. Every hit is checked against the backend, so a deleted
person disappears from results at once, in this process and in any other.

>>> g = Gallery.open("people.db")
>>> g.enroll("Grace Hopper", ["grace1.jpg", "grace2.jpg"])
>>> g.identify("group.jpg")[0].name
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from facerec.decisions import UNKNOWN, IdentifiedFace, Match, PersonVerification
from facerec.detection.selection import DEFAULT_PICK, Pick, parse_pick
from facerec.errors import FacerecError, IncompatibleEmbeddingsError, NoFaceError
from facerec.gallery.backend import FaceRecord, GalleryBackend, Person, PersonNotFoundError, open_backend, read_meta
from facerec.gallery.export import EXPORT_FORMAT, read_export
from facerec.openset import DEFAULT_FPIR, OpenSetThreshold, open_set_threshold, validate_fpir
from facerec.io.atomic import atomic_open
from facerec.io.hashing import sha256_file
from facerec.io.images import ImageSource, load_image
from facerec.io.text import safe_text
from facerec.recognition.factory import parse_embedder_id
from facerec.types import Face



def image_digest(src: ImageSource) -> tuple[str, Optional[str]]:
    """(SHA-256 of the encoded file or raw array, path or None) of an image source."""
    if isinstance(src, (str, os.PathLike)):
        try:
            return sha256_file(src), safe_text(src)
        except OSError:
            return "", safe_text(src)  # load_image reports the real problem
    if isinstance(src, (bytes, bytearray)):
        return hashlib.sha256(bytes(src)).hexdigest(), None
    if isinstance(src, np.ndarray):
        h = hashlib.sha256(str(src.shape).encode())
        h.update(np.ascontiguousarray(src).tobytes())
        return h.hexdigest(), None
    return hashlib.sha256(np.asarray(src).tobytes()).hexdigest(), None


HEAD_MARK = ">"
"""What separates a base model from its fine-tuned head in a model name or embedder id."""


def _embedder_meta(embedder_id: str, dim: int, threshold: Optional[float], name: Optional[str] = None) -> dict[str, str]:
    """Gallery metadata naming the vector space: id, build name and flip (both read from the id), dim, threshold."""
    parsed, flip = parse_embedder_id(embedder_id)
    meta = {"embedder_id": embedder_id, "flip": "1" if flip else "0", "dim": str(dim)}
    if name or HEAD_MARK not in parsed:  # a head's folder is never derived from an id (an import's, say)
        meta["embedder_name"] = name or parsed
    if threshold is not None:
        meta["threshold"] = repr(float(threshold))
    return meta


@dataclass
class EnrollResult:
    person: Person
    face_ids: list[int]
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"person": self.person.to_dict(), "added": len(self.face_ids), "face_ids": self.face_ids,
                "failures": [{"image": s, "error": e} for s, e in self.failures]}


class Gallery:
    """Persons and their faces, searchable by face.

    Build with :meth:`open` (which picks the embedder the gallery was made with) or give an
    analyzer. Vector-only operations work without one; image operations need it.
    """

    def __init__(self, path: str | os.PathLike, analyzer=None, *, embedder_name: Optional[str] = None,
                 threshold: Optional[float] = None, fpir: Optional[float] = None) -> None:
        self.store: GalleryBackend = open_backend(path)
        self.path = self.store.path
        self.analyzer = analyzer
        self._lock = threading.RLock()
        meta = self.store.meta()
        if analyzer is not None:
            emb = analyzer.embedder
            if "embedder_id" in meta and meta["embedder_id"] != emb.id:
                self.store.close()
                raise IncompatibleEmbeddingsError(
                    f"{self.path}: gallery holds vectors of {meta['embedder_id']!r}, not {emb.id!r}")
            if "embedder_id" not in meta:
                self.store.set_meta(_embedder_meta(emb.id, emb.dim, emb.threshold, embedder_name))
                meta = self.store.meta()
            elif "embedder_name" not in meta and embedder_name and not self.store.read_only:  # an imported fine-tuned gallery, now given --model
                self.store.set_meta({"embedder_name": embedder_name})
        self.embedder_id: Optional[str] = meta.get("embedder_id")
        self.dim: Optional[int] = int(meta["dim"]) if "dim" in meta else None
        stored_thr = float(meta["threshold"]) if "threshold" in meta else None
        self._threshold = threshold if threshold is not None else (
            analyzer.threshold if analyzer is not None else stored_thr)
        self._explicit = threshold
        self.fpir: float = float(validate_fpir(fpir) or DEFAULT_FPIR)
        self._open_set: Optional[OpenSetThreshold] = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, model: Optional[str] = None, detector: Optional[str] = None,
             flip: Optional[bool] = None, threshold: Optional[float] = None, offline: Optional[bool] = None,
             load_models: bool = True, backend: Optional[str] = None, device: Optional[str] = None,
             min_score: Optional[float] = None, min_face: int = 0, fpir: Optional[float] = None) -> "Gallery":
        """Open (or create) a gallery and load the embedder it was made with.

        ``model`` is only needed for a new gallery (default: the package default embedder); for
        an existing one it must produce the same vector space or :class:`IncompatibleEmbeddingsError`.
        ``min_score``/``min_face``: the detector's cut-offs for this session (not recorded).
        ``fpir``: the share of strangers identification may name (default 1%); ``threshold`` overrides it.
        """
        if not load_models:
            return cls(path, None, threshold=threshold, fpir=fpir)
        from facerec.analyzer import FaceAnalyzer
        from facerec.models.pipeline import PipelineSpec

        pipe = gallery_pipeline(path, model, detector, flip)
        fa = FaceAnalyzer.from_spec(PipelineSpec(model=pipe.model, detector=pipe.detector, flip=pipe.flip, offline=offline,
                                                 backend=backend, device=device, min_score=min_score, min_face=min_face))
        gallery = cls(path, fa, embedder_name=pipe.model, threshold=threshold, fpir=fpir)
        pipe.record(gallery)
        return gallery

    def close(self) -> None:
        """Persist the index if it changed, and close the database."""
        with self._lock:
            self.flush()
            self.store.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def threshold(self) -> float:
        """The 1:1 threshold (``verify``, enrolment's likeness checks); identification uses :meth:`open_set`."""
        if self._threshold is None:
            raise FacerecError("this gallery has no threshold yet (enroll someone first or pass --threshold)")
        return float(self._threshold)

    def open_set(self, persons: Optional[int] = None) -> OpenSetThreshold:
        """The identification threshold for the gallery's current size: the score that names at most
        ``fpir`` of strangers among the enrolled persons (an explicit threshold wins). Follows enrolment."""
        n = self.store.count()[0] if persons is None else int(persons)
        cached = self._open_set
        if cached is None or cached.persons != n:
            cached = open_set_threshold(self.embedder_id, n, fpir=self.fpir, explicit=self._explicit,
                                        fallback=self._threshold)
            self._open_set = cached
        return cached

    def _need_analyzer(self):
        if self.analyzer is None:
            raise FacerecError("this operation needs the gallery's models loaded")
        return self.analyzer

    # -- search index -------------------------------------------------------------------------
    @property
    def index_status(self) -> str:
        """How the backend's search index was last brought up to date, in words."""
        return self.store.index_status

    def rebuild_index(self) -> str:
        """Rebuild the search index now (an SQLite gallery's FAISS cache; Milvus keeps its own)."""
        return self.store.rebuild_index()

    def flush(self) -> None:
        """Save the search index if it changed."""
        self.store.flush()

    def index_ids(self) -> np.ndarray:
        """Face ids the search index holds (for checks)."""
        return self.store.search_ids()

    # -- enrolment -----------------------------------------------------------------------------
    def face_record(self, image: ImageSource, pick: Optional[Pick] = None,
                    min_quality: Optional[float] = None) -> FaceRecord:
        """Detect and embed one face of an image (the one ``pick`` chooses) as a record ready to store."""
        return face_record(self._need_analyzer(), image, pick, min_quality)

    def add_records(self, name: str | int, records: Sequence[FaceRecord], model: Optional[str] = None,
                    create: bool = True, *, new_person: bool = False,
                    skip_enrolled: bool = False) -> tuple[int, list[int]]:
        """Store precomputed face records under a person in one transaction: (person id, face ids).

        ``new_person``: refuse a name that exists; ``skip_enrolled``: leave out images already enrolled
        for that person. Both are decided inside the write transaction, so concurrent writers
        (another process, other requests) cannot both pass the check.
        """
        if model is not None and self.embedder_id is not None and model != self.embedder_id:
            raise IncompatibleEmbeddingsError(f"vectors of {model!r} cannot go into a gallery of {self.embedder_id!r}")
        added = self.store.add_faces(name, records, create=create, dim=self.dim, new_person=new_person,
                                     skip_enrolled=skip_enrolled)
        return added.person_id, added.face_ids

    def enroll(self, name: str | int, images: Iterable[ImageSource], pick: Optional[Pick] = None,
               create: bool = True, min_quality: Optional[float] = None) -> EnrollResult:
        """Enroll one face of each image under ``name``: the only one, or (``pick``) the largest,
        ``"center"`` or face #``pick``. Without a ``pick`` an image with several faces is refused.

        Images without a face, with several (and no ``pick``), or whose face is below ``min_quality``
        are reported in ``failures``; if none is left, that error (one image) or :class:`NoFaceError`.
        """
        if pick is not None:
            parse_pick(pick)  # a bad pick is the caller's error, not a per-image failure
        records, failures, errors = [], [], []
        for src in images:
            try:
                records.append(self.face_record(src, pick, min_quality))
            except FacerecError as exc:
                failures.append((image_digest(src)[1] or "<image>", str(exc)))
                errors.append(exc)
        if not records:
            if len(errors) == 1:
                raise errors[0]
            raise NoFaceError(f"no usable face in any of the {len(failures)} images")
        pid, ids = self.add_records(name, records, create=create)
        return EnrollResult(self.store.person(pid), ids, failures)

    # -- search --------------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int = 1, threshold: Optional[float] = None) -> list[list[Match]]:
        """Top-``k`` persons (best face similarity each) per query vector, best first."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None]
        if self.dim is not None and vectors.size and vectors.shape[1] != self.dim:
            raise IncompatibleEmbeddingsError(f"query of dimension {vectors.shape[1]} for a gallery of {self.dim}")
        size = self.store.searchable() if self.dim is not None and len(vectors) else 0
        if size == 0:
            return [[] for _ in range(len(vectors))]
        want = min(size, max(16, 8 * k))
        widest = size if self.store.exact else min(size, 64 * want)
        while True:  # widen the search until every query sees k persons (or the whole index)
            sims, ids = self.store.search(vectors, want)
            owners = self.store.face_owners(ids.reshape(-1).tolist())
            enough = all(len({owners[i] for i in row if i in owners}) >= k for row in ids.tolist())
            if enough or want >= widest:
                break
            want = min(widest, want * 4)
        names = self.store.names(list(owners.values()))
        out = []
        for row_sims, row_ids in zip(sims, ids):
            best: dict[int, float] = {}
            for s, fid in zip(row_sims.tolist(), row_ids.tolist()):
                pid = owners.get(fid)
                if pid is None or pid not in names:
                    continue
                if s > best.get(pid, -2.0):
                    best[pid] = s
            ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
            out.append([Match(pid, names[pid], float(s)) for pid, s in ranked])
        return out

    def identify_faces(self, faces: Sequence[Face], k: int = 1, threshold: Optional[float] = None) -> list[IdentifiedFace]:
        """Name already-embedded faces: best person at or above the threshold (given, else
        :meth:`open_set`'s for the gallery's size), else ``unknown``."""
        rule = self.open_set() if threshold is None else None
        thr = rule.threshold if rule is not None else float(threshold)  # type: ignore[arg-type]
        fpir = rule.fpir if rule is not None else None
        vecs = np.stack([f.embedding for f in faces]) if faces else np.zeros((0, self.dim or 0), np.float32)
        results = self.search(vecs, k=max(1, k))
        out = []
        for face, matches in zip(faces, results):
            top = matches[0] if matches else None
            known = top is not None and top.similarity >= thr
            out.append(IdentifiedFace(name=top.name if known else UNKNOWN,  # type: ignore[union-attr]
                                      similarity=top.similarity if top else 0.0, threshold=thr, decision=known,
                                      bbox=face.bbox, score=face.score, landmarks=face.landmarks,
                                      person_id=top.person_id if known else None,  # type: ignore[union-attr]
                                      candidates=matches[:k], quality=getattr(face, "quality", None), fpir=fpir))
        return out

    def identify(self, image: ImageSource, k: int = 1, threshold: Optional[float] = None) -> list[IdentifiedFace]:
        """Every face of ``image`` (largest first), each named or ``unknown``."""
        faces = self._need_analyzer().faces(image)
        return self.identify_faces(faces, k=k, threshold=threshold)

    def verify_vector(self, name: str | int, vector: np.ndarray,
                      threshold: Optional[float] = None) -> PersonVerification:
        """Is this face ``name``? Best similarity against their enrolled faces."""
        person, vecs = self.store.person_vectors(name)
        if not len(vecs):
            raise FacerecError(f"{person.name!r} has no enrolled face")
        thr = self.threshold if threshold is None else float(threshold)
        sim = float(np.max(vecs @ np.asarray(vector, np.float32)))
        return PersonVerification(name=person.name, similarity=sim, threshold=thr, decision=sim >= thr,
                                  model=self.embedder_id or "", person=person)

    def verify(self, name: str | int, image: ImageSource, threshold: Optional[float] = None) -> PersonVerification:
        """Is the largest face of ``image`` the person ``name``?"""
        self.store.person(name)  # unknown person before any inference
        face = self._need_analyzer().face(image)
        out = self.verify_vector(name, face.embedding, threshold)
        out.face = face
        return out

    # -- management ----------------------------------------------------------------------------
    def persons(self) -> list[Person]:
        return self.store.persons()

    def person(self, key: int | str) -> Person:
        return self.store.person(key)

    def create_person(self, name: str) -> Person:
        return self.store.person(self.store.create_person(name))

    def rename(self, key: int | str, new_name: str) -> Person:
        pid = self.store.person(key).id
        self.store.rename(pid, new_name)
        return self.store.person(pid)

    def merge(self, source: int | str, target: int | str) -> Person:
        """Move every face of ``source`` to ``target`` and remove ``source``."""
        tid = self.store.person(target).id
        self.store.merge(source, tid)
        return self.store.person(tid)

    def delete(self, key: int | str) -> int:
        """Delete a person and every vector of theirs, from storage and from search; returns faces removed."""
        return len(self.store.delete_person(key))

    def stats(self) -> dict:
        persons, faces = self.store.count()
        out = {"persons": persons, "faces": faces, "model": self.embedder_id, "dim": self.dim,
               "threshold": self._threshold, "index": self.index_status}
        if self._threshold is not None or self._explicit is not None:
            out["identify"] = self.open_set(persons).to_dict()
        return out

    # -- export / import -----------------------------------------------------------------------
    def export(self, path: str | os.PathLike) -> int:
        """Write every person and face to an ``.npz`` (plain arrays + JSON, no pickle); returns faces."""
        path = Path(path)
        if path.suffix != ".npz":
            raise FacerecError(f"{path}: export file must end in .npz")
        rows = list(self.store.all_faces())
        persons = [p.name for p in self.persons()]
        dim = self.dim or 0
        header = {"format": EXPORT_FORMAT, "embedder_id": self.embedder_id, "dim": dim,
                  "threshold": self._threshold, "persons": persons}
        meta = [{"image_sha256": f.image_sha256, "image_path": f.image_path, "bbox": list(f.bbox),
                 "det_score": f.det_score} for _, f in rows]
        vectors = np.stack([f.vector for _, f in rows]) if rows else np.zeros((0, dim), np.float32)
        with atomic_open(path) as fh:
            np.savez(fh, header=np.array(json.dumps(header)), vectors=vectors.astype(np.float32),
                     names=np.array([n for n, _ in rows], dtype=str), faces=np.array(json.dumps(meta)))
        return len(rows)

    def import_(self, path: str | os.PathLike) -> tuple[int, int]:
        """Add the persons and faces of an export (same embedder only); faces already there are skipped.

        Returns (faces added, faces skipped).
        """
        data = read_export(path)  # every field checked before anything is written
        if self.embedder_id is not None and data.embedder_id != self.embedder_id:
            raise IncompatibleEmbeddingsError(f"{safe_text(path)}: export holds vectors of {data.embedder_id!r}, "
                                              f"this gallery {self.embedder_id!r}")
        if self.dim is not None and data.dim != self.dim:
            raise IncompatibleEmbeddingsError(f"{safe_text(path)}: export holds {data.dim}-D vectors, this gallery {self.dim}-D")
        if self.embedder_id is None:
            self.store.set_meta(_embedder_meta(data.embedder_id, data.dim, data.threshold))
            self.embedder_id, self.dim = data.embedder_id, data.dim
            if self._threshold is None and data.threshold is not None:
                self._threshold = data.threshold
        for person in data.persons:
            self.store.create_person(person, exist_ok=True)
        # A multiset: a face is skipped only as often as it is already there, so a person's two faces
        # of one image (same digest, same box) both come back, and a second import adds nothing.
        existing = Counter(_face_key(n, f) for n, f in self.store.all_faces())
        by_person: dict[str, list[FaceRecord]] = {}
        skipped = 0
        for name, rec in data.faces:
            key = _face_key(name, rec)
            if existing[key] > 0:
                existing[key] -= 1
                skipped += 1
                continue
            by_person.setdefault(name, []).append(rec)
        added = 0
        for name, recs in by_person.items():
            self.add_records(name, recs)
            added += len(recs)
        return added, skipped


def _face_key(name: str, face: FaceRecord) -> tuple:
    return name, face.image_sha256, tuple(round(float(v), 1) for v in face.bbox)


def face_record(analyzer, image: ImageSource, pick: Optional[Pick] = None,
                min_quality: Optional[float] = None) -> FaceRecord:
    """Detect and embed one face of an image (the one ``pick`` chooses) as a storable record.

    Without a ``pick`` an image with several faces is refused (:class:`MultipleFacesError` naming
    their boxes): enrolling a bystander poisons the gallery. :class:`~facerec.quality.LowQualityError`
    when the face is below ``min_quality``.
    """
    from facerec.quality import require_quality

    digest, path = image_digest(image)
    img = load_image(image)
    try:
        face = analyzer.face(img, single=pick is None, pick=DEFAULT_PICK if pick is None else pick, fallback=False)
    except NoFaceError as exc:
        raise NoFaceError(f"{path or 'image'}: {str(exc).partition(': ')[2]}") from None
    require_quality(face, min_quality, img, path or "image")
    return record_of(face, digest, path)


def record_of(face: Face, digest: str, path: Optional[str]) -> FaceRecord:
    """A storable record of an embedded face."""
    assert face.embedding is not None
    return FaceRecord(vector=np.asarray(face.embedding, np.float32), image_sha256=digest, image_path=path,
                      bbox=[float(v) for v in face.bbox], det_score=float(face.score))


@dataclass(frozen=True)
class GalleryPipeline:
    """The embedder, detector and flip setting a gallery's faces are (to be) made with."""

    model: str
    detector: str
    flip: bool
    detector_recorded: bool

    def record(self, gallery: "Gallery") -> None:
        """Store the detector in a gallery that has none recorded yet."""
        if not self.detector_recorded and not gallery.store.read_only:
            gallery.store.set_meta({"detector": self.detector})


def gallery_pipeline(path: str | os.PathLike, model: Optional[str] = None, detector: Optional[str] = None,
                     flip: Optional[bool] = None) -> GalleryPipeline:
    """What to build for the gallery at ``path``: the given settings, else the recorded ones, else the defaults."""
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.recognition.factory import DEFAULT_EMBEDDER

    meta = read_meta(path)
    if model is None and "embedder_name" not in meta and HEAD_MARK in meta.get("embedder_id", ""):
        raise FacerecError(f"{safe_text(path)}: its vectors come from the fine-tuned model {meta['embedder_id']!r}, "
                           "whose head folder is not recorded here (an imported gallery): give --model "
                           "'BASE>HEAD_DIR' naming that head")
    return GalleryPipeline(model=model or meta.get("embedder_name") or DEFAULT_EMBEDDER,
                           detector=detector or meta.get("detector") or DEFAULT_DETECTOR,
                           flip=flip if flip is not None else meta.get("flip") == "1",
                           detector_recorded="detector" in meta)


__all__ = ["Gallery", "IdentifiedFace", "Match", "EnrollResult", "PersonNotFoundError", "UNKNOWN", "image_digest",
           "face_record", "record_of", "read_meta"]

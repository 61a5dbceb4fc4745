"""The one contract every gallery backend implements (as deepface's ``Database``), and the one
function that picks the backend from a ``--db`` value.

Two backends implement it: :class:`~facerec.gallery.store.GalleryStore` (an SQLite file, searched
through a FAISS cache kept beside it) and :class:`~facerec.gallery.milvus_store.MilvusStore`
(Milvus Lite or a Milvus server, which stores and searches). The facade
(:class:`~facerec.gallery.gallery.Gallery`) holds a :class:`GalleryBackend` and never asks which;
``tests/unit/test_gallery_backends.py`` runs one suite on both.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from facerec.errors import FacerecError
from facerec.io.text import is_valid_text


class PersonNotFoundError(FacerecError):
    """No person with that name or id."""


class PersonExistsError(FacerecError):
    """A person with that name already exists."""


class InvalidNameError(FacerecError):
    """A person's name is empty or too long."""


class GalleryUnavailableError(FacerecError):
    """The gallery's storage failed an operation: its server is down or unreachable, or it refused."""


@dataclass
class Person:
    """A person with their number of faces."""

    id: int
    name: str
    faces: int
    created: float

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "faces": self.faces, "created": round(self.created, 3)}


@dataclass
class FaceRecord:
    """One enrolled face: its vector and where it came from."""

    vector: np.ndarray
    image_sha256: str
    image_path: Optional[str]
    bbox: Sequence[float]
    det_score: float
    id: int = 0
    person_id: int = 0

    def to_dict(self) -> dict:
        return {"id": self.id, "person_id": self.person_id, "image_sha256": self.image_sha256,
                "image_path": self.image_path, "bbox": [round(float(v), 2) for v in self.bbox],
                "det_score": round(float(self.det_score), 4)}


class Counts(NamedTuple):
    """How many persons and faces a gallery holds."""

    persons: int
    faces: int


@dataclass(frozen=True)
class FacesAdded:
    """What :meth:`GalleryBackend.add_faces` stored: the person, the new face ids, and which of the
    given records they are (indices; records skipped as already enrolled are missing)."""

    person_id: int
    face_ids: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)


def validate_name(name: str) -> str:
    """A person's name: stripped, non-empty, one line, at most 200 characters."""
    clean = " ".join(str(name).split())
    if not is_valid_text(clean):
        raise InvalidNameError("a person's name must be valid text (it holds a lone surrogate or bytes that are not UTF-8)")
    if not clean:
        raise InvalidNameError("a person's name must not be empty")
    if len(clean) > 200:
        raise InvalidNameError("a person's name must be at most 200 characters")
    return clean


def writer_target(find: Callable[[int | str], tuple], person: int | str, *, create: bool,
                  new_person: bool) -> Optional[int]:
    """The id of the person :meth:`GalleryBackend.add_faces` writes to, from ``find`` (a backend's
    lookup, returning (id, name, ...)); None when a new person of that name is to be created."""
    try:
        row = find(person)
    except PersonNotFoundError:
        if not create or isinstance(person, int):
            raise
        return None
    if new_person:
        raise PersonExistsError(f"a person named {row[1]!r} already exists")
    return int(row[0])


class GalleryBackend(ABC):
    """Persons, their face vectors, the gallery's metadata, and search by inner product.

    Every method is safe from several threads; writes are safe with writers in other processes
    (each backend says how). Persons are named by id (int) or name (str) wherever ``key`` is taken.
    """

    path: object
    read_only: bool = False
    """Listing and searching work, writes raise :class:`FacerecError`."""

    # -- metadata ----------------------------------------------------------------------------
    @abstractmethod
    def meta(self) -> dict[str, str]:
        """The gallery's key -> value metadata (embedder id, dim, threshold, detector, gallery id)."""

    @abstractmethod
    def set_meta(self, values: dict[str, str]) -> None:
        """Write these metadata keys."""

    @property
    @abstractmethod
    def gallery_id(self) -> str:
        """Random id written when the gallery was created."""

    @abstractmethod
    def close(self) -> None:
        """Persist what is pending and let go of the database."""

    # -- persons -----------------------------------------------------------------------------
    @abstractmethod
    def person(self, key: int | str) -> Person:
        """A person by id or name (:class:`PersonNotFoundError`)."""

    @abstractmethod
    def persons(self) -> list[Person]:
        """Every person with their face count, by name."""

    @abstractmethod
    def names(self, person_ids: Sequence[int]) -> dict[int, str]:
        """person id -> name, for the persons that exist."""

    @abstractmethod
    def count(self) -> Counts:
        """Persons and faces, counting every other writer's acknowledged rows."""

    @abstractmethod
    def create_person(self, name: str, exist_ok: bool = False) -> int:
        """Add a person (:class:`PersonExistsError` unless ``exist_ok``); returns their id."""

    @abstractmethod
    def rename(self, key: int | str, new_name: str) -> None:
        """Rename a person (their id stays)."""

    @abstractmethod
    def merge(self, source: int | str, target: int | str) -> int:
        """Move every face of ``source`` to ``target`` and delete ``source``; returns faces moved."""

    @abstractmethod
    def delete_person(self, key: int | str) -> list[int]:
        """Delete a person and every vector of theirs, from storage and search; returns the face ids."""

    # -- faces -------------------------------------------------------------------------------
    @abstractmethod
    def add_faces(self, person: int | str, faces: Sequence[FaceRecord], *, create: bool = True,
                  dim: Optional[int] = None, new_person: bool = False, skip_enrolled: bool = False) -> FacesAdded:
        """Store faces under a person (created when missing and ``create``), searchable at once.

        ``new_person`` refuses a name that exists; ``skip_enrolled`` leaves out faces whose image is
        already enrolled for that person. Both are decided so that concurrent writers cannot both pass.
        """

    @abstractmethod
    def enrolled_images(self, persons: Optional[Sequence[str]] = None) -> set[tuple[str, str]]:
        """Every (person name, image SHA-256) pair, or those of the named persons only."""

    @abstractmethod
    def face_ids(self) -> np.ndarray:
        """Every face id, ascending."""

    @abstractmethod
    def vectors(self, ids: Optional[Sequence[int]] = None) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, vectors) of the given faces, or of all of them; rows ordered by id."""

    @abstractmethod
    def iter_vectors(self, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(face ids, vectors) of every face, ``batch`` rows at a time."""

    @abstractmethod
    def face_owners(self, face_ids: Sequence[int]) -> dict[int, int]:
        """face id -> person id, for the faces that still exist."""

    @abstractmethod
    def person_vectors(self, key: int | str) -> tuple[Person, np.ndarray]:
        """A person and the vectors of their faces."""

    @abstractmethod
    def faces_of(self, key: int | str) -> list[FaceRecord]:
        """Every face of a person, by id."""

    @abstractmethod
    def all_faces(self) -> Iterator[tuple[str, FaceRecord]]:
        """(person name, face) for every face, by person then id."""

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`FacerecError` unless the stored data is sound."""

    # -- search ------------------------------------------------------------------------------
    exact: bool = True
    """Whether :meth:`search` is exact (else the caller widens ``k`` to make up for misses)."""

    @abstractmethod
    def searchable(self) -> int:
        """How many faces :meth:`search` covers now."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (inner products, face ids) per query row, best first; missing slots have id -1."""

    @abstractmethod
    def search_ids(self) -> np.ndarray:
        """The face ids :meth:`search` can return (for checks)."""

    @property
    @abstractmethod
    def index_status(self) -> str:
        """How the search index was last brought up to date, in words."""

    @abstractmethod
    def rebuild_index(self) -> str:
        """Rebuild the search index now (where there is one to rebuild); returns :attr:`index_status`."""

    @abstractmethod
    def flush(self) -> None:
        """Persist the search index if it changed."""


def open_backend(location: str | os.PathLike) -> GalleryBackend:
    """The backend of a ``--db`` value: a Milvus gallery for ``milvus://``/``http(s)://``, else an SQLite file."""
    from facerec.gallery.milvus_store import MilvusStore, is_milvus

    if is_milvus(location):
        return MilvusStore(str(location))
    from facerec.gallery.store import GalleryStore

    return GalleryStore(location)


def read_meta(location: str | os.PathLike) -> dict[str, str]:
    """The gallery's metadata, without creating anything (empty for an SQLite file that does not exist yet)."""
    from facerec.gallery.milvus_store import is_milvus

    if not is_milvus(location) and not os.path.exists(location):
        return {}
    backend = open_backend(location)
    try:
        return backend.meta()
    finally:
        backend.close()

"""The gallery's source of truth: an SQLite file (WAL) of persons and their face vectors.

Every public write runs in one ``BEGIN IMMEDIATE`` transaction and bumps the ``generation``
counter in the ``meta`` table, so a search index built from the store can tell whether it is
still current. A process killed mid-write leaves the last committed state and nothing else.
"""
from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from facerec.errors import FacerecError
from facerec.gallery.backend import (Counts, FaceRecord, FacesAdded, GalleryBackend, InvalidNameError, Person,
                                     PersonExistsError, PersonNotFoundError, validate_name, writer_target)
from facerec.gallery.search_cache import SearchCache
from facerec.io.text import safe_text

SCHEMA_VERSION = 1
APPLICATION_ID = 0x46524543
"""``PRAGMA application_id`` of a facerec gallery ("FREC"), written at creation and checked on open."""
MAX_ID = 2 ** 63 - 1
EMPTY_GALLERY_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""An existing empty file is taken as a new gallery only under one of these names (not ``photo.jpg``)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    image_sha256 TEXT NOT NULL,
    image_path TEXT,
    bbox TEXT NOT NULL,
    det_score REAL NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
CREATE INDEX IF NOT EXISTS faces_image ON faces(image_sha256);
"""


class GalleryStore(GalleryBackend):
    """Persons and face vectors in SQLite, searched through a FAISS cache beside the file
    (:class:`~facerec.gallery.search_cache.SearchCache`); thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise FacerecError(f"{self.path}: is a directory, not a gallery database")
        self.read_only = self.path.is_file() and not (os.access(self.path, os.W_OK)
                                                      and os.access(self.path.parent, os.W_OK))
        """The file or its folder cannot be written (a read-only mount, say): opened immutable, every
        read works, every write says so."""
        self._existed = self.path.exists()
        if not self.read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = None
        self._cache = SearchCache(self)
        try:
            if self.read_only:  # WAL needs its -shm beside the file: read the file as it is instead
                uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
                self._db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
                self._check_ours()
                if self._get_meta("schema_version") != str(SCHEMA_VERSION):
                    raise FacerecError(f"{safe_text(self.path)}: not a facerec gallery of schema {SCHEMA_VERSION}")
                return
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
            legacy = self._check_ours()  # before anything is written to the file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self.transaction():
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(stmt)
                version = self._get_meta("schema_version")
                if version is None:
                    self._set_meta("schema_version", str(SCHEMA_VERSION))
                    self._set_meta("generation", "0")
                elif version != str(SCHEMA_VERSION):
                    raise FacerecError(f"{safe_text(self.path)}: gallery schema {version} is not supported "
                                       f"(expected {SCHEMA_VERSION})")
                if legacy:
                    self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                if self._get_meta("gallery_id") is None:  # new, or made before galleries had ids
                    self._set_meta("gallery_id", uuid.uuid4().hex)
        except sqlite3.DatabaseError as exc:
            if self._db is not None:
                self._db.close()
            raise FacerecError(f"{safe_text(self.path)}: not a facerec gallery or damaged ({exc})") from None
        except BaseException:
            if self._db is not None:
                self._db.close()
            raise

    def _check_ours(self) -> bool:
        """Refuse a SQLite file that is not a facerec gallery, before writing anything into it.

        Ours: a new, empty file, or one stamped with :data:`APPLICATION_ID`, or a gallery made before
        the stamp (its ``meta`` table has a ``schema_version``). Returns True when the stamp is to be added.
        """
        app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == APPLICATION_ID:
            return False
        if app_id == 0 and not tables:
            if self._existed and self.path.suffix.lower() not in EMPTY_GALLERY_SUFFIXES:
                raise FacerecError(f"{safe_text(self.path)}: an existing file that is not a gallery (an empty "
                                   f"file becomes one only when named {', '.join(EMPTY_GALLERY_SUFFIXES)})")
            return True
        if app_id == 0 and "meta" in tables:
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            except sqlite3.DatabaseError:
                row = None
            if row is not None:
                return True
        raise FacerecError(f"{safe_text(self.path)}: not a facerec gallery (a SQLite file of another program; "
                           "nothing was written to it)")

    # -- plumbing ------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._cache.flush()
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error."""
        if self.read_only:
            raise FacerecError(f"{safe_text(self.path)}: the gallery is read-only (its file or folder cannot be "
                               "written); listing and searching work, changes do not")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _get_meta(self, key: str) -> Optional[str]:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         (key, value))

    def _bump(self) -> int:
        gen = int(self._get_meta("generation") or 0) + 1
        self._set_meta("generation", str(gen))
        return gen

    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            for k, v in values.items():
                self._set_meta(k, v)

    @property
    def gallery_id(self) -> str:
        """Random id written when the gallery was created: binds a saved search index to this database."""
        with self._lock:
            return str(self._get_meta("gallery_id") or "")

    @property
    def generation(self) -> int:
        """Counter bumped by every write; an index built at another generation is stale."""
        with self._lock:
            return int(self._get_meta("generation") or 0)

    # -- persons -------------------------------------------------------------------------------
    def _person_row(self, key: int | str) -> tuple[int, str]:
        if isinstance(key, int):
            row = None if not 0 < key <= MAX_ID else \
                self._db.execute("SELECT id, name FROM persons WHERE id=?", (int(key),)).fetchone()
        else:
            row = self._db.execute("SELECT id, name FROM persons WHERE name=?", (validate_name(key),)).fetchone()
        if row is None:
            what = f"id {key}" if isinstance(key, int) else repr(key)
            raise PersonNotFoundError(f"no person {what} in the gallery")
        return int(row[0]), str(row[1])

    def person(self, key: int | str) -> Person:
        """A person by id (int) or name (str)."""
        with self._lock:
            pid, _ = self._person_row(key)
            row = self._db.execute("SELECT p.id, p.name, p.created, COUNT(f.id) FROM persons p "
                                   "LEFT JOIN faces f ON f.person_id = p.id WHERE p.id=? GROUP BY p.id",
                                   (pid,)).fetchone()
            return Person(id=row[0], name=row[1], created=row[2], faces=row[3])

    def persons(self) -> list[Person]:
        """Every person with their face count, by name."""
        with self._lock:
            rows = self._db.execute("SELECT p.id, p.name, p.created, COUNT(f.id) FROM persons p "
                                    "LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [Person(id=r[0], name=r[1], created=r[2], faces=r[3]) for r in rows]

    def names(self, person_ids: Sequence[int]) -> dict[int, str]:
        ids = sorted({int(i) for i in person_ids})
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(f"SELECT id, name FROM persons WHERE id IN ({','.join('?' * len(ids))})",
                                    ids).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def count(self) -> Counts:
        with self._lock:
            p = self._db.execute("SELECT COUNT(*) FROM persons").fetchone()[0]
            f = self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        return Counts(int(p), int(f))

    def create_person(self, name: str, exist_ok: bool = False) -> int:
        name = validate_name(name)
        with self.transaction() as db:
            row = db.execute("SELECT id FROM persons WHERE name=?", (name,)).fetchone()
            if row is not None:
                if not exist_ok:
                    raise PersonExistsError(f"a person named {name!r} already exists")
                return int(row[0])
            cur = db.execute("INSERT INTO persons(name, created) VALUES(?, ?)", (name, time.time()))
            self._bump()
            return int(cur.lastrowid)

    def rename(self, key: int | str, new_name: str) -> None:
        new_name = validate_name(new_name)
        with self.transaction() as db:
            pid, old = self._person_row(key)
            if new_name == old:
                return
            if db.execute("SELECT 1 FROM persons WHERE name=?", (new_name,)).fetchone():
                raise PersonExistsError(f"a person named {new_name!r} already exists (merge them instead)")
            db.execute("UPDATE persons SET name=? WHERE id=?", (new_name, pid))
            self._bump()

    def merge(self, source: int | str, target: int | str) -> int:
        with self.transaction() as db:
            sid, sname = self._person_row(source)
            tid, _ = self._person_row(target)
            if sid == tid:
                raise FacerecError(f"cannot merge {sname!r} into itself")
            moved = db.execute("UPDATE faces SET person_id=? WHERE person_id=?", (tid, sid)).rowcount
            db.execute("DELETE FROM persons WHERE id=?", (sid,))
            self._bump()
            return int(moved)

    def delete_person(self, key: int | str) -> list[int]:
        with self._lock:
            self._cache.current()  # loaded at the generation before, so the delete goes straight into it
            with self.transaction() as db:
                pid, _ = self._person_row(key)
                ids = [int(r[0]) for r in db.execute("SELECT id FROM faces WHERE person_id=?", (pid,))]
                db.execute("DELETE FROM faces WHERE person_id=?", (pid,))
                db.execute("DELETE FROM persons WHERE id=?", (pid,))
                gen = self._bump()
            self._cache.removed(ids, gen)
            return ids

    # -- faces ---------------------------------------------------------------------------------
    def add_faces(self, person: int | str, faces: Sequence[FaceRecord], *, create: bool = True,
                  dim: Optional[int] = None, new_person: bool = False, skip_enrolled: bool = False) -> FacesAdded:
        """All in one write transaction, so ``new_person`` and ``skip_enrolled`` are decided where
        concurrent writers cannot race on them; then into the search cache."""
        with self._lock:
            self._cache.current()  # loaded at the generation before, so the new faces go straight into it
            pid, ids, gen, kept = self._insert_faces(person, faces, create, dim, new_person, skip_enrolled)
            self._cache.added(ids, np.stack([faces[k].vector for k in kept]) if kept else None, gen)
            return FacesAdded(pid, ids, kept)

    def _insert_faces(self, person: int | str, faces: Sequence[FaceRecord], create: bool, dim: Optional[int],
                      new_person: bool, skip_enrolled: bool) -> tuple[int, list[int], int, list[int]]:
        """(person id, new face ids, generation, indices of ``faces`` stored), in one transaction."""
        with self.transaction() as db:
            pid = writer_target(self._person_row, person, create=create, new_person=new_person)
            if pid is None:
                cur = db.execute("INSERT INTO persons(name, created) VALUES(?, ?)", (validate_name(str(person)), time.time()))
                pid = int(cur.lastrowid)
            ids, kept = [], []
            now = time.time()
            for k, f in enumerate(faces):
                vec = np.ascontiguousarray(f.vector, dtype=np.float32).reshape(-1)
                if dim is not None and vec.shape[0] != dim:
                    raise FacerecError(f"vector of dimension {vec.shape[0]} does not fit this gallery ({dim})")
                if skip_enrolled and db.execute("SELECT 1 FROM faces WHERE person_id=? AND image_sha256=? LIMIT 1",
                                                (pid, f.image_sha256)).fetchone():
                    continue
                cur = db.execute("INSERT INTO faces(person_id, vector, image_sha256, image_path, bbox, det_score, created) "
                                 "VALUES(?, ?, ?, ?, ?, ?, ?)",
                                 (pid, vec.tobytes(), f.image_sha256, f.image_path,
                                  json.dumps([round(float(v), 2) for v in f.bbox]), float(f.det_score), now))
                ids.append(int(cur.lastrowid))
                kept.append(k)
            gen = self._bump() if ids or not skip_enrolled else int(self._get_meta("generation") or 0)
            return pid, ids, gen, kept

    def enrolled_images(self, persons: Optional[Sequence[str]] = None) -> set[tuple[str, str]]:
        sql = "SELECT p.name, f.image_sha256 FROM faces f JOIN persons p ON p.id = f.person_id"
        if persons is None:
            with self._lock:
                return {(str(a), str(b)) for a, b in self._db.execute(sql)}
        names = sorted({str(n) for n in persons})
        out: set[tuple[str, str]] = set()
        for start in range(0, len(names), 900):
            chunk = names[start:start + 900]
            with self._lock:
                rows = self._db.execute(f"{sql} WHERE p.name IN ({','.join('?' * len(chunk))})", chunk)
                out |= {(str(a), str(b)) for a, b in rows}
        return out

    def face_ids(self) -> np.ndarray:
        with self._lock:
            rows = self._db.execute("SELECT id FROM faces ORDER BY id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors(self, ids: Optional[Sequence[int]] = None) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, vectors) of the given faces, or of all of them; rows ordered by id."""
        with self._lock:
            if ids is None:
                rows = self._db.execute("SELECT id, vector FROM faces ORDER BY id").fetchall()
            else:
                rows = []
                ids = [int(i) for i in ids]
                for start in range(0, len(ids), 900):
                    chunk = ids[start:start + 900]
                    rows += self._db.execute(f"SELECT id, vector FROM faces WHERE id IN ({','.join('?' * len(chunk))})",
                                             chunk).fetchall()
                rows.sort()
        out_ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return out_ids, np.zeros((0, 0), dtype=np.float32)
        vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        return out_ids, vecs

    def iter_vectors(self, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(face ids, vectors) of every face, ``batch`` rows at a time, by id (bounded memory for big galleries)."""
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute("SELECT id, vector FROM faces WHERE id > ? ORDER BY id LIMIT ?",
                                        (last, batch)).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield (np.array([r[0] for r in rows], dtype=np.int64),
                   np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))

    def face_owners(self, face_ids: Sequence[int]) -> dict[int, int]:
        """face id -> person id, for the faces that still exist."""
        ids = sorted({int(i) for i in face_ids if i >= 0})
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(f"SELECT id, person_id FROM faces WHERE id IN ({','.join('?' * len(ids))})",
                                    ids).fetchall()
        return {int(a): int(b) for a, b in rows}

    def person_vectors(self, key: int | str) -> tuple[Person, np.ndarray]:
        with self._lock:
            person = self.person(key)
            rows = self._db.execute("SELECT vector FROM faces WHERE person_id=? ORDER BY id", (person.id,)).fetchall()
        vecs = np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 0), np.float32)
        return person, vecs

    def faces_of(self, key: int | str) -> list[FaceRecord]:
        with self._lock:
            pid, _ = self._person_row(key)
            rows = self._db.execute("SELECT id, person_id, vector, image_sha256, image_path, bbox, det_score "
                                    "FROM faces WHERE person_id=? ORDER BY id", (pid,)).fetchall()
        return [_face_row(r) for r in rows]

    def all_faces(self) -> Iterator[tuple[str, FaceRecord]]:
        """(person name, face) for every face, by person then id."""
        with self._lock:
            rows = self._db.execute("SELECT f.id, f.person_id, f.vector, f.image_sha256, f.image_path, f.bbox, "
                                    "f.det_score, p.name FROM faces f JOIN persons p ON p.id = f.person_id "
                                    "ORDER BY p.name, f.id").fetchall()
        return iter([(str(r[7]), _face_row(r[:7])) for r in rows])

    def check(self) -> None:
        """Raise unless SQLite's integrity check passes."""
        with self._lock:
            res = self._db.execute("PRAGMA integrity_check").fetchone()[0]
        if res != "ok":
            raise FacerecError(f"{self.path}: integrity check failed: {res}")

    # -- search (through the FAISS cache) ------------------------------------------------------
    @property
    def exact(self) -> bool:  # type: ignore[override]
        index = self._cache.current()
        return index is None or index.exact

    def searchable(self) -> int:
        index = self._cache.current()
        return 0 if index is None else len(index)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        index = self._cache.current()
        queries = np.asarray(queries, np.float32)
        if index is None:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return index.search(queries, k, vectors=self.vectors)  # the PQ scan's shortlist re-ranked exactly

    def search_ids(self) -> np.ndarray:
        index = self._cache.current()
        return np.zeros(0, np.int64) if index is None else index.ids.copy()

    @property
    def index_status(self) -> str:
        return self._cache.status

    @property
    def index_path(self) -> Path:
        """Where the search index is saved (beside the database)."""
        return self._cache.path

    def rebuild_index(self) -> str:
        return self._cache.rebuild()

    def flush(self) -> None:
        self._cache.flush()


def _database_errors(method):
    """Turn :class:`sqlite3.DatabaseError` raised by a store method into one clear :class:`FacerecError`."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            what = "is busy (locked by another process)" if "locked" in str(exc) or "busy" in str(exc) \
                else "is damaged or not a gallery"
            raise FacerecError(f"{safe_text(self.path)}: gallery database {what} ({exc})") from None
    return wrapper


for _name, _method in list(vars(GalleryStore).items()):
    if isinstance(_method, property):
        setattr(GalleryStore, _name, property(_database_errors(_method.fget)))
    elif callable(_method) and not _name.startswith("_") and _name not in ("transaction", "close"):
        setattr(GalleryStore, _name, _database_errors(_method))


def _face_row(r: tuple) -> FaceRecord:
    return FaceRecord(id=int(r[0]), person_id=int(r[1]), vector=np.frombuffer(r[2], dtype=np.float32).copy(),
                      image_sha256=str(r[3]), image_path=r[4], bbox=json.loads(r[5]), det_score=float(r[6]))

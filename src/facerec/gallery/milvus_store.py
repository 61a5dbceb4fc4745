"""A gallery kept in Milvus: persons, faces and their vectors, and the gallery's metadata.

``milvus:///path/file.db`` opens an embedded Milvus Lite file, ``milvus://host:19530`` (or
``http(s)://host:port``) a Milvus server; a path segment after the address names the gallery
(``milvus://host:19530/staff``, default ``facerec``), which owns three collections:
``<name>_meta``, ``<name>_persons`` and ``<name>_faces`` (vectors searched by inner product in
Milvus itself). Nothing lives outside Milvus, so there is no second store that can drift.

:class:`MilvusStore` implements :class:`~facerec.gallery.backend.GalleryBackend`, the contract
the SQLite store implements too; Milvus keeps its own index, so there is no cache to keep in step.

**Many writers.** Milvus has no multi-row transactions and no counters, so no id is allocated:
every key is derived from content, and every write is an upsert. A person's id is a hash of the
name (:func:`person_key`, below 2**53 so a browser's JavaScript numbers hold it exactly); a face's
id a hash of (person id, image SHA-256, face number) (:func:`face_key`, 63 bits), the face number
being 0 when only images new to the person are stored (``skip_enrolled``, as dataset enrolment
does), else how many faces of that image the person already has. Two processes enrolling the same name
or the same image at once therefore write the same row twice, not two rows, and a retried or
repeated write changes nothing. A renamed person keeps its id; a new person of its old name then
takes the next id of the name's deterministic sequence (``person_key(name, attempt)``), which
every writer computes alike. A delete removes the person's faces, the person, and again any face
written for that id meanwhile, so it leaves no vector behind; a merge moves faces under the target's
keys before deleting the source. Within one process writes are also serialised by a lock.

**Consistency levels.** The collections are created ``Strong``. Reads whose answer is printed or
must include every other writer's acknowledged rows (:meth:`count`, :meth:`persons`,
:meth:`enrolled_images` for a resumed run, exports, :meth:`check`) ask for ``Strong`` explicitly:
on a server that waits for Milvus's next time tick (about 200 ms). Reads on the per-image write
path and searches use ``Session``: this client's own writes are visible, other writers' within a
time tick; content-derived keys make a stale read on the write path harmless (the same row is
upserted again). A person looked up by id or name and not found at ``Session`` level is looked up
again ``Strong``, so a person created through another process (another service replica) is never
reported missing; a face enrolled through another process may be missed by identify for up to
one time tick. Milvus Lite is one process and ignores the level.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from collections import Counter
from typing import Iterator, Optional, Sequence
from urllib.parse import urlparse

import numpy as np

from facerec.errors import FacerecError
from facerec.gallery.backend import (Counts, FaceRecord, FacesAdded, GalleryBackend, GalleryUnavailableError, Person,
                                     PersonExistsError, PersonNotFoundError, validate_name, writer_target)

SCHEMES = ("milvus://", "http://", "https://")
DEFAULT_NAME = "facerec"
_PAGE = 1000
_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
STRONG = "Strong"
"""Reads that must see every writer's acknowledged rows (counts that are printed, resumes)."""
SESSION = "Session"
"""Reads on the write path and searches: this client's writes visible, other writers' within a time tick."""
_PERSON_BITS = 53
_FACE_BITS = 63
_MAX_ATTEMPTS = 64
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
"""Milvus's INT64 keys: an id outside is no row (asking Milvus for it is an error, not a miss)."""


def _hash_key(bits: int, *parts: object) -> int:
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % ((1 << bits) - 1) + 1  # in [1, 2**bits - 1]


def person_key(name: str, attempt: int = 0) -> int:
    """The id of a person named ``name``: attempt 0 unless that id is held by another name (a rename)."""
    return _hash_key(_PERSON_BITS, "facerec-person", attempt, name)


def face_key(person_id: int, image_sha256: str, number: int) -> int:
    """The id of face ``number`` (0 for the first) of an image enrolled under a person."""
    return _hash_key(_FACE_BITS, "facerec-face", int(person_id), image_sha256, int(number))


def is_milvus(location: object) -> bool:
    """Whether a ``--db`` value names a Milvus gallery rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def gallery_location(value: str | os.PathLike) -> Path | str:
    """A ``--db`` value as the gallery takes it: the URL of a Milvus gallery, else the path of an SQLite file."""
    return str(value) if is_milvus(str(value)) else Path(value)


def parse_location(location: str) -> tuple[str, str]:
    """(pymilvus uri, gallery name) of a ``milvus://`` / ``http(s)://`` location."""
    url = urlparse(location)
    if url.scheme == "milvus" and not url.netloc:  # milvus:///path/file.db: Milvus Lite
        if not url.path or url.path == "/":
            raise FacerecError(f"{location}: give a file, e.g. milvus:///path/gallery.db")
        return url.path, DEFAULT_NAME
    if not url.hostname:
        raise FacerecError(f"{location}: no host (milvus://host:19530 or milvus:///path/file.db)")
    name = url.path.strip("/") or DEFAULT_NAME
    if not name.replace("_", "").isalnum():
        raise FacerecError(f"{location}: gallery name {name!r} may hold only letters, digits and '_'")
    scheme = "https" if url.scheme == "https" else "http"
    return f"{scheme}://{url.hostname}:{url.port or 19530}", name


def _client(uri: str) -> "_Guarded":
    try:
        from pymilvus import MilvusClient
        # pymilvus logs every failed call at ERROR with a traceback; each becomes one GalleryUnavailableError
        # line instead (_Guarded), and the query iterator warns on every page with Lite
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        # Milvus Lite logs a whole traceback when its file is locked by another process; the error raised
        # below says so in one line
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
    except ImportError:
        raise FacerecError("Milvus galleries need pymilvus and milvus-lite: pip install 'facerec[milvus]'") from None
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _Guarded(MilvusClient(uri), uri)
    except Exception as exc:  # noqa: BLE001 - connection refused, bad file, ...
        hint = "" if "://" in uri else "; a Milvus Lite file opens in one process at a time: is another command or " \
            "the service using it? (a Milvus server takes many)"
        raise FacerecError(f"{uri}: cannot open the Milvus gallery ({type(exc).__name__}: {exc}{hint})") from None


@contextmanager
def _milvus_errors(uri: str, operation: str) -> Iterator[None]:
    """pymilvus's errors (a server gone, a refused request) as one-line :class:`GalleryUnavailableError`."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:300]
        raise GalleryUnavailableError(f"{uri}: Milvus failed in {operation}: {reason}") from None


class _Guarded:
    """A ``MilvusClient`` (or one of its iterators) whose every call raises :class:`GalleryUnavailableError`
    where pymilvus raises its own errors: the CLI prints one line, the service answers 503."""

    def __init__(self, inner, uri: str) -> None:
        self._inner, self._uri = inner, uri

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with _milvus_errors(self._uri, name):
                result = attr(*args, **kwargs)
            return _Guarded(result, self._uri) if name.endswith("_iterator") else result

        return call


def _quote(text: str) -> str:
    # a double-quoted string literal in Milvus filter syntax; characters past U+FFFF as themselves, since
    # Milvus's parser refuses the surrogate pairs (\ud835\udd0a) an ASCII-only dump would write
    return json.dumps(text, ensure_ascii=False)


class MilvusStore(GalleryBackend):
    """Persons and face vectors in Milvus collections; thread-safe, and safe with writers in other processes."""

    exact = True
    """Searches use a FLAT (exact inner product) index on Milvus Lite, AUTOINDEX on a server."""
    index_status = "searched in Milvus"  # type: ignore[assignment]

    def __init__(self, location: str) -> None:
        self.path = location
        self.uri, self.name = parse_location(location)
        self.lite = "://" not in self.uri
        with _LOCKS_GUARD:  # one writer lock per gallery in this process, however many stores open it
            self._lock = _LOCKS.setdefault((self.uri, self.name), threading.RLock())
        self._client = _client(self.uri)
        self._faces_exist = False
        self.c_meta, self.c_persons, self.c_faces = (f"{self.name}_meta", f"{self.name}_persons", f"{self.name}_faces")
        with self._lock:
            if not self._client.has_collection(self.c_meta):
                self._create_small(self.c_meta, key_is_text=True)
            if not self._client.has_collection(self.c_persons):
                self._create_small(self.c_persons, key_is_text=False)
            for name in (self.c_meta, self.c_persons, self.c_faces):  # a reopened gallery's collections start released
                if self._client.has_collection(name):
                    self._client.load_collection(name)
            if "gallery_id" not in self.meta():  # two processes creating the gallery at once: the last id stays
                self.set_meta({"gallery_id": uuid.uuid4().hex})
            if "dim" in self.meta():
                self._ensure_faces(int(self.meta()["dim"]))

    # -- plumbing ------------------------------------------------------------------------------
    def _schema(self):
        from pymilvus import MilvusClient

        return MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)

    def _create(self, name: str, schema, vector_dim: int) -> None:
        params = self._client.prepare_index_params()
        index = "FLAT" if self.lite or vector_dim <= 2 else "AUTOINDEX"
        params.add_index(field_name="vector", index_type=index, metric_type="IP")
        try:
            self._client.create_collection(name, schema=schema, index_params=params, consistency_level=STRONG)
        except Exception:  # noqa: BLE001 - another process created it first (same schema): use theirs
            if not self._client.has_collection(name):
                raise
        self._client.load_collection(name)

    def _create_small(self, name: str, key_is_text: bool) -> None:
        """Meta (key -> value) or persons (id, name, created); Milvus wants a vector in every collection."""
        from pymilvus import DataType

        schema = self._schema()
        if key_is_text:
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("value", DataType.VARCHAR, max_length=4096)
        else:
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("name", DataType.VARCHAR, max_length=1024)
            schema.add_field("created", DataType.DOUBLE)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
        self._create(name, schema, 2)

    def _ensure_faces(self, dim: int) -> None:
        from pymilvus import DataType

        if self._client.has_collection(self.c_faces):
            return
        schema = self._schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("person_id", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("image_sha256", DataType.VARCHAR, max_length=64)
        schema.add_field("image_path", DataType.VARCHAR, max_length=4096)
        schema.add_field("bbox", DataType.VARCHAR, max_length=256)
        schema.add_field("det_score", DataType.DOUBLE)
        schema.add_field("created", DataType.DOUBLE)
        self._create(self.c_faces, schema, dim)

    @property
    def _has_faces(self) -> bool:
        if not self._faces_exist:  # once there, it stays (nothing drops it)
            self._faces_exist = bool(self._client.has_collection(self.c_faces))
        return self._faces_exist

    def _all(self, collection: str, filter: str, fields: list[str], level: str = STRONG) -> list[dict]:
        """Every row matching ``filter`` (paged: Milvus caps one query's window), read at consistency ``level``."""
        if collection == self.c_faces and not self._has_faces:
            return []
        it = self._client.query_iterator(collection, batch_size=_PAGE, filter=filter, output_fields=fields,
                                         consistency_level=level)
        out: list[dict] = []
        try:
            while True:
                page = it.next()
                if not page:
                    return out
                out.extend(page)
        finally:
            it.close()

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def meta(self) -> dict[str, str]:
        with self._lock:
            rows = self._all(self.c_meta, 'key != ""', ["key", "value"])
        return {str(r["key"]): str(r["value"]) for r in rows}

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock:
            self._client.upsert(self.c_meta, [{"key": k, "value": str(v), "vector": [1.0, 0.0]} for k, v in values.items()])
            if "dim" in values:
                self._ensure_faces(int(values["dim"]))

    @property
    def gallery_id(self) -> str:
        return self.meta().get("gallery_id", "")

    # -- persons -------------------------------------------------------------------------------
    def _person_row(self, key: int | str, level: str = SESSION) -> tuple[int, str, float]:
        """(id, name, created) of a person by id or name; a miss at ``Session`` level is asked again ``Strong``
        (a person another process created a moment ago, e.g. through another service replica, is found)."""
        try:
            return self._person_row_at(key, level)
        except PersonNotFoundError:
            if level == STRONG or self.lite:
                raise
            return self._person_row_at(key, STRONG)

    def _person_row_at(self, key: int | str, level: str) -> tuple[int, str, float]:
        if isinstance(key, int):
            rows = [] if not _INT64_MIN <= key <= _INT64_MAX else self._client.get(self.c_persons, ids=[int(key)], output_fields=["id", "name", "created"],
                                    consistency_level=level)
        else:
            rows = self._client.query(self.c_persons, filter=f"name == {_quote(validate_name(key))}",
                                      output_fields=["id", "name", "created"], consistency_level=level)
            rows = sorted(rows, key=lambda r: int(r["id"]))[:1]  # a name stored twice by an older facerec: the first
        if not rows:
            what = f"id {key}" if isinstance(key, int) else repr(key)
            raise PersonNotFoundError(f"no person {what} in the gallery")
        return int(rows[0]["id"]), str(rows[0]["name"]), float(rows[0]["created"])

    def _face_counts(self, person_ids: Optional[Sequence[int]] = None, level: str = STRONG) -> dict[int, int]:
        flt = "id >= 0" if person_ids is None else f"person_id in {sorted({int(i) for i in person_ids})}"
        counts: dict[int, int] = {}
        for r in self._all(self.c_faces, flt, ["person_id"], level):
            counts[int(r["person_id"])] = counts.get(int(r["person_id"]), 0) + 1
        return counts

    def person(self, key: int | str) -> Person:
        with self._lock:
            pid, name, created = self._person_row(key)
            return Person(id=pid, name=name, created=created, faces=self._face_counts([pid], SESSION).get(pid, 0))

    def persons(self) -> list[Person]:
        with self._lock:
            rows = self._all(self.c_persons, "id >= 0", ["id", "name", "created"])
            counts = self._face_counts()
        return sorted((Person(id=int(r["id"]), name=str(r["name"]), created=float(r["created"]),
                              faces=counts.get(int(r["id"]), 0)) for r in rows), key=lambda p: p.name)

    def names(self, person_ids: Sequence[int]) -> dict[int, str]:
        ids = sorted({int(i) for i in person_ids if _INT64_MIN <= int(i) <= _INT64_MAX})
        if not ids:
            return {}
        rows = self._client.get(self.c_persons, ids=ids, output_fields=["id", "name"], consistency_level=SESSION)
        return {int(r["id"]): str(r["name"]) for r in rows}

    def count(self) -> Counts:
        with self._lock:
            persons = self._client.query(self.c_persons, filter="", output_fields=["count(*)"],
                                         consistency_level=STRONG)[0]["count(*)"]
            faces = self._count_faces(STRONG)
        return Counts(int(persons), int(faces))

    def _insert_person(self, name: str) -> int:
        """The id of ``name``'s row, written unless present: the first id of its key sequence held by no other name."""
        for attempt in range(_MAX_ATTEMPTS):
            pid = person_key(name, attempt)
            # the caller has just missed the name at Strong level, so Session sees every row that matters here
            rows = self._client.get(self.c_persons, ids=[pid], output_fields=["name"], consistency_level=SESSION)
            if rows and str(rows[0]["name"]) != name:
                continue  # held by a person renamed from this name (or a hash collision): the next key
            if not rows:
                self._client.upsert(self.c_persons, [{"id": pid, "name": name, "created": time.time(),
                                                      "vector": [1.0, 0.0]}])
            return pid
        raise FacerecError(f"no free person id for {name!r} after {_MAX_ATTEMPTS} attempts")

    def create_person(self, name: str, exist_ok: bool = False) -> int:
        name = validate_name(name)
        with self._lock:
            try:
                pid, _, _ = self._person_row(name)
                if not exist_ok:
                    raise PersonExistsError(f"a person named {name!r} already exists")
                return pid
            except PersonNotFoundError:
                return self._insert_person(name)

    def rename(self, key: int | str, new_name: str) -> None:
        new_name = validate_name(new_name)
        with self._lock:
            pid, old, created = self._person_row(key)
            if new_name == old:
                return
            try:
                self._person_row(new_name)
                raise PersonExistsError(f"a person named {new_name!r} already exists (merge them instead)")
            except PersonNotFoundError:
                pass
            self._client.upsert(self.c_persons, [{"id": pid, "name": new_name, "created": created, "vector": [1.0, 0.0]}])

    def _face_rows(self, flt: str, with_vector: bool = True, level: str = STRONG) -> list[dict]:
        fields = ["id", "person_id", "image_sha256", "image_path", "bbox", "det_score", "created"]
        rows = self._all(self.c_faces, flt, fields + (["vector"] if with_vector else []), level)
        return sorted(rows, key=lambda r: r["id"])

    def merge(self, source: int | str, target: int | str) -> int:
        with self._lock:
            sid, sname, _ = self._person_row(source)
            tid, _, _ = self._person_row(target)
            if sid == tid:
                raise FacerecError(f"cannot merge {sname!r} into itself")
            rows = self._face_rows(f"person_id == {sid}")
            old_ids = [int(r["id"]) for r in rows]
            numbers = self._numbering(tid, [str(r["image_sha256"]) for r in rows])
            for r, n in zip(rows, numbers):  # under the target's keys, so a repeated merge writes the same rows
                r["id"], r["person_id"] = face_key(tid, str(r["image_sha256"]), n), tid
                r["vector"] = [float(v) for v in r["vector"]]
            if rows:
                self._client.upsert(self.c_faces, rows)
                self._client.delete(self.c_faces, ids=old_ids)
            self._delete_person_rows(sid)
            return len(rows)

    def delete_person(self, key: int | str) -> list[int]:
        with self._lock:
            pid, _, _ = self._person_row(key)
            ids = [int(r["id"]) for r in self._all(self.c_faces, f"person_id == {pid}", ["id"], SESSION)]
            self._delete_person_rows(pid)  # deletes by filter: faces not yet visible to this read go too
            return ids

    def _delete_person_rows(self, pid: int) -> None:
        """Faces, then the person, then any face another writer added meanwhile: no vector is left behind."""
        if self._has_faces:
            self._client.delete(self.c_faces, filter=f"person_id == {pid}")
        self._client.delete(self.c_persons, ids=[pid])
        if self._has_faces:
            self._client.delete(self.c_faces, filter=f"person_id == {pid}")

    def _numbering(self, pid: int, shas: Sequence[str]) -> list[int]:
        """The face number of each image of ``shas`` under a person: faces of it already there, plus earlier in ``shas``."""
        if not shas or not self._has_faces:
            have: Counter[str] = Counter()
        else:
            flt = f"person_id == {int(pid)} and image_sha256 in {json.dumps(sorted(set(shas)))}"
            have = Counter(str(r["image_sha256"]) for r in self._all(self.c_faces, flt, ["image_sha256"], SESSION))
        out = []
        for sha in shas:
            out.append(have[sha])
            have[sha] += 1
        return out

    # -- faces ---------------------------------------------------------------------------------
    def add_faces(self, person: int | str, faces: Sequence[FaceRecord], *, create: bool = True,
                  dim: Optional[int] = None, new_person: bool = False, skip_enrolled: bool = False) -> FacesAdded:
        """In one upsert under content-derived keys (see the module docstring)."""
        vecs = [np.ascontiguousarray(f.vector, dtype=np.float32).reshape(-1) for f in faces]
        for vec in vecs:
            if dim is not None and vec.shape[0] != dim:
                raise FacerecError(f"vector of dimension {vec.shape[0]} does not fit this gallery ({dim})")
        with self._lock:
            pid = writer_target(self._person_row, person, create=create, new_person=new_person)
            if dim is not None:
                self._ensure_faces(dim)
            seen = set()
            if skip_enrolled and pid is not None:
                seen = {str(r["image_sha256"]) for r in self._all(self.c_faces, f"person_id == {pid}", ["image_sha256"],
                                                                    SESSION)}
            kept = []
            for k, f in enumerate(faces):
                if skip_enrolled and f.image_sha256 in seen:
                    continue
                seen.add(f.image_sha256)
                kept.append(k)
            if pid is None:
                pid = self._insert_person(validate_name(str(person)))
            # skip_enrolled: each kept image is new for the person, so its face is number 0 for every writer
            numbers = [0] * len(kept) if skip_enrolled else self._numbering(pid, [faces[k].image_sha256 for k in kept])
            ids = [face_key(pid, faces[k].image_sha256, n) for k, n in zip(kept, numbers)]
            now = time.time()
            rows = [{"id": i, "person_id": pid, "vector": vecs[k].tolist(), "image_sha256": faces[k].image_sha256,
                     "image_path": faces[k].image_path or "",
                     "bbox": json.dumps([round(float(v), 2) for v in faces[k].bbox]),
                     "det_score": float(faces[k].det_score), "created": now} for i, k in zip(ids, kept)]
            if rows:
                self._client.upsert(self.c_faces, rows)  # a retry, or a concurrent writer of the same face: one row
            return FacesAdded(pid, ids, kept)

    def enrolled_images(self, persons: Optional[Sequence[str]] = None) -> set[tuple[str, str]]:
        """Read at ``Strong`` level (a resumed run must see every writer's rows); with ``persons``, only
        theirs (one query per thousand names, not a scan of the gallery)."""
        with self._lock:
            if persons is None:
                names = {int(r["id"]): str(r["name"]) for r in self._all(self.c_persons, "id >= 0", ["id", "name"])}
                rows = self._all(self.c_faces, "id >= 0", ["person_id", "image_sha256"])
            else:
                wanted = sorted({validate_name(n) for n in persons})
                names = {}
                for start in range(0, len(wanted), _PAGE):
                    flt = f"name in [{', '.join(_quote(n) for n in wanted[start:start + _PAGE])}]"
                    names.update({int(r["id"]): str(r["name"]) for r in self._all(self.c_persons, flt, ["id", "name"])})
                pids = sorted(names)
                rows = []
                for start in range(0, len(pids), _PAGE):
                    rows += self._all(self.c_faces, f"person_id in {pids[start:start + _PAGE]}",
                                      ["person_id", "image_sha256"])
        return {(names[int(r["person_id"])], str(r["image_sha256"])) for r in rows if int(r["person_id"]) in names}

    def face_ids(self) -> np.ndarray:
        return np.array(sorted(int(r["id"]) for r in self._all(self.c_faces, "id >= 0", ["id"])), dtype=np.int64)

    def vectors(self, ids: Optional[Sequence[int]] = None) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, vectors) of the given faces, or of all of them; rows ordered by id."""
        if ids is None:
            rows = self._all(self.c_faces, "id >= 0", ["id", "vector"])
        else:
            want = [int(i) for i in ids]
            rows = []
            for start in range(0, len(want), _PAGE):
                rows += self._client.get(self.c_faces, ids=want[start:start + _PAGE], output_fields=["id", "vector"],
                                         consistency_level=SESSION) if self._has_faces and want else []
        rows = sorted(rows, key=lambda r: int(r["id"]))
        out_ids = np.array([int(r["id"]) for r in rows], dtype=np.int64)
        if not rows:
            return out_ids, np.zeros((0, 0), dtype=np.float32)
        return out_ids, np.array([r["vector"] for r in rows], dtype=np.float32)

    def iter_vectors(self, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ids, vecs = self.vectors()
        for start in range(0, len(ids), batch):
            yield ids[start:start + batch], vecs[start:start + batch]

    def face_owners(self, face_ids: Sequence[int]) -> dict[int, int]:
        """face id -> person id, for the faces that still exist."""
        ids = sorted({int(i) for i in face_ids if 0 <= i <= _INT64_MAX})
        if not ids or not self._has_faces:
            return {}
        rows = self._client.get(self.c_faces, ids=ids, output_fields=["id", "person_id"], consistency_level=SESSION)
        return {int(r["id"]): int(r["person_id"]) for r in rows}

    def person_vectors(self, key: int | str) -> tuple[Person, np.ndarray]:
        with self._lock:
            person = self.person(key)
            rows = self._face_rows(f"person_id == {person.id}", level=SESSION)
        vecs = np.array([r["vector"] for r in rows], np.float32) if rows else np.zeros((0, 0), np.float32)
        return person, vecs

    def faces_of(self, key: int | str) -> list[FaceRecord]:
        with self._lock:
            pid, _, _ = self._person_row(key)
            return [_face_record(r) for r in self._face_rows(f"person_id == {pid}")]

    def all_faces(self) -> Iterator[tuple[str, FaceRecord]]:
        """(person name, face) for every face, by person then id."""
        with self._lock:
            names = {int(r["id"]): str(r["name"]) for r in self._all(self.c_persons, "id >= 0", ["id", "name"])}
            rows = [r for r in self._face_rows("id >= 0") if int(r["person_id"]) in names]
        rows.sort(key=lambda r: (names[int(r["person_id"])], int(r["id"])))
        return iter([(names[int(r["person_id"])], _face_record(r)) for r in rows])

    def check(self) -> None:
        """Raise unless every face belongs to a person that exists."""
        with self._lock:
            persons = {int(r["id"]) for r in self._all(self.c_persons, "id >= 0", ["id"])}
            orphans = [int(r["id"]) for r in self._all(self.c_faces, "id >= 0", ["id", "person_id"])
                       if int(r["person_id"]) not in persons]
        if orphans:
            raise FacerecError(f"{self.path}: {len(orphans)} face(s) without a person (first ids {orphans[:5]})")

    # -- search (Milvus's own index) -------------------------------------------------------------
    def searchable(self) -> int:
        """Read at ``Session`` level: the search path's size, not a printed count."""
        return self._count_faces(SESSION)

    def search_ids(self) -> np.ndarray:
        return self.face_ids()

    def rebuild_index(self) -> str:
        return self.index_status  # Milvus keeps its own index

    def flush(self) -> None:
        """Nothing to persist: Milvus holds every write."""

    def _count_faces(self, level: str) -> int:
        if not self._has_faces:
            return 0
        return int(self._client.query(self.c_faces, filter="", output_fields=["count(*)"],
                                      consistency_level=level)[0]["count(*)"])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = len(queries)
        k = max(0, min(int(k), 16384))
        sims = np.full((n, k), -np.inf, np.float32)
        ids = np.full((n, k), -1, np.int64)
        if n == 0 or k == 0 or not self._has_faces:
            return sims, ids
        hits = self._client.search(self.c_faces, data=queries.tolist(), limit=k, output_fields=["id"],
                                   search_params={"metric_type": "IP"}, consistency_level=SESSION)
        for r, row in enumerate(hits):
            for j, hit in enumerate(row[:k]):
                sims[r, j], ids[r, j] = float(hit["distance"]), int(hit["id"])
        return sims, ids

    # -- dataset enrolment from many writers (issue 21 item 3) -----------------------------------
    def add_faces_batch(self, faces: Sequence[tuple[str, FaceRecord]], dim: Optional[int] = None) -> list[bool]:
        """Store faces of several persons (``(name, face)``) in one upsert, each image at most once per
        person, as ``add_faces_checked(..., skip_enrolled=True)`` does for one: persons created when
        missing, face ids ``face_key(person, image, 0)``. Per face: whether it was new (False: its image
        was enrolled for that person already, by an earlier or a concurrent run)."""
        vecs = [np.ascontiguousarray(f.vector, dtype=np.float32).reshape(-1) for _, f in faces]
        if dim is not None and any(v.shape[0] != dim for v in vecs):
            raise FacerecError(f"vector of dimension {next(v.shape[0] for v in vecs if v.shape[0] != dim)} "
                               f"does not fit this gallery ({dim})")
        if not faces:
            return []
        with self._lock:
            if dim is not None:
                self._ensure_faces(dim)
            pids: dict[str, int] = {}
            for name, _ in faces:
                if name not in pids:
                    try:
                        pids[name] = self._person_row(name)[0]
                    except PersonNotFoundError:
                        pids[name] = self._insert_person(validate_name(name))
            shas = json.dumps(sorted({f.image_sha256 for _, f in faces}))
            flt = f"person_id in {sorted(set(pids.values()))} and image_sha256 in {shas}"
            have = {(int(r["person_id"]), str(r["image_sha256"]))
                    for r in self._all(self.c_faces, flt, ["person_id", "image_sha256"], SESSION)}
            new, rows, now = [], [], time.time()
            for (name, f), vec in zip(faces, vecs):
                pid = pids[name]
                new.append((pid, f.image_sha256) not in have)
                if new[-1]:
                    have.add((pid, f.image_sha256))
                    rows.append({"id": face_key(pid, f.image_sha256, 0), "person_id": pid, "vector": vec.tolist(),
                                 "image_sha256": f.image_sha256, "image_path": f.image_path or "",
                                 "bbox": json.dumps([round(float(v), 2) for v in f.bbox]),
                                 "det_score": float(f.det_score), "created": now})
            if rows:
                self._client.upsert(self.c_faces, rows)  # one request for the batch; a retry writes the same rows
            return new


def _face_record(r: dict) -> FaceRecord:
    return FaceRecord(id=int(r["id"]), person_id=int(r["person_id"]), vector=np.array(r["vector"], np.float32),
                      image_sha256=str(r["image_sha256"]), image_path=str(r["image_path"]) or None,
                      bbox=json.loads(r["bbox"]), det_score=float(r["det_score"]))

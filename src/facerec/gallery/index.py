"""The search cache over the gallery's face vectors: a FAISS index keyed by face id.

Exact inner product (``IndexFlatIP``) up to :data:`APPROX_ABOVE` faces, HNSW above it. The
index is persisted beside the SQLite file as one ``.npz`` (serialised index, ids, and a JSON
header with the store generation it reflects, the embedder id and a SHA-256 of the index
bytes), written atomically. Anything missing, stale or corrupt is rebuilt from SQLite.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

import numpy as np

from facerec.io.atomic import atomic_open

APPROX_ABOVE = 20_000
"""Faces above which an HNSW index replaces the exact one (picked by bench/bench_gallery.py)."""

HNSW_M = 32
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 80
FORMAT = 1


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - the gallery extra installs it
        from facerec.errors import FacerecError

        raise FacerecError("the gallery needs FAISS: pip install 'facerec[gallery]'") from None
    return faiss


class FaceIndex:
    """Face vectors searchable by inner product, each under its face id.

    Removal from the HNSW index is by tombstone: the id leaves :attr:`ids` at once and
    searches skip it; the graph is rebuilt when tombstones pile up.
    """

    def __init__(self, dim: int, kind: Optional[str] = None, expected_size: int = 0) -> None:
        self.dim = int(dim)
        self.kind = kind or ("hnsw" if expected_size > APPROX_ABOVE else "flat")
        self.generation = -1
        self.ids = np.zeros(0, dtype=np.int64)
        self.tombstones: set[int] = set()
        self._index = self._new()

    def _new(self):
        faiss = _faiss()
        if self.kind == "flat":
            inner = faiss.IndexFlatIP(self.dim)
        elif self.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            raise ValueError(f"unknown index kind {self.kind!r}")
        return faiss.IndexIDMap2(inner)  # faiss's wrapper keeps a reference to ``inner``

    def __len__(self) -> int:
        return int(self.ids.size)

    # -- changes -------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(ids.size, self.dim)
        self._index.add_with_ids(vectors, ids)
        self.ids = np.union1d(self.ids, ids)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.intersect1d(np.asarray(ids, dtype=np.int64).reshape(-1), self.ids)
        if ids.size == 0:
            return
        if self.kind == "flat":
            self._index.remove_ids(_faiss().IDSelectorBatch(ids.size, _faiss().swig_ptr(ids)))
        else:
            self.tombstones.update(int(i) for i in ids)
        self.ids = np.setdiff1d(self.ids, ids)

    @property
    def needs_rebuild(self) -> bool:
        """True when tombstones outnumber a quarter of the live vectors, or the size crossed the switch."""
        if len(self.tombstones) > max(64, len(self) // 4):
            return True
        if self.kind == "flat":
            return len(self) > 1.2 * APPROX_ABOVE
        return len(self) < 0.8 * APPROX_ABOVE

    # -- search --------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (similarities, face ids) per query row; missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        n = queries.shape[0]
        if n == 0 or len(self) == 0 or k <= 0:
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        kk = min(k + len(self.tombstones), int(self._index.ntotal))
        sims, ids = self._index.search(queries, kk)
        if self.tombstones:
            dead = np.isin(ids, np.fromiter(self.tombstones, dtype=np.int64))
            ids = np.where(dead, -1, ids)
            sims = np.where(dead, -np.inf, sims)
            order = np.argsort(-sims, axis=1, kind="stable")
            sims = np.take_along_axis(sims, order, axis=1)
            ids = np.take_along_axis(ids, order, axis=1)
        return sims[:, :k], ids[:, :k]

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path, embedder_id: str) -> None:
        """Write atomically to ``path`` (an ``.npz`` with the index bytes and a header)."""
        blob = _faiss().serialize_index(self._index)
        header = {"format": FORMAT, "generation": int(self.generation), "embedder_id": embedder_id,
                  "dim": self.dim, "kind": self.kind, "count": len(self),
                  "sha256": hashlib.sha256(blob.tobytes()).hexdigest()}
        with atomic_open(path, durable=True) as fh:
            np.savez(fh, index=blob, ids=self.ids, tombstones=np.array(sorted(self.tombstones), np.int64),
                     header=np.array(json.dumps(header)))

    @classmethod
    def load(cls, path: Path, embedder_id: str, dim: int) -> tuple[Optional["FaceIndex"], str]:
        """(index, "") when ``path`` holds a sound index for this embedder, else (None, why not)."""
        path = Path(path)
        if not path.is_file():
            return None, "missing"
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                blob = data["index"]
                ids = data["ids"].astype(np.int64)
                tombstones = data["tombstones"].astype(np.int64)
            if header.get("format") != FORMAT:
                return None, "unknown format"
            if header.get("embedder_id") != embedder_id or int(header.get("dim", -1)) != dim:
                return None, "other embedder"
            if hashlib.sha256(blob.tobytes()).hexdigest() != header.get("sha256"):
                return None, "corrupt (checksum mismatch)"
            index = _faiss().deserialize_index(blob)
            if index.ntotal != ids.size + tombstones.size or header.get("count") != ids.size:
                return None, "corrupt (size mismatch)"
        except Exception as exc:  # any decoding failure means: rebuild
            return None, f"corrupt ({type(exc).__name__})"
        out = cls.__new__(cls)
        out.dim, out.kind, out.generation = dim, header["kind"], int(header["generation"])
        out.ids, out.tombstones = ids, {int(i) for i in tombstones}
        if out.kind == "hnsw":
            _faiss().downcast_index(index.index).hnsw.efSearch = HNSW_EF_SEARCH
        out._index = index
        return out, ""

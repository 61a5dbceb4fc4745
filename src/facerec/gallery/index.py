"""The search cache over the gallery's face vectors: a FAISS index keyed by face id.

Exact inner product (``IndexFlatIP``) up to :data:`EXACT_UP_TO` faces. Above it, every face is
also scanned, but as 4-bit product-quantisation codes (FAISS fast-scan: ``IVF1,PQ{m}x4fs``,
80 bytes a 640-D face instead of 2,560) and the best :data:`SHORTLIST` are re-ranked by exact
inner product with their stored vectors. bench/bench_gallery.py picked this over IVF cells on
LFW vectors among 100k and 1M faces: face vectors of one person sit in different cells so often
that IVF-Flat, IVF-SQ8 and IVF-PQ stayed under 0.98 recall@1 while probing a quarter of the cells,
and over the 10 minute budget HNSW took to build. Adds and deletes go straight into either index;
the codebooks are trained once, on a sample of the gallery as it is when it crosses the size,
and again when it has grown :data:`RETRAIN_GROWTH` times past that.

The index is persisted beside the SQLite file as one ``.npz`` (serialised index, ids, and a JSON
header with the gallery id and store generation it reflects, the embedder id and a SHA-256 of
the index bytes), written atomically. Anything missing, stale, corrupt or belonging to another
gallery is rebuilt from SQLite.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from facerec.io.atomic import atomic_open

EXACT_UP_TO = 20_000
"""Faces up to which the exact index is used; the re-ranked PQ scan above (picked by bench/bench_gallery.py)."""

SHORTLIST = 256
"""Candidates of the PQ scan re-ranked exactly (recall@1 1.0 against exact search at 1M faces in the benchmark)."""

TRAIN_SIZE = 50_000
"""Vectors sampled from the gallery to train the PQ codebooks."""

RETRAIN_GROWTH = 4.0
"""A PQ index trained on a gallery of n faces is rebuilt (and retrained) once the gallery holds this many times n."""

FORMAT = 2

VectorSource = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Face ids -> (face ids found, their exact vectors): what the PQ index re-ranks its shortlist with."""


def pq_subquantizers(dim: int) -> int:
    """4-bit sub-quantizers per vector: one per 4 dimensions (160 for 640-D, 80 bytes a face)."""
    for width in (4, 2, 1):
        if dim % width == 0:
            return dim // width
    return dim  # pragma: no cover - unreachable (width 1 divides everything)


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - the gallery extra installs it
        from facerec.errors import FacerecError

        raise FacerecError("the gallery needs FAISS: pip install 'facerec[gallery]'") from None
    return faiss


class FaceIndex:
    """Face vectors searchable by inner product, each under its face id.

    ``kind="flat"`` is exact; ``kind="pq"`` must be :meth:`train`-ed (on a sample of the
    gallery) before the first :meth:`add`, and re-ranks its shortlist exactly when
    :meth:`search` is given the stored vectors. Both remove deleted ids at once.
    """

    def __init__(self, dim: int, kind: Optional[str] = None, expected_size: int = 0) -> None:
        self.dim = int(dim)
        self.kind = kind or ("pq" if expected_size > EXACT_UP_TO else "flat")
        self.generation = -1
        self.trained_at = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self._index = self._new()

    def _new(self):
        faiss = _faiss()
        if self.kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))  # the wrapper keeps a reference to the inner index
        if self.kind == "pq":  # one inverted list: an id-keyed, removable, exhaustive fast-scan of PQ codes
            return faiss.index_factory(self.dim, f"IVF1,PQ{pq_subquantizers(self.dim)}x4fs", faiss.METRIC_INNER_PRODUCT)
        raise ValueError(f"unknown index kind {self.kind!r}")

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def exact(self) -> bool:
        return self.kind == "flat"

    @property
    def needs_training(self) -> bool:
        return not self._index.is_trained

    def train(self, vectors: np.ndarray, gallery_size: int = 0) -> None:
        """Fit the PQ codebooks to a sample of a gallery of ``gallery_size`` faces; a no-op for the exact index."""
        if not self.needs_training:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(vectors) < 16:
            raise ValueError("a PQ index needs at least 16 training vectors")
        faiss = _faiss()
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # 160 tiny k-means: OpenMP barriers stall on a busy machine (8x slower on 2 cores)
        try:
            self._index.train(vectors)
        finally:
            faiss.omp_set_num_threads(threads)
        self.trained_at = max(int(gallery_size), len(vectors))

    # -- changes -------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(ids.size, self.dim)
        if self.needs_training:
            raise ValueError("train the PQ index before adding vectors")
        self._index.add_with_ids(vectors, ids)
        self.ids = np.union1d(self.ids, ids)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.intersect1d(np.asarray(ids, dtype=np.int64).reshape(-1), self.ids)
        if ids.size == 0:
            return
        faiss = _faiss()
        self._index.remove_ids(faiss.IDSelectorBatch(ids.size, faiss.swig_ptr(ids)))
        self.ids = np.setdiff1d(self.ids, ids)

    @property
    def needs_rebuild(self) -> bool:
        """True when the size crossed the exact/PQ switch, or outgrew the gallery the codebooks were trained on."""
        if self.kind == "flat":
            return len(self) > 1.2 * EXACT_UP_TO
        return len(self) < 0.8 * EXACT_UP_TO or len(self) > RETRAIN_GROWTH * max(self.trained_at, EXACT_UP_TO)

    # -- search --------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, vectors: Optional[VectorSource] = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (similarities, face ids) per query row, best first; missing slots have id -1.

        The PQ index scans codes for the best :data:`SHORTLIST` and, given ``vectors``, orders
        them by exact inner product (without it: by the approximate code similarity).
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        n = queries.shape[0]
        if n == 0 or len(self) == 0 or k <= 0:
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        if self.exact or vectors is None:
            sims, ids = self._index.search(queries, min(max(k, 0 if self.exact else SHORTLIST), len(self)))
            return sims[:, :k], ids[:, :k]
        _, cand = self._index.search(queries, min(max(k, SHORTLIST), len(self)))
        found, vecs = vectors(np.unique(cand[cand >= 0]))
        row_of = {int(f): i for i, f in enumerate(found)}
        k = min(k, len(self))
        sims = np.full((n, k), -np.inf, np.float32)
        ids = np.full((n, k), -1, np.int64)
        for r in range(n):
            c = np.array([f for f in cand[r].tolist() if f in row_of], np.int64)
            if not c.size:
                continue
            s = vecs[[row_of[f] for f in c.tolist()]] @ queries[r]
            best = np.argsort(-s, kind="stable")[:k]
            sims[r, :best.size], ids[r, :best.size] = s[best], c[best]
        return sims, ids

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path, embedder_id: str, gallery_id: str = "") -> None:
        """Write atomically to ``path`` (an ``.npz`` with the index bytes and a header)."""
        blob = _faiss().serialize_index(self._index)
        header = {"format": FORMAT, "gallery_id": gallery_id, "generation": int(self.generation),
                  "embedder_id": embedder_id, "dim": self.dim, "kind": self.kind, "count": len(self),
                  "trained_at": self.trained_at,
                  "sha256": hashlib.sha256(blob.tobytes()).hexdigest()}
        with atomic_open(path, durable=True) as fh:
            np.savez(fh, index=blob, ids=self.ids, header=np.array(json.dumps(header)))

    @classmethod
    def load(cls, path: Path, embedder_id: str, dim: int, gallery_id: str = "") -> tuple[Optional["FaceIndex"], str]:
        """(index, "") when ``path`` holds a sound index of this gallery and embedder, else (None, why not)."""
        path = Path(path)
        if not path.is_file():
            return None, "missing"
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                blob = data["index"]
                ids = data["ids"].astype(np.int64)
            if header.get("format") != FORMAT:
                return None, "unknown format"
            if header.get("gallery_id") != gallery_id:
                return None, "another gallery's index"
            if header.get("embedder_id") != embedder_id or int(header.get("dim", -1)) != dim:
                return None, "other embedder"
            if hashlib.sha256(blob.tobytes()).hexdigest() != header.get("sha256"):
                return None, "corrupt (checksum mismatch)"
            if header.get("kind") not in ("flat", "pq"):
                return None, "unknown kind"
            index = _faiss().deserialize_index(blob)
            if index.ntotal != ids.size or header.get("count") != ids.size:
                return None, "corrupt (size mismatch)"
        except Exception as exc:  # any decoding failure means: rebuild
            return None, f"corrupt ({type(exc).__name__})"
        out = cls.__new__(cls)
        out.dim, out.kind, out.generation = dim, header["kind"], int(header["generation"])
        out.trained_at, out.ids, out._index = int(header["trained_at"]), ids, index
        return out, ""

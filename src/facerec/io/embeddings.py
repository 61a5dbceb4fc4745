"""Embedding files: paths, optional labels and vectors, in ``.npz`` (base) or Parquet (``train`` extra).

Both formats hold the same table plus metadata (the embedder id and dimension), and are
written atomically (a temporary file renamed into place). Nothing is pickled.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from facerec.errors import FacerecError, IncompatibleEmbeddingsError
from facerec.io.atomic import atomic_path
from facerec.io.npz import read_npz


@dataclass
class EmbeddingTable:
    """Vectors with the image path (and optional label) of each row, and the embedder that made them."""

    paths: list[str]
    vectors: np.ndarray
    model: str
    labels: Optional[list[str]] = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def require_model(self, model: str) -> None:
        """Raise :class:`IncompatibleEmbeddingsError` unless these vectors came from ``model``."""
        if self.model != model:
            raise IncompatibleEmbeddingsError(
                f"embeddings were made by {self.model!r} but {model!r} is required")


def save_embeddings(path: os.PathLike, table: EmbeddingTable) -> Path:
    """Write ``table`` to ``path`` (``.npz`` or ``.parquet``), replacing it atomically."""
    path = Path(path)
    vectors = np.asarray(table.vectors, dtype=np.float32).reshape(len(table.paths), -1)
    meta = {"model": table.model, "dim": int(vectors.shape[1]) if vectors.size else 0, **table.meta}
    if path.suffix not in (".npz", ".parquet"):
        raise FacerecError(f"{path}: unsupported embeddings format (use .npz or .parquet)")
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            cols = {"path": pa.array(table.paths, pa.string())}
            if table.labels is not None:
                cols["label"] = pa.array(table.labels, pa.string())
            cols["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1] or 1) \
                if len(vectors) else pa.array([], pa.list_(pa.float32()))
            tbl = pa.table(cols).replace_schema_metadata({"facerec": json.dumps(meta)})
            pq.write_table(tbl, tmp)
        else:
            arrays = {"paths": np.array(table.paths, dtype=str), "vectors": vectors,
                      "meta": np.array(json.dumps(meta))}
            if table.labels is not None:
                arrays["labels"] = np.array(table.labels, dtype=str)
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
    return path


def load_embeddings(path: os.PathLike) -> EmbeddingTable:
    """Read a file written by :func:`save_embeddings` (never unpickles anything)."""
    path = Path(path)
    if path.suffix != ".parquet":
        meta, vectors, paths, labels = read_npz(path, "facerec embeddings file", lambda data: (
            json.loads(str(data["meta"])), data["vectors"].astype(np.float32), [str(p) for p in data["paths"]],
            [str(x) for x in data["labels"]] if "labels" in data.files else None), missing="embeddings file")
    else:
        if not path.is_file():
            raise FacerecError(f"{path}: no such embeddings file")
        try:
            import pyarrow.parquet as pq

            tbl = pq.read_table(path)
            meta = json.loads((tbl.schema.metadata or {}).get(b"facerec", b"{}"))
            vectors = np.array(tbl.column("embedding").to_pylist(), dtype=np.float32).reshape(tbl.num_rows, -1)
            labels = tbl.column("label").to_pylist() if "label" in tbl.column_names else None
            paths = tbl.column("path").to_pylist()
        except Exception as exc:  # noqa: BLE001
            raise FacerecError(f"{path}: not a facerec embeddings file ({type(exc).__name__})") from None
    model = meta.pop("model", "")
    meta.pop("dim", None)
    return EmbeddingTable(paths=paths, vectors=vectors, model=model, labels=labels, meta=meta)

"""An on-disk cache of per-image arrays (detections, embeddings), one file per configuration.

A configuration is a JSON-able dict naming everything the arrays depend on (detector name and
settings, embedder id and weights file, alignment template and margin, face selection...); its
SHA-256 names the file, so changing any setting selects another file. Each entry is keyed by
the image's resolved path and validated by its size and a hash of its bytes: an edited image is
computed again. Files are plain ``.npz`` (read with ``allow_pickle=False``) plus a ``.json``
describing the configuration; writes are atomic and merge with what other processes saved.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator, Mapping, Optional

import numpy as np

from facerec.io.atomic import atomic_open, write_json_atomic
from facerec.io.locks import file_lock, lock_path
from facerec.io.paths import user_cache_dir

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$FACEREC_EVAL_CACHE``, else ``$XDG_CACHE_HOME/facerec/embeddings`` (``~/.cache/...``)."""
    return user_cache_dir("embeddings", "FACEREC_EVAL_CACHE")


def image_key(path: os.PathLike | str) -> tuple[str, str]:
    """``(resolved path, stamp)``; the stamp (size and a hash of the bytes) changes when the file does.

    The content, not the modification time, decides: a dataset copied, restored or re-mounted
    keeps its cached arrays, and an edited image is computed again whatever its mtime says.
    """
    p = Path(path).resolve()
    data = p.read_bytes()
    return str(p), f"{len(data)}:{hashlib.blake2b(data, digest_size=8).hexdigest()}"


def config_digest(config: Mapping) -> str:
    """Short stable hash of a configuration dict."""
    blob = json.dumps({"format": CACHE_FORMAT, **config}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


Entry = dict[str, np.ndarray]
"""The arrays stored for one image; all share their first dimension (e.g. one row per face)."""


class ArrayCache:
    """Per-image arrays for one configuration, saved as ``<kind>-<digest>.npz`` under ``root``."""

    def __init__(self, root: os.PathLike | str, kind: str, config: Mapping) -> None:
        self.root = Path(root)
        self.kind = kind
        self.config = dict(config)
        self.digest = config_digest(config)
        self.file = self.root / f"{kind}-{self.digest}.npz"
        self.meta_file = self.root / f"{kind}-{self.digest}.json"
        self._rows: dict[str, tuple[str, Entry]] = {}
        self._dirty = False
        self._loaded_mtime: Optional[int] = None
        self._rows.update(self._read())

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, path: str, stamp: str) -> Optional[Entry]:
        """The cached arrays of this image, or None when absent or the file changed since."""
        row = self._rows.get(path)
        if row is None or row[0] != stamp:
            return None
        return row[1]

    def put(self, path: str, stamp: str, entry: Mapping[str, np.ndarray]) -> None:
        self._rows[path] = (stamp, {k: np.asarray(v) for k, v in entry.items()})
        self._dirty = True

    # -- persistence ---------------------------------------------------------------------------
    def _read(self) -> dict[str, tuple[str, Entry]]:
        if not self.file.is_file():
            return {}
        try:
            with np.load(self.file, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            self._loaded_mtime = self.file.stat().st_mtime_ns
        except (OSError, ValueError, KeyError):
            return {}  # unreadable cache file: start over, it is only a cache
        paths, stamps, counts = data.pop("_paths"), data.pop("_stamps"), data.pop("_counts")
        offsets = np.concatenate([[0], np.cumsum(counts)])
        rows = {}
        for i, (p, s) in enumerate(zip(paths.tolist(), stamps.tolist())):
            a, b = offsets[i], offsets[i + 1]
            rows[p] = (s, {k: v[a:b] for k, v in data.items()})
        return rows

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(lock_path(self.root, f"{self.kind}-{self.digest}")):
            yield

    def save(self) -> None:
        """Write atomically, first merging in entries another process saved meanwhile."""
        if not self._dirty:
            return
        with self._locked():
            if self.file.is_file() and self.file.stat().st_mtime_ns != self._loaded_mtime:
                for path, row in self._read().items():
                    self._rows.setdefault(path, row)
            items = sorted(self._rows.items())
            if not items:
                return
            fields = sorted(items[0][1][1])
            arrays: dict[str, np.ndarray] = {
                "_paths": np.array([p for p, _ in items], dtype=str),
                "_stamps": np.array([r[0] for _, r in items], dtype=str),
                "_counts": np.array([len(r[1][fields[0]]) for _, r in items], dtype=np.int64),
            }
            for name in fields:
                arrays[name] = np.concatenate([r[1][name] for _, r in items])
            with atomic_open(self.file) as fh:
                np.savez(fh, **arrays)
            self._loaded_mtime = self.file.stat().st_mtime_ns
            meta = {"format": CACHE_FORMAT, "kind": self.kind, "entries": len(items), "config": self.config}
            write_json_atomic(self.meta_file, meta, indent=1, sort_keys=True, default=str)
        self._dirty = False

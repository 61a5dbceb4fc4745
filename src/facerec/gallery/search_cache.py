"""The SQLite gallery's search: a FAISS index (:mod:`facerec.gallery.index`) kept in step with the file.

The index is saved beside the database (``people.db.index``). It reflects one ``generation`` of
the store; every write bumps the generation, so an index that another process left behind is
brought up to date by applying the difference of face ids, and one that is missing, corrupt or of
another gallery is rebuilt from SQLite. Writes made through this process go straight into it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from facerec.gallery.index import TRAIN_SIZE, FaceIndex

if TYPE_CHECKING:
    from facerec.gallery.store import GalleryStore


class SearchCache:
    """The FAISS index of one :class:`~facerec.gallery.store.GalleryStore`."""

    def __init__(self, store: "GalleryStore") -> None:
        self.store = store
        self.path = store.path.with_name(store.path.name + ".index")
        self.status = "not loaded"
        self.index: Optional[FaceIndex] = None
        self._dirty = False
        self._lock = store._lock  # one lock for the file and its index: no lock-order deadlock between them
        self._known: Optional[tuple[str, int]] = None

    def _space(self) -> Optional[tuple[str, int]]:
        """(embedder id, dim) of the gallery's vectors (dim read off a stored face when not recorded);
        None while there is neither. Fixed once the embedder is recorded."""
        if self._known is not None:
            return self._known
        meta = self.store.meta()
        if "dim" in meta:
            dim = int(meta["dim"])
        else:
            first = next(self.store.iter_vectors(batch=1), None)
            if first is None:
                return None
            dim = int(first[1].shape[1])
        if "embedder_id" in meta:
            self._known = meta["embedder_id"], dim
        return meta.get("embedder_id", ""), dim

    def current(self) -> Optional[FaceIndex]:
        """The index, loaded or rebuilt, brought up to the store's current generation."""
        with self._lock:
            space = self._space()
            if space is None:
                return None
            gen = self.store.generation
            if self.index is None:
                index, why = FaceIndex.load(self.path, space[0], space[1], self.store.gallery_id)
                if index is None:
                    self._rebuild(gen, space[1])
                    self.status = f"rebuilt ({why})"
                else:
                    self.index = index
                    self.status = "loaded"
                    if index.generation != gen:  # sound but stale: apply the difference with SQLite
                        self._sync(gen)
                        self.status = "updated (stale)"
            elif self.index.generation != gen:
                self._sync(gen)
            return self.index

    def _rebuild(self, gen: int, dim: int) -> None:
        """A fresh index of every face in SQLite (PQ codebooks trained on a random sample), read in batches."""
        ids = self.store.face_ids()
        index = FaceIndex(dim, expected_size=len(ids))
        if index.needs_training:
            sample = np.random.default_rng(0).choice(ids, min(len(ids), TRAIN_SIZE), replace=False)
            index.train(self.store.vectors(np.sort(sample))[1], gallery_size=len(ids))
        for batch_ids, vecs in self.store.iter_vectors():
            index.add(batch_ids, vecs)
        index.generation = gen
        self.index = index
        self._dirty = True
        if len(ids):
            self.flush()

    def _sync(self, gen: int) -> None:
        """Apply the difference between the index and SQLite (others' writes, or our own)."""
        assert self.index is not None
        truth = self.store.face_ids()
        self.index.remove(np.setdiff1d(self.index.ids, truth))
        new = np.setdiff1d(truth, self.index.ids)
        if new.size:
            self.index.add(*self.store.vectors(new))
        self._stepped(gen)

    def _stepped(self, gen: int) -> None:
        """The index now reflects generation ``gen``; rebuild it when its size outgrew its kind."""
        assert self.index is not None
        self.index.generation = gen
        self._dirty = True
        if self.index.needs_rebuild:
            self._rebuild(gen, self.index.dim)

    def added(self, ids: list[int], vectors: Optional[np.ndarray], gen: int) -> None:
        """This process stored ``ids`` as generation ``gen``: add them unless another writer came between."""
        with self._lock:
            if self.index is not None and self.index.generation == gen - 1:
                self.index.add(np.array(ids, np.int64), vectors)
                self._stepped(gen)

    def removed(self, ids: list[int], gen: int) -> None:
        """This process deleted ``ids`` as generation ``gen``."""
        with self._lock:
            if self.index is not None and self.index.generation == gen - 1:
                self.index.remove(np.array(ids, np.int64))
                self._stepped(gen)

    def rebuild(self) -> str:
        """Rebuild from SQLite now and save."""
        with self._lock:
            space = self._space()
            if space is None:
                return self.status
            self.index = None
            self._rebuild(self.store.generation, space[1])
            self.status = "rebuilt (asked)"
            self.flush()
            return self.status

    def flush(self) -> None:
        """Save the index beside the database if it changed since it was last saved."""
        with self._lock:
            space = self._space() if self.index is not None and self._dirty and not self.store.read_only else None
            if space is None or self.index is None:
                return
            path = Path(self.path)
            if path.is_dir():  # not ours to delete unless empty; else keep it in memory only
                try:
                    path.rmdir()
                except OSError:
                    self.status = f"in memory only ({path} is a folder)"
                    return
            self.index.save(path, space[0], self.store.gallery_id)
            self._dirty = False

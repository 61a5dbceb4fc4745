"""``gallery enroll-dataset --engine ray`` into a Milvus server: the Ray actors store the faces.

Each actor of the Ray map (:meth:`facerec.workflows.ray_engine.RayEngine.map`, ``batched``) builds
the gallery's analyzer once and opens the same Milvus gallery itself; for each block of images
(at most ``MAX_BLOCK_ROWS``) it embeds them and stores their faces with one upsert
(:meth:`~facerec.gallery.milvus_store.MilvusStore.add_faces_batch`: content-derived ids, so a
retried or repeated write, or one racing another run, stores each face once). The driver only
collects each image's outcome (stored, enrolled already, failed and why) for the summary and the
failure report, and resolves photos with several faces under ``--pick auto`` at the end, as the
local engine does (they need the person's other photos in first; they are few).

An SQLite or Milvus Lite gallery is a file that opens in one process of one machine: with those,
``--engine ray`` embeds on the actors and the driver stores (:func:`facerec.gallery.dataset.actors_write`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from facerec.gallery.dataset import AUTO, DatasetEnrollment, face_to_store
from facerec.gallery.gallery import Gallery
from facerec.gallery.milvus_store import MilvusStore
from facerec.models.pipeline import PipelineSpec

if TYPE_CHECKING:
    from facerec.workflows.batch import EmbeddedImage


@dataclass
class Writer:
    """One actor's state: its analyzer, its connection to the gallery, and how to pick faces."""

    analyzer: Any
    store: MilvusStore
    dim: Optional[int]
    pick: Any
    min_quality: Optional[float]
    node: str


@dataclass
class Outcome:
    """What became of one image on an actor: counts and lists to merge, or a multi-face photo left to the
    driver (``--pick auto``)."""

    result: DatasetEnrollment
    deferred: Optional["EmbeddedImage"] = None


def open_writer(threads: int, spec: PipelineSpec, location: str, dim: Optional[int], pick: Any,
                min_quality: Optional[float]) -> Writer:
    """The actor's state (the Ray map's factory): the pipeline's analyzer and the Milvus gallery."""
    import ray

    from facerec.workflows.batch import build_analyzer

    return Writer(analyzer=build_analyzer(spec, threads=threads), store=MilvusStore(location), dim=dim, pick=pick,
                  min_quality=min_quality, node=ray.get_runtime_context().get_node_id())


def write_batch(writer: Writer, items: Sequence[tuple[str, str, str]]) -> list[Outcome]:
    """Embed a block of ``(path, person, image digest)`` items and store their faces in one upsert."""
    from facerec.workflows.batch import embed_image

    auto = writer.pick == AUTO
    outcomes: list[Outcome] = []
    to_write: list[tuple[str, Any]] = []
    writes: list[DatasetEnrollment] = []
    for path, person, digest in items:
        res = embed_image(writer.analyzer, path, (person, digest), "center" if auto else writer.pick,
                          min_quality=writer.min_quality, keep_others=True)
        out = Outcome(DatasetEnrollment())
        outcomes.append(out)
        if res.error is None and res.others and auto:
            out.deferred = res  # resolved by the driver once the person's single-face photos are in
            continue
        several = res.error is None and bool(res.others)
        record = face_to_store(out.result, res, res.picked if several else None,
                               f"took #{res.picked} ({writer.pick})" if several else "")
        if record is not None:
            to_write.append((person, record))
            writes.append(out.result)
    stored = writer.store.add_faces_batch(to_write, dim=writer.dim)
    for result, new in zip(writes, stored):
        result.added, result.skipped = int(new), int(not new)  # not new: enrolled meanwhile by another run
        if new:
            result.written_by = {writer.node: 1}
    return outcomes


def enroll_on_actors(gallery: Gallery, todo: Sequence[tuple[Path, tuple[str, str]]], result: DatasetEnrollment, *,
                     engine, workers: int, pick: Any, min_quality: Optional[float], offline: Optional[bool],
                     on_step: Optional[Callable[[], None]]) -> list["EmbeddedImage"]:
    """Embed and store ``todo`` (``(path, (person, digest))``) on ``engine``'s actors, merging each image's
    outcome into ``result``; returns the multi-face photos left to the caller (``--pick auto``)."""
    from facerec.detection.selection import parse_pick

    # the gallery's own analyzer's spec: the model it recorded, the detector and cut-offs the command chose
    spec = replace(gallery.analyzer.spec, offline=offline)
    kwargs = {"spec": spec, "location": str(gallery.path), "dim": gallery.dim,
              "pick": pick if pick == AUTO else parse_pick(pick), "min_quality": min_quality}
    items = [(str(path), person, digest) for path, (person, digest) in todo]
    deferred: list[EmbeddedImage] = []
    for out in engine.map(write_batch, items, factory=open_writer, factory_kwargs=kwargs,
                          jobs=min(workers, max(1, len(items))), batched=True):
        result.merge(out.result)
        if out.deferred is not None:
            deferred.append(out.deferred)
        if on_step is not None:
            on_step()
    order = {path: k for k, (path, _, _) in enumerate(items)}  # lists in input order, as one local worker gives
    for entries in (result.failures, result.multi_face):
        entries.sort(key=lambda entry: order.get(entry[0], len(order)))
    return sorted(deferred, key=lambda res: order.get(res.path, len(order)))

"""Embed many images, optionally labelled by folder (``Name/Name_0001.jpg`` -> ``Name``).

From raw images (detect + align on the fly, largest face) or from crops written by
``facerec align`` (``aligned=True``). Results are written in shards next to the output
(``OUT.shards/``) so an interrupted run resumes; the finished table replaces them. Shards are
``.npz`` on the local engine and Parquet on Ray (columns of the ``embed`` output, ``path``,
``label``, ``embedding``, plus ``index``, ``fallback`` and ``error``); a run resumes from either.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.errors import FacerecError
from facerec.io.atomic import atomic_open, remove_stale_parts, write_json_atomic
from facerec.io.embeddings import EmbeddingTable, save_embeddings
from facerec.io.files import dataset_items, expand_paths, is_image_name
from facerec.io.text import safe_text
from facerec.types import Progress
from facerec.models.pipeline import PipelineSpec
from facerec.workflows.batch import EmbeddedImage, build_analyzer, embed_image
from facerec.workflows.parallel import parallel_map
from facerec.workflows.reports import reason_of, report_path_for, write_failure_report

DEFAULT_SHARD_SIZE = 1000


@dataclass
class EmbedOptions:
    """Which pipeline (its backend and device are not part of :meth:`key`: the vectors agree) and how."""

    spec: PipelineSpec = field(default_factory=PipelineSpec)
    fallback: bool = False
    aligned: bool = False
    align_zoom: float = 1.0
    """For ``aligned``: the zoom the crops were aligned with (from ``align.json``)."""
    min_quality: Optional[float] = None
    """Faces below this quality are failures with the reason (:mod:`facerec.quality`)."""

    def key(self) -> dict:
        spec = self.spec
        key = {"model": spec.model, "detector": None if self.aligned else spec.detector, "flip": spec.flip,
               "fallback": self.fallback, "aligned": self.aligned, "align_zoom": self.align_zoom,
               "min_quality": self.min_quality}
        if not self.aligned:  # the detector's cut-offs, only when set (earlier runs' shards stay valid)
            key |= {k: v for k, v in (("min_score", spec.min_score), ("min_face", spec.min_face)) if v}
        return key


@dataclass
class EmbedReport:
    """What a run produced."""

    table: EmbeddingTable
    total: int
    failures: list[tuple[str, str]] = field(default_factory=list)
    fallbacks: int = 0
    resumed: int = 0
    """Items whose shards were already written by an earlier, interrupted run."""
    report_path: Optional[Path] = None
    """``OUT.failures.tsv`` next to the output, when some images failed."""


def looks_like_dataset(path: Path) -> bool:
    """A folder-per-person dataset: a folder with no images of its own and images in subfolders."""
    path = Path(path)
    if not path.is_dir():
        return False
    entries = list(path.iterdir())
    if any(e.is_file() and is_image_name(e) for e in entries):
        return False
    return any(e.is_dir() and not e.name.startswith(".") and any(is_image_name(f) for f in e.iterdir() if f.is_file())
               for e in entries)


def collect_items(paths: Sequence[Path], labels: Optional[bool] = None) -> list[tuple[str, Optional[str]]]:
    """``(path, label)`` pairs: labelled by folder when ``labels`` (or, when None, when the single
    path looks like a dataset), else every image of the given files and folders unlabelled."""
    if labels is None:
        labels = len(paths) == 1 and looks_like_dataset(paths[0])
    if labels:
        if len(paths) != 1 or not Path(paths[0]).is_dir():
            raise FacerecError("labels come from folder names: give exactly one dataset folder")
        return [(str(p), person) for p, person in dataset_items(paths[0])]
    return [(str(p), None) for p in expand_paths(paths)]


# -- worker side ---------------------------------------------------------------------------------
def _make_worker(options: dict, threads: Optional[int] = None):
    spec: PipelineSpec = options["spec"].with_(threads=threads)
    if options["aligned"]:
        from facerec.models.store import ModelStore
        from facerec.recognition.factory import build_embedder

        return build_embedder(spec.model, ModelStore(offline=spec.offline), flip=spec.flip, threads=spec.threads,
                              backend=spec.backend, device=spec.device), options
    return build_analyzer(spec), options


def _embed_one(state, item: tuple[int, str]) -> EmbeddedImage:
    """The largest face (or, with ``fallback``, the centred crop) of one image; ``key`` is its index."""
    worker, options = state
    index, path = item
    if not options["aligned"]:
        return embed_image(worker, path, index, fallback=options["fallback"], min_quality=options.get("min_quality"))
    from facerec.alignment.similarity import template_for
    from facerec.io.images import load_image

    try:
        crop = load_image(path)
        h, w = crop.shape[:2]
        landmarks = template_for((w, h), options["align_zoom"])
        return EmbeddedImage(path, index, vector=worker.embed_faces(crop, [landmarks])[0], model=worker.id)
    except Exception as exc:  # noqa: BLE001
        return EmbeddedImage(path, index, error=reason_of(exc, path))


# -- shards ----------------------------------------------------------------------------------------
def _fingerprint(items: Sequence[tuple[str, Optional[str]]], options: EmbedOptions, shard_size: int) -> str:
    digest = hashlib.sha256(json.dumps([options.key(), shard_size]).encode())
    for path, label in items:
        digest.update(f"{path}\0{label}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


SHARD_SUFFIXES = (".npz", ".parquet")


def _shard_file(folder: Path, k: int, suffix: str = ".npz") -> Path:
    return folder / f"shard-{k:05d}{suffix}"


def _written_shard(folder: Path, k: int) -> Optional[Path]:
    """Shard ``k`` as an earlier run wrote it (by either engine), if it did."""
    return next((p for p in (_shard_file(folder, k, s) for s in SHARD_SUFFIXES) if p.is_file()), None)


def _write_shard(path: Path, results: dict[int, EmbeddedImage], model_id: str, dim: int,
                 items: Sequence[tuple[str, Optional[str]]]) -> None:
    if path.suffix == ".parquet":
        _write_parquet_shard(path, results, model_id, dim, items)
        return
    ok = sorted(i for i, r in results.items() if r.ok)
    bad = sorted(i for i, r in results.items() if not r.ok)
    vectors = np.array([results[i].vector for i in ok], np.float32).reshape(len(ok), dim)
    with atomic_open(path) as fh:
        np.savez(fh, index=np.array(ok, np.int64), vectors=vectors,
                 fallback=np.array([results[i].fallback for i in ok], bool), failed=np.array(bad, np.int64),
                 reasons=np.array([results[i].error or "" for i in bad], dtype=str),
                 meta=np.array(json.dumps({"model": model_id, "dim": dim})))


def _write_parquet_shard(path: Path, results: dict[int, EmbeddedImage], model_id: str, dim: int,
                         items: Sequence[tuple[str, Optional[str]]]) -> None:
    """One row per item: the ``embed`` output's columns (``embedding`` null where it failed), the
    item's index, whether the centred crop stood in, and the failure reason."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted(results)
    vectors = np.array([results[i].vector if results[i].ok else np.zeros(dim) for i in rows], np.float32)
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), max(dim, 1)) if dim else \
        pa.array([None] * len(rows), pa.list_(pa.float32(), 1))
    table = pa.table({
        "index": pa.array(rows, pa.int64()),
        "path": pa.array([safe_text(items[i][0]) for i in rows], pa.string()),
        "label": pa.array([items[i][1] for i in rows], pa.string()),
        "embedding": _null_where(embedding, [not results[i].ok for i in rows]),
        "fallback": pa.array([bool(results[i].fallback) for i in rows], pa.bool_()),
        "error": pa.array([None if results[i].ok else (results[i].error or "") for i in rows], pa.string()),
    }).replace_schema_metadata({"facerec": json.dumps({"model": model_id, "dim": dim})})
    with atomic_open(path) as fh:
        pq.write_table(table, fh)


def _null_where(array, null: list[bool]):
    """``array`` with the rows flagged in ``null`` set to null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pa.array(null, pa.bool_()), pa.scalar(None, array.type), array)


def _read_shard(path: Path) -> dict:
    if path.suffix == ".parquet":
        return _read_parquet_shard(path)
    with np.load(path, allow_pickle=False) as data:
        return {"index": data["index"], "vectors": data["vectors"], "fallback": data["fallback"],
                "failed": data["failed"], "reasons": [str(r) for r in data["reasons"]],
                "meta": json.loads(str(data["meta"]))}


def _read_parquet_shard(path: Path) -> dict:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {})[b"facerec"])
    index = np.array(table.column("index").to_pylist(), np.int64)
    errors = table.column("error").to_pylist()
    ok = np.array([e is None for e in errors], bool)
    rows = [v for v, good in zip(table.column("embedding").to_pylist(), ok) if good]
    return {"index": index[ok], "vectors": np.array(rows, np.float32).reshape(len(rows), meta["dim"]),
            "fallback": np.array(table.column("fallback").to_pylist(), bool)[ok], "failed": index[~ok],
            "reasons": [e for e in errors if e is not None], "meta": meta}


def embed_items(items: Sequence[tuple[str, Optional[str]]], out: Path, *, options: Optional[EmbedOptions] = None,
                jobs: Optional[int] = None, shard_size: int = DEFAULT_SHARD_SIZE,
                progress: Optional[Progress] = None, engine=None) -> EmbedReport:
    """Embed the largest face of every item and write the table to ``out`` (.npz or .parquet);
    ``engine``: a :class:`~facerec.workflows.ray_engine.RayEngine` to run on Ray (None: here)."""
    options = options or EmbedOptions()
    out = Path(out)
    if out.suffix not in (".npz", ".parquet"):
        raise FacerecError(f"{out}: output must end in .npz or .parquet")
    if not items:
        raise FacerecError("no images to embed")
    shard_size = max(1, int(shard_size))
    shards_dir = out.with_name(out.name + ".shards")
    manifest = {"fingerprint": _fingerprint(items, options, shard_size), "items": len(items), "shard_size": shard_size}
    manifest_path = shards_dir / "manifest.json"
    if shards_dir.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            old = None
        if old != manifest:  # another dataset or other settings: start over
            shutil.rmtree(shards_dir)
    shards_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(shards_dir)
    write_json_atomic(manifest_path, manifest)

    n_shards = (len(items) + shard_size - 1) // shard_size
    done_shards = {k for k in range(n_shards) if _written_shard(shards_dir, k) is not None}
    suffix = ".parquet" if engine is not None else ".npz"
    todo = [(i, items[i][0]) for i in range(len(items)) if i // shard_size not in done_shards]
    resumed = len(items) - len(todo)
    done = resumed
    if progress:
        progress(done, len(items))
    pending: dict[int, dict[int, EmbeddedImage]] = {}
    model_id, dim = "", 0
    for res in parallel_map(_embed_one, todo, factory=_make_worker, factory_kwargs={"options": dict(options.__dict__)},
                            jobs=jobs, chunksize=8, engine=engine):
        index = int(res.key)  # type: ignore[arg-type]
        if res.ok:
            model_id, dim = res.model, int(len(res.vector))  # type: ignore[arg-type]
        k = index // shard_size
        pending.setdefault(k, {})[index] = res
        expected = min(shard_size, len(items) - k * shard_size)
        if len(pending[k]) == expected:
            _write_shard(_shard_file(shards_dir, k, suffix), pending.pop(k), model_id, dim, items)
        done += 1
        if progress:
            progress(done, len(items))
    report = _assemble(items, shards_dir, n_shards, out)
    report.resumed = resumed
    shutil.rmtree(shards_dir, ignore_errors=True)
    return report


def _assemble(items: Sequence[tuple[str, Optional[str]]], shards_dir: Path, n_shards: int, out: Path) -> EmbedReport:
    """Concatenate the shards (in item order) into one table written to ``out``."""
    index_parts, vector_parts, failures, fallbacks, models, dims = [], [], [], 0, set(), set()
    for k in range(n_shards):
        shard = _read_shard(_written_shard(shards_dir, k))  # type: ignore[arg-type]
        if len(shard["index"]):
            models.add(shard["meta"]["model"])
            dims.add(shard["meta"]["dim"])
        index_parts.append(shard["index"])
        vector_parts.append(shard["vectors"])
        fallbacks += int(shard["fallback"].sum())
        failures.extend((safe_text(items[int(i)][0]), r) for i, r in zip(shard["failed"], shard["reasons"]))
    if len(models) > 1 or len(dims) > 1:
        raise FacerecError(f"{shards_dir}: shards from different models {sorted(models)}; delete the folder and rerun")
    index = np.concatenate(index_parts) if index_parts else np.zeros(0, np.int64)
    dim = dims.pop() if dims else 0
    vectors = np.concatenate([v.reshape(-1, dim) for v in vector_parts]) if dim else np.zeros((0, 0), np.float32)
    labelled = any(items[i][1] is not None for i in range(len(items)))
    table = EmbeddingTable(paths=[safe_text(items[int(i)][0]) for i in index], vectors=vectors,
                           model=models.pop() if models else "",
                           labels=[str(items[int(i)][1]) for i in index] if labelled else None)
    if len(table):
        save_embeddings(out, table)
    report_path = report_path_for(out)
    if failures:
        write_failure_report(report_path, failures)
    else:
        report_path.unlink(missing_ok=True)  # a report of an earlier run would now be wrong
    return EmbedReport(table=table, total=len(items), failures=failures, fallbacks=fallbacks,
                       report_path=report_path if failures else None)

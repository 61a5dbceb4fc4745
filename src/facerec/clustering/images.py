"""Cluster the faces of a folder of photos and write one folder per person plus a CSV."""
from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from facerec.clustering.methods import cluster_vectors
from facerec.errors import FacerecError
from facerec.io.text import safe_text


@dataclass
class FaceItem:
    image: Path
    face: int
    bbox: list[float]
    vector: np.ndarray


def _faces_of(analyzer, item: tuple[int, str]) -> tuple[int, list[tuple[list[float], np.ndarray]], Optional[str]]:
    """The batch map's task: ``(index, [(bbox, vector) per face], error or None)`` of one image."""
    index, path = item
    try:
        return index, [([round(float(v), 1) for v in f.bbox], f.embedding) for f in analyzer.faces(path)], None
    except FacerecError as exc:
        return index, [], str(exc).removeprefix(f"{safe_text(path)}: ")


def embed_all_faces(paths: Sequence[Path], analyzer, on_step: Optional[Callable[[], None]] = None, *,
                    jobs: Optional[int] = 1, engine=None, pipeline: Optional[dict] = None
                    ) -> tuple[list[FaceItem], list[tuple[str, str]]]:
    """Every face of every image (in input order), and the images that failed (path, reason).

    With ``jobs=1`` and no ``engine`` the work runs here on ``analyzer``; otherwise over the batch
    map (worker processes, or Ray actors with ``engine``), each worker building the analyzer from
    ``pipeline`` (the keyword arguments of :func:`facerec.workflows.batch.build_analyzer`).
    """
    from facerec.workflows.batch import build_analyzer
    from facerec.workflows.parallel import parallel_map

    if (jobs != 1 or engine is not None) and pipeline is None:
        raise FacerecError("embedding on workers needs the pipeline (model, detector, flip) to build there")
    found: dict[int, tuple[list, Optional[str]]] = {}
    for index, faces, error in parallel_map(_faces_of, [(i, str(p)) for i, p in enumerate(paths)],
                                            factory=build_analyzer, factory_kwargs=pipeline, jobs=jobs,
                                            state=analyzer if engine is None else None, engine=engine):
        found[index] = (faces, error)
        if on_step:
            on_step()
    items: list[FaceItem] = []
    failures: list[tuple[str, str]] = []
    for index, path in enumerate(paths):
        faces, error = found[index]
        if error is not None:
            failures.append((safe_text(path), error))
        elif not faces:
            failures.append((safe_text(path), "no face found"))
        items.extend(FaceItem(path, i, bbox, vector) for i, (bbox, vector) in enumerate(faces))
    return items, failures


def _place(src: Path, dst_dir: Path) -> None:
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src.name
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_clusters(items: Sequence[FaceItem], labels: np.ndarray, out: Path) -> dict[str, int]:
    """``out/person_0001/`` ... (largest first), ``out/singletons/``, and ``out/clusters.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "clusters.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "face", "x1", "y1", "x2", "y2", "cluster"])
        for it, lab in zip(items, labels):
            name = f"person_{lab + 1:04d}" if lab >= 0 else "singleton"
            w.writerow([safe_text(it.image), it.face, *it.bbox, name])
            _place(it.image, out / (name if lab >= 0 else "singletons"))
    n_clusters = int(labels.max(initial=-1)) + 1
    return {"faces": len(items), "clusters": n_clusters, "singletons": int((labels < 0).sum())}


def cluster_folder(paths: Sequence[Path], analyzer, out: Path, method: str, threshold: float,
                   on_step: Optional[Callable[[], None]] = None, *, jobs: Optional[int] = 1, engine=None,
                   pipeline: Optional[dict] = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Embed (see :func:`embed_all_faces`), cluster and write; returns (summary, failures)."""
    items, failures = embed_all_faces(paths, analyzer, on_step, jobs=jobs, engine=engine, pipeline=pipeline)
    vectors = np.stack([it.vector for it in items]) if items else np.zeros((0, 1), np.float32)
    labels = cluster_vectors(vectors, method=method, threshold=threshold)
    return write_clusters(items, labels, out), failures

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


def embed_all_faces(paths: Sequence[Path], analyzer, on_step: Optional[Callable[[], None]] = None
                    ) -> tuple[list[FaceItem], list[tuple[str, str]]]:
    """Every face of every image, and the images that failed (path, reason)."""
    items: list[FaceItem] = []
    failures: list[tuple[str, str]] = []
    for path in paths:
        try:
            faces = analyzer.faces(path)
            if not faces:
                failures.append((safe_text(path), "no face found"))
            for i, f in enumerate(faces):
                items.append(FaceItem(path, i, [round(float(v), 1) for v in f.bbox], f.embedding))
        except FacerecError as exc:
            failures.append((safe_text(path), str(exc).removeprefix(f"{safe_text(path)}: ")))
        if on_step:
            on_step()
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
                   on_step: Optional[Callable[[], None]] = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Embed, cluster and write; returns (summary, failures)."""
    items, failures = embed_all_faces(paths, analyzer, on_step)
    vectors = np.stack([it.vector for it in items]) if items else np.zeros((0, 1), np.float32)
    labels = cluster_vectors(vectors, method=method, threshold=threshold)
    return write_clusters(items, labels, out), failures

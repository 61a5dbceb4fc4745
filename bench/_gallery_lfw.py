"""LFW helpers shared by the gallery, cluster and service benchmarks: people lists and cached embeddings."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from facerec.datasets import lfw_dir
from facerec.evaluation.cache import ArrayCache, image_key

LFW = lfw_dir()
CACHE = Path(os.environ.get("FACEREC_BENCH_CACHE", Path.home() / ".cache" / "facerec" / "bench"))


def lfw_people(min_images: int) -> dict[str, list[Path]]:
    """Person -> sorted image paths, for people with at least ``min_images`` images."""
    if not LFW.is_dir():
        raise SystemExit(f"LFW not found at {LFW} (set FACEREC_DATA)")
    out = {}
    for d in sorted(p for p in LFW.iterdir() if p.is_dir()):
        files = sorted(d.glob("*.jpg"))
        if len(files) >= min_images:
            out[d.name] = files
    return out


def embed_cached(paths: list[Path], model: Optional[str] = None, detector: Optional[str] = None,
                 workers: int = 2) -> tuple[np.ndarray, np.ndarray, str]:
    """(vectors, ok mask, embedder id) of the largest face of each image, in the library's ArrayCache."""
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.recognition.factory import DEFAULT_EMBEDDER, build_embedder
    from facerec.workflows.batch import embed_images

    model = model or DEFAULT_EMBEDDER
    detector = detector or DEFAULT_DETECTOR
    emb = build_embedder(model)
    cache = ArrayCache(CACHE, "largest", {"embedder": emb.id, "detector": detector, "pick": "largest"})
    keys = {str(p): image_key(p) for p in paths}
    todo = [p for p in paths if cache.get(*keys[str(p)]) is None]
    for done, res in enumerate(embed_images([(p, None) for p in todo], model=model, detector=detector,
                                            jobs=workers), 1):
        ok = res.vector is not None
        vector = res.vector if ok else np.zeros(emb.dim, np.float32)
        cache.put(*keys[res.path], {"vector": vector[None], "ok": np.array([ok])})
        if done % 500 == 0:
            cache.save()
            print(f"  embedded {done}/{len(todo)}", flush=True)
    cache.save()
    rows = [cache.get(*keys[str(p)]) for p in paths]
    return np.stack([r["vector"][0] for r in rows]), np.array([bool(r["ok"][0]) for r in rows]), emb.id


def write_results(path: Path, title: str, command: str, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\nCommand (from the repository root):\n\n```\n{command}\n```\n\n{body}\n")
    print(f"wrote {path}")

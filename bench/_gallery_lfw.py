"""LFW helpers shared by the gallery, cluster and service benchmarks: people lists and cached embeddings."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

LFW = Path(os.environ.get("FACEREC_LFW", "/work/shared/data/lfw"))
CACHE = Path(os.environ.get("FACEREC_BENCH_CACHE", Path.home() / ".cache" / "facerec" / "bench"))


def lfw_people(min_images: int) -> dict[str, list[Path]]:
    """Person -> sorted image paths, for people with at least ``min_images`` images."""
    if not LFW.is_dir():
        raise SystemExit(f"LFW not found at {LFW} (set FACEREC_LFW)")
    out = {}
    for d in sorted(p for p in LFW.iterdir() if p.is_dir()):
        files = sorted(d.glob("*.jpg"))
        if len(files) >= min_images:
            out[d.name] = files
    return out


def embed_cached(paths: list[Path], model: Optional[str] = None, detector: Optional[str] = None,
                 workers: int = 2) -> tuple[np.ndarray, np.ndarray, str]:
    """(vectors, ok mask, embedder id) of the largest face of each image, cached on disk by content of the list."""
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.gallery.pool import embed_largest_faces
    from facerec.recognition.factory import DEFAULT_EMBEDDER

    model = model or DEFAULT_EMBEDDER
    detector = detector or DEFAULT_DETECTOR
    key = hashlib.sha256(json.dumps([model, detector, [str(p) for p in paths]]).encode()).hexdigest()[:16]
    cache = CACHE / f"largest_{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return data["vectors"], data["ok"], str(data["model"])
    from facerec.recognition.factory import build_embedder

    emb_id = build_embedder(model).id
    vectors: Optional[np.ndarray] = None
    ok = np.zeros(len(paths), bool)
    index = {str(p): i for i, p in enumerate(paths)}
    done = 0
    for res in embed_largest_faces([(p, None) for p in paths], model=model, detector=detector, workers=workers):
        i = index[res.path]
        if res.vector is not None:
            if vectors is None:
                vectors = np.zeros((len(paths), res.vector.shape[0]), np.float32)
            vectors[i] = res.vector
            ok[i] = True
        done += 1
        if done % 500 == 0:
            print(f"  embedded {done}/{len(paths)}", flush=True)
    assert vectors is not None
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".part.npz")
    np.savez(tmp, vectors=vectors, ok=ok, model=np.array(emb_id))
    os.replace(tmp, cache)
    return vectors, ok, emb_id


def write_results(path: Path, title: str, command: str, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\nCommand (from the repository root):\n\n```\n{command}\n```\n\n{body}\n")
    print(f"wrote {path}")

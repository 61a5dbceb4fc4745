"""Inputs of bench_finetune.py: LFW View 2 folds by person, and base embeddings of two domains.

Both domains are embedded once by the library's batch path (``facerec.workflows.embed_dataset``:
scrfd:320, largest face, no flip) and cached under ``/work/cache/finetune`` (never in the repo):

* ``lfw``: the LFW images, read from ``/work/cache/lfw_default.npz`` (every LFW image embedded by
  the default pipeline ``arcface_mbf:0.519+sface:0.481``); each member's rows are recovered exactly
  from the weighted concatenation (slice, re-normalise);
* ``lowres``: the harder domain, every image named in pairs.txt made grayscale, shrunk from
  250x250 to 60x60 pixels (the face becomes about 24 px wide) and saved as JPEG quality 30
  (:func:`degrade`), then embedded by ``arcface_mbf`` alone.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lfw_common import LFW, VIEW2, cpu_lock, log  # noqa: E402

CACHE = Path("/work/cache/finetune")
LFW_DEFAULT = Path("/work/cache/lfw_default.npz")
LOWRES_DIR = CACHE / "lfw_lowres"
LOWRES_SIZE, LOWRES_QUALITY = 60, 30
DEFAULT_MEMBERS = {"arcface_mbf": (0, 512), "sface": (512, 640)}


def degrade(img: np.ndarray, size: int = LOWRES_SIZE, quality: int = LOWRES_QUALITY) -> bytes:
    """Grayscale, shrunk to ``size`` x ``size`` (area interpolation), JPEG at ``quality``: the file's bytes."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def view2_folds() -> tuple[list, dict[str, int]]:
    """The View 2 pairs and the fold of every person in them (folds are person-disjoint: checked)."""
    from facerec.evaluation.pairs import read_pairs

    pairs = read_pairs(VIEW2)
    fold_of: dict[str, int] = {}
    for p in pairs:
        for rel in (p.a, p.b):
            person = rel.split("/")[0]
            if fold_of.setdefault(person, p.fold) != p.fold:
                raise SystemExit(f"{person} is in folds {fold_of[person]} and {p.fold}: not person-disjoint")
    return pairs, fold_of


def pair_images(pairs) -> list[str]:
    """Every image named in the pairs, relative to the LFW root, sorted."""
    return sorted({rel for p in pairs for rel in (p.a, p.b)})


def lfw_member(member: str) -> tuple[list[str], np.ndarray]:
    """(relative paths, unit vectors) of one default-pipeline member over every LFW image."""
    from facerec.io.embeddings import load_embeddings

    table = load_embeddings(LFW_DEFAULT)
    lo, hi = DEFAULT_MEMBERS[member]
    if not table.model.startswith("arcface_mbf:") or table.vectors.shape[1] != 640:
        raise SystemExit(f"{LFW_DEFAULT}: expected the default pipeline's 640-d vectors, got {table.model}")
    part = table.vectors[:, lo:hi]
    part = part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
    rel = [str(Path(p).relative_to(LFW)) for p in table.paths]
    return rel, part.astype(np.float32)


def lowres_embeddings(jobs: int = 2, lock: bool = True) -> tuple[list[str], np.ndarray]:
    """(relative paths, unit vectors) of arcface_mbf on the degraded pair images (computed once)."""
    from facerec.io.embeddings import load_embeddings
    from facerec.models.pipeline import PipelineSpec
    from facerec.workflows.embed_dataset import EmbedOptions, embed_items

    out = CACHE / "lfw_lowres_arcface_mbf.npz"
    pairs, _ = view2_folds()
    rels = pair_images(pairs)
    if not out.is_file():
        for rel in rels:
            dst = LOWRES_DIR / rel
            if not dst.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(degrade(cv2.imread(str(LFW / rel))))
        items = [(str(LOWRES_DIR / rel), rel.split("/")[0]) for rel in rels]
        options = EmbedOptions(PipelineSpec("arcface_mbf", "scrfd:320", flip=False), fallback=True)
        with cpu_lock(lock):
            log(f"embedding {len(items)} degraded images -> {out}")
            report = embed_items(items, out, options=options, jobs=jobs,
                                 progress=lambda d, n: log(f"{d}/{n}") if d % 500 == 0 else None)
        log(f"{len(report.table)} embedded, {report.fallbacks} centred fallbacks, {len(report.failures)} failed")
    table = load_embeddings(out)
    return [str(Path(p).relative_to(LOWRES_DIR)) for p in table.paths], table.vectors


if __name__ == "__main__":
    lowres_embeddings(lock="--no-lock" not in sys.argv)

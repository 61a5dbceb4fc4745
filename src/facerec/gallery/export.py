"""Reading a gallery export (``gallery export``'s ``.npz``): every field checked before anything is written."""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from facerec.errors import FacerecError
from facerec.gallery.backend import FaceRecord, InvalidNameError, validate_name
from facerec.io.npz import read_npz
from facerec.io.text import safe_text

EXPORT_FORMAT = "facerec-gallery-1"
HEAD_ID = re.compile(r"ft-[0-9a-f]{12}")
"""How an embedder id names a fine-tuned head (never by its folder)."""


@dataclass
class ExportData:
    """A validated export: the vector space, the persons, and one (name, record) per face."""

    embedder_id: str
    dim: int
    threshold: Optional[float]
    persons: list[str]
    faces: list[tuple[str, FaceRecord]]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _face(m: Any, where: str) -> FaceRecord:
    if not isinstance(m, dict):
        raise ValueError(f"{where} is not an object")
    sha, src, bbox, score = m.get("image_sha256"), m.get("image_path"), m.get("bbox"), m.get("det_score")
    if not isinstance(sha, str) or len(sha) > 128:
        raise ValueError(f"{where}: image_sha256 must be a string")
    if src is not None and not isinstance(src, str):
        raise ValueError(f"{where}: image_path must be a string or null")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
        raise ValueError(f"{where}: bbox must be 4 finite numbers")
    if not _number(score):
        raise ValueError(f"{where}: det_score must be a finite number")
    return FaceRecord(vector=np.zeros(0, np.float32), image_sha256=sha, image_path=None if src is None else safe_text(src),
                      bbox=[float(v) for v in bbox], det_score=float(score))


def read_export(path: str | os.PathLike) -> ExportData:
    """Load and check an export completely; raise :class:`FacerecError` (one line) on any flaw."""
    path = Path(path)
    name = safe_text(path)
    header, vectors, names, meta = read_npz(path, "gallery export", lambda data: (
        json.loads(str(data["header"])), np.asarray(data["vectors"]),
        [str(n) for n in np.asarray(data["names"]).reshape(-1)], json.loads(str(data["faces"]))))
    try:
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise ValueError("unknown format")
        model, dim, thr = header.get("embedder_id"), header.get("dim"), header.get("threshold")
        if not isinstance(model, str) or not model.strip():
            raise ValueError("no embedder id")
        for head in re.findall(r">([^+:]*)", model):
            if not HEAD_ID.fullmatch(head):
                raise ValueError(f"embedder id {safe_text(model)[:200]!r} names a head other than by its id "
                                 "(ft- and 12 hex digits)")
        if not isinstance(dim, int) or isinstance(dim, bool) or not 0 < dim <= 65536:
            raise ValueError(f"dim must be a positive integer, not {dim!r}")
        if thr is not None and not (_number(thr) and -1.0 <= thr <= 1.0):
            raise ValueError(f"threshold must be a number in [-1, 1], not {thr!r}")
        persons = header.get("persons", [])
        if not isinstance(persons, list) or not all(isinstance(p, str) for p in persons):
            raise ValueError("persons must be a list of names")
        persons = [validate_name(p) for p in persons]
        if not isinstance(meta, list) or not (len(meta) == len(names) == len(vectors)):
            raise ValueError("names, faces and vectors differ in length")
        if len(vectors) and (vectors.ndim != 2 or vectors.shape[1] != dim or vectors.dtype.kind != "f"):
            raise ValueError(f"vectors must be a (n, {dim}) float array, not {vectors.shape} {vectors.dtype}")
        vecs = vectors.astype(np.float32).reshape(len(names), dim)
        if not np.isfinite(vecs).all():
            raise ValueError("vectors hold nan or inf")
        faces = []
        for i, (n, v, m) in enumerate(zip(names, vecs, meta)):
            rec = _face(m, f"face {i}")
            rec.vector = v
            faces.append((validate_name(n), rec))
    except (ValueError, InvalidNameError) as exc:
        raise FacerecError(f"{name}: not a valid gallery export ({safe_text(exc)})") from None
    return ExportData(model, dim, None if thr is None else float(thr), persons, faces)

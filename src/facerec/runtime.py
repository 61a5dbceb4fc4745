"""Thread counts for inference (sessions themselves are made by :mod:`facerec.inference`)."""
from __future__ import annotations

import os
from typing import Optional


def default_threads() -> int:
    """Intra-op threads when none are given: ``FACEREC_THREADS`` if set, else 0 (onnxruntime decides)."""
    return int(os.environ.get("FACEREC_THREADS", "0") or 0)


def resolve_threads(threads: Optional[int]) -> int:
    """``threads`` as given, or the user's default (:func:`default_threads`) when None."""
    return default_threads() if threads is None else max(0, int(threads))

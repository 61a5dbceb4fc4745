"""The optional dlib import, dlib shape predictors loaded from the model store, and the point/box/colour
conversions dlib needs (shared by the dlib detector, aligner and embedder)."""
from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from facerec.errors import ModelError
from facerec.models.store import ModelStore

INSTALL_HINT = "pip install 'facerec[dlib]'"


def import_dlib() -> ModuleType:
    """The ``dlib`` module, or a :class:`ModelError` saying how to install it."""
    try:
        import dlib
    except ImportError:
        raise ModelError(f"dlib is not installed; it is an optional extra: {INSTALL_HINT}") from None
    return dlib


@lru_cache(maxsize=8)
def _predictor(path: str) -> Any:
    return import_dlib().shape_predictor(path)


def shape_predictor(store: ModelStore, name: str) -> Any:
    """A ``dlib.shape_predictor`` for registry model ``name`` (``dlib_shape5``/``dlib_shape68``), loaded once."""
    import_dlib()
    return _predictor(str(store.path(name)))


def to_rectangle(bbox: np.ndarray) -> Any:
    """Our ``[x1, y1, x2, y2]`` box as a ``dlib.rectangle`` (integer pixels)."""
    x1, y1, x2, y2 = (int(round(float(v))) for v in bbox)
    return import_dlib().rectangle(x1, y1, x2, y2)


def shape_points(shape: Any) -> np.ndarray:
    """A ``dlib.full_object_detection``'s parts as an ``(n, 2)`` float32 array."""
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous RGB copy of a BGR uint8 image (or back), the layout dlib wants."""
    return np.ascontiguousarray(image[..., ::-1])

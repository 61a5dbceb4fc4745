"""The optional dlib import and dlib shape predictors loaded from the model store (conversions: alignment.dlib_chips)."""
from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any

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

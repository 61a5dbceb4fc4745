"""Gallery locations for the two backends, so one test runs against SQLite + FAISS and against Milvus Lite."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "milvus")


def location(backend: str, folder: Path, name: str = "g.db") -> Path | str:
    """Where a gallery of ``backend`` lives in ``folder``: an SQLite path, or a ``milvus:///`` Milvus Lite file."""
    if backend == "milvus":
        if importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None:
            pytest.skip("Milvus galleries need pymilvus and milvus-lite (pip install 'facerec[milvus]')")
        return f"milvus://{folder / name}"
    return folder / name


def other(backend: str) -> str:
    """The other backend (for migrations: export from one, import into the other)."""
    return BACKENDS[1 - BACKENDS.index(backend)]

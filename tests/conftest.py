"""Shared fixtures: real face images shipped by installed packages, and one analyzer per session."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def grace_path() -> Path:
    """matplotlib's sample photo of Grace Hopper (one face)."""
    import matplotlib.cbook as cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def grace_bgr(grace_path: Path) -> np.ndarray:
    img = cv2.imread(str(grace_path))
    assert img is not None
    return img


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, one face), as BGR."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])


@pytest.fixture(scope="session")
def astronaut_path(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("faces") / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr)
    return path


@pytest.fixture(scope="session")
def analyzer():
    """The default FaceAnalyzer, loaded once for the whole session."""
    from facerec import FaceAnalyzer

    return FaceAnalyzer()


@pytest.fixture(params=["sqlite", "milvus"])
def gallery_backend(request) -> str:
    """A gallery backend: tests that take it run on SQLite + FAISS and on Milvus Lite (support.galleries.location)."""
    return request.param


def pytest_sessionfinish(session, exitstatus) -> None:
    """Whatever a test started is gone when the session ends, even after a failure or a timeout."""
    import sys

    clusters = sys.modules.get("support.ray_cluster")
    if clusters is not None:
        clusters.stop_all()


# Markers by what a test starts (registered in pyproject.toml; --strict-markers): `pytest -m "not slow"`
# is the quick loop, the README's line runs everything.
_MODULE_MARKS = {
    "test_ray_engine": ("ray", "slow"),
    "test_webpage": ("browser", "slow"),
    "test_container": ("docker", "slow"),
    "test_service_openapi": ("service", "slow"),
    "test_service_inputs": ("service", "slow"),
    "test_cli_serve": ("service", "slow"),
    "test_docs_site": ("slow",),
    "test_examples": ("slow",),
    "test_cli_finetune": ("slow",),
    "test_cli_video": ("slow",),
    "test_service_video": ("slow",),
    "test_cli_evaluate": ("slow",),
    "test_cli_dataset": ("slow",),
    "test_models_keras_facenet": ("slow",),
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        for name in _MODULE_MARKS.get(module, ()):
            item.add_marker(name)
        if "milvus" in module or "milvus" in item.name or "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker("milvus" if "milvus" in module or "milvus" in item.name else "ray")

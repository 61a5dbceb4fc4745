"""Shared fixtures: real face images shipped by installed packages, and one analyzer per session."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from support.milvus_server import milvus_server  # noqa: F401 - a real Milvus server, shared by the session


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

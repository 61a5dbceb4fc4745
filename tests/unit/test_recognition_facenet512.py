"""FaceNet-512 (davidsandberg 20180408-102900 frozen graph) run by cv2.dnn, on real faces."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from support.transforms import assert_separates_identities
from facerec import FaceAnalyzer
from facerec.models.registry import get_spec
from facerec.models.store import ModelStore
from facerec.recognition.base import prewhiten
from facerec.recognition.cv2_embedder import OUTPUT_LAYER, Cv2DnnEmbedder


@pytest.fixture(scope="module")
def fa() -> FaceAnalyzer:
    from support.facenet512 import unreadable_reason

    if unreadable_reason():
        pytest.skip(unreadable_reason())
    return FaceAnalyzer(model="facenet512", detector="scrfd", flip=False)


def test_graph_input_and_output(fa: FaceAnalyzer, grace_bgr: np.ndarray) -> None:
    emb = fa.embedder
    assert isinstance(emb, Cv2DnnEmbedder)
    assert emb.net.getUnconnectedOutLayersNames() == (OUTPUT_LAYER,)
    crop = emb.align(grace_bgr, fa.detect(grace_bgr)[0].landmarks)
    assert crop.shape == (160, 160, 3)
    # the graph on a hand-made RGB NCHW blob with FaceNet 2018's fixed standardisation, (x-127.5)/128,
    # gives a 512-D vector equal to embed()'s
    assert get_spec("facenet512").normalization == "fixed"
    blob = ((crop[..., ::-1].astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
    emb.net.setInput(np.ascontiguousarray(blob))
    raw = emb.net.forward(OUTPUT_LAYER).reshape(-1)
    assert raw.shape == (512,)
    np.testing.assert_allclose(raw / np.linalg.norm(raw), emb.embed([crop])[0], atol=1e-5)
    # per-image prewhitening (what the 2017 models used) is a different input and gives another vector
    emb.net.setInput(np.ascontiguousarray(prewhiten(crop[..., ::-1].astype(np.float32)).transpose(2, 0, 1)[None]))
    other = emb.net.forward(OUTPUT_LAYER).reshape(-1)
    assert float(other @ raw) / (np.linalg.norm(other) * np.linalg.norm(raw)) < 0.95  # 0.80 on this crop


def test_batch_is_looped_image_by_image(fa: FaceAnalyzer, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    crops = [fa.embedder.align(img, fa.detect(img)[0].landmarks) for img in (grace_bgr, astronaut_bgr)]
    both = fa.embedder.embed(crops)
    assert both.shape == (2, 512) and both.dtype == np.float32
    np.testing.assert_allclose(both[1], fa.embedder.embed(crops[1:])[0], atol=1e-5)
    assert float(both[0] @ both[1]) < fa.threshold


def test_same_person_above_threshold_other_person_below(fa: FaceAnalyzer, grace_bgr: np.ndarray,
                                                        astronaut_bgr: np.ndarray) -> None:
    assert fa.threshold == get_spec("facenet512").threshold
    assert_separates_identities(fa, grace_bgr, astronaut_bgr)


def test_zoom_comes_from_the_registry(fa: FaceAnalyzer, grace_bgr: np.ndarray) -> None:
    from facerec.alignment.similarity import align_face

    zoom = get_spec("facenet512").align_zoom
    lm = fa.detect(grace_bgr)[0].landmarks
    np.testing.assert_array_equal(fa.embedder.align(grace_bgr, lm), align_face(grace_bgr, lm, 160, zoom))


def test_unreadable_graph_is_a_model_error(tmp_path) -> None:
    from facerec.errors import ModelError

    bad = tmp_path / "graph.pb"
    bad.write_bytes(b"not a tensorflow graph")
    with pytest.raises(ModelError, match=r"OpenCV \S+ cannot read|no TensorFlow importer"):
        Cv2DnnEmbedder(get_spec("facenet512"), bad)
    assert ModelStore().path("facenet512").stat().st_size > 90_000_000


def test_an_opencv_that_cannot_read_the_graph_says_which_one_can() -> None:
    """With OpenCV 4.9+ the real graph fails in OpenCV's graph simplifier: one line naming the fix."""
    from facerec.errors import ModelError

    try:
        Cv2DnnEmbedder(get_spec("facenet512"), ModelStore().path("facenet512"))
    except ModelError as exc:
        assert "needs OpenCV 4.8" in str(exc) and "\n" not in str(exc)
    else:
        assert cv2.__version__.startswith("4.8"), f"OpenCV {cv2.__version__} reads the graph: update TF_GRAPH_OPENCV"

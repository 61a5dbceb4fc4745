"""Inference backends (facerec.inference): onnxruntime and OpenVINO give the same faces and vectors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facerec.errors import ModelError
from facerec.inference import BACKENDS, open_session, resolve_backend, session_backend
from facerec.models.store import ModelStore
from support.transforms import same_person_variants

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def analyzers():
    from facerec import FaceAnalyzer

    return {b: FaceAnalyzer(backend=b, threads=1) for b in BACKENDS}


def test_backends_agree_on_real_faces(analyzers, grace_bgr, astronaut_bgr):
    images = {"grace": grace_bgr, "astronaut": astronaut_bgr, **same_person_variants(grace_bgr)}
    for name, img in images.items():
        ort_faces = analyzers["onnxruntime"].faces(img)
        ov_faces = analyzers["openvino"].faces(img)
        assert len(ort_faces) == len(ov_faces) >= 1, name
        for a, b in zip(ort_faces, ov_faces):
            assert np.abs(a.bbox - b.bbox).max() < 0.5, name
            assert np.abs(a.landmarks - b.landmarks).max() < 0.5, name
            assert float(a.embedding @ b.embedding) >= 0.999, name
    assert analyzers["openvino"].model == analyzers["onnxruntime"].model  # one vector space


def test_openvino_batches_sface_exported_with_batch_one(analyzers, grace_bgr, astronaut_bgr):
    ov_sface = analyzers["openvino"].embedder.members[1]
    assert ov_sface.name == "sface" and ov_sface.session.input_shape[0] is None
    crops = [ov_sface.align(img, analyzers["openvino"].face(img).landmarks) for img in (grace_bgr, astronaut_bgr)]
    together = ov_sface.embed(crops)
    one_by_one = np.concatenate([ov_sface.embed([c]) for c in crops])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    ort_sface = analyzers["onnxruntime"].embedder.members[1]
    assert ort_sface.session.input_shape[0] == 1  # onnxruntime runs the export as it is, face by face
    assert (ort_sface.embed(crops) * together).sum(axis=1).min() >= 0.999


def test_backend_from_argument_and_environment(monkeypatch):
    monkeypatch.delenv("FACEREC_BACKEND", raising=False)
    assert resolve_backend(None) == "auto"
    assert resolve_backend("OpenVINO") == "openvino"
    from facerec.detection.factory import build_detector
    from facerec.recognition.factory import build_embedder

    # auto: each model on its fastest CPU backend (the registry's cpu_backend, measured in results/speed.md)
    assert build_embedder("arcface_mbf", threads=1).session.backend == "openvino"
    assert build_detector("scrfd:320", threads=1).session.backend == "onnxruntime"
    assert session_backend("auto", "cpu", "openvino") == "openvino"
    assert session_backend("auto", "cuda", "openvino") == "onnxruntime"  # other devices: onnxruntime's providers
    assert session_backend(None, None, "onnxruntime") == "onnxruntime"
    monkeypatch.setenv("FACEREC_BACKEND", "openvino")
    assert resolve_backend(None) == "openvino"
    assert build_detector("scrfd:320", threads=1).session.backend == "openvino"
    assert build_embedder("arcface_mbf", threads=1).session.backend == "openvino"
    assert build_embedder("arcface_mbf", threads=1, backend="onnxruntime").session.backend == "onnxruntime"


def test_unknown_backend_and_device_are_one_line_errors(monkeypatch):
    from facerec import FaceAnalyzer

    with pytest.raises(ModelError, match=r"unknown inference backend 'tensorrt'; choose one of: auto, onnxruntime, openvino") as e:
        FaceAnalyzer(backend="tensorrt")
    assert "\n" not in str(e.value)
    monkeypatch.setenv("FACEREC_BACKEND", "tflite")
    with pytest.raises(ModelError, match="from FACEREC_BACKEND"):
        resolve_backend(None)
    monkeypatch.delenv("FACEREC_BACKEND")
    path = ModelStore().path("scrfd_500m")
    with pytest.raises(ModelError, match="onnxruntime provider CUDAExecutionProvider is not available"):
        open_session(path, device="cuda")  # the CPU build of onnxruntime
    with pytest.raises(ModelError, match="device 'npu': OpenVINO sees CPU"):
        open_session(path, backend="openvino", device="npu")


def test_openvino_preparation_is_cached_and_checked(tmp_path, astronaut_bgr):
    from facerec.inference import openvino_session
    from facerec.inference.openvino_session import ir_paths

    source = tmp_path / "scrfd.onnx"
    shutil.copy(ModelStore().path("scrfd_500m"), source)
    xml, bin_, manifest = ir_paths(source, (1, 3, 320, 320))
    first = open_session(source, backend="openvino", threads=1, input_shape=(1, 3, 320, 320))
    record = json.loads(manifest.read_text())
    assert record["source_sha256"] and record["initializer_inputs_removed"] == 0 and bin_.is_file()
    assert record["input_shape"] == [1, 3, 320, 320] and xml.name == "scrfd.onnx.openvino-1x3x320x320.xml"
    cache = openvino_session.compiled_cache_dir(xml)  # the compiled model, kept for the next process
    assert cache.parent == tmp_path / "openvino-cache" and cache.name.startswith(record["xml_sha256"][:16])
    assert any(cache.iterdir())
    blob = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)
    expected = first.run(blob)
    openvino_session._VERIFIED.clear()
    bin_.write_bytes(b"\0" * bin_.stat().st_size)  # a damaged IR is rebuilt, never used
    again = open_session(source, backend="openvino", threads=1, input_shape=(1, 3, 320, 320))
    assert json.loads(manifest.read_text())["bin_sha256"] == record["bin_sha256"]
    for a, b in zip(expected, again.run(blob)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_sface_initializer_inputs_removed_for_openvino():
    from facerec.inference.openvino_session import ir_paths, prepared_model

    source = ModelStore().path("sface")
    prepared_model(source)
    assert json.loads(ir_paths(source)[2].read_text())["initializer_inputs_removed"] == 174


def test_read_only_model_folder_prepares_in_the_user_cache(tmp_path, monkeypatch, grace_bgr):
    """A model cache nobody may write to (baked into an image): the IR and compiled model go to the
    user's cache instead, and the vectors are the same."""
    from facerec.inference import openvino_session

    models = tmp_path / "models"
    models.mkdir()
    source = models / "w600k_mbf.onnx"
    shutil.copy(ModelStore().path("arcface_mbf"), source)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.setattr(openvino_session, "_writable", lambda folder: Path(folder) != models)  # root may write anywhere
    session = open_session(source, backend="openvino", threads=1, input_shape=(None, 3, 112, 112))
    assert sorted(p.name for p in models.iterdir()) == ["w600k_mbf.onnx"]  # nothing written beside the weights
    user = tmp_path / "home-cache" / "facerec" / "openvino"
    assert (user / "w600k_mbf.onnx.openvino-1x3x112x112.xml").is_file() and any((user / "openvino-cache").iterdir())
    x = np.random.default_rng(0).random((2, 3, 112, 112), dtype=np.float32)
    reference = open_session(ModelStore().path("arcface_mbf"), backend="onnxruntime", threads=1).run(x)[0]
    got = session.run(x)[0]
    cos = (got * reference).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reference, axis=1)
    assert got.shape == (2, 512) and cos.min() > 0.9999


def test_models_pull_prepares_the_embedders_for_openvino(tmp_path, monkeypatch):
    """`facerec models pull` leaves nothing for the first use to write: the embedders' IR is there."""
    from typer.testing import CliRunner

    from facerec.cli.main import app

    home = tmp_path / "models"
    home.mkdir()
    for name in ("arcface_mbf", "sface"):
        src = ModelStore().path(name)
        shutil.copy(src, home / src.name)
    monkeypatch.setenv("FACEREC_HOME", str(home))  # both files present: the pull is a SHA-256 check, no network
    monkeypatch.delenv("FACEREC_OFFLINE", raising=False)
    result = CliRunner().invoke(app, ["models", "pull", "arcface_mbf", "sface", "--json"])
    assert result.exit_code == 0, result.output
    pulled = {p["name"]: p for p in json.loads(result.output[result.output.index("{"):])["pulled"]}
    for name in ("arcface_mbf", "sface"):
        xml = Path(pulled[name]["openvino_ir"])
        assert xml.parent == home and xml.is_file() and xml.name.endswith(".openvino-1x3x112x112.xml")


def test_openvino_cpu_sessions_do_not_pin_threads():
    """Pinned, every process's OpenVINO thread took the same first core: the two workers of
    `embed -j 2` shared one (results/scale.md). Unpinned, the OS spreads them."""
    session = open_session(ModelStore().path("arcface_mbf"), backend="openvino", threads=1,
                           input_shape=(None, 3, 112, 112))
    assert session.compiled.get_property("ENABLE_CPU_PINNING") is False
    assert int(session.compiled.get_property("INFERENCE_NUM_THREADS")) == 1


def test_prepared_read_only_model_folder_compiles_into_the_user_cache(tmp_path, monkeypatch):
    """The image's case: `models pull` prepared the IR beside the weights as root, then the service's user
    may not write there; the IR is used where it is and only the compiled model goes to the user's cache."""
    from facerec.inference import openvino_session, prepare

    models = tmp_path / "models"
    models.mkdir()
    source = models / "w600k_mbf.onnx"
    shutil.copy(ModelStore().path("arcface_mbf"), source)
    xml = prepare(source, "openvino", (None, 3, 112, 112))
    assert xml is not None and xml.parent == models
    before = sorted(p.name for p in models.rglob("*"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.setattr(openvino_session, "_writable", lambda folder: Path(folder) != models)
    openvino_session._VERIFIED.clear()
    session = open_session(source, backend="openvino", threads=1, input_shape=(None, 3, 112, 112))
    assert sorted(p.name for p in models.rglob("*")) == before  # nothing written beside the weights
    cache = openvino_session.compiled_cache_dir(xml)
    assert cache.is_relative_to(tmp_path / "home-cache") and any(cache.iterdir())
    assert session.run(np.zeros((1, 3, 112, 112), np.float32))[0].shape == (1, 512)

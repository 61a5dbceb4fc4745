"""Embedders on real faces: same person above the threshold, two people below, for every embedder;
preprocessing checked against each model's reference implementation."""
from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from support.transforms import same_person_variants
from facerec import FaceAnalyzer
from facerec.detection.factory import build_detector
from facerec.models.store import ModelStore
from facerec.recognition.factory import build_embedder, embedder_names


def _available(name: str) -> bool:
    if name == "dlib_resnet":
        return importlib.util.find_spec("dlib") is not None
    return True


EMBEDDERS = [pytest.param(n, marks=pytest.mark.skipif(not _available(n), reason=f"{n} needs the 'dlib' extra"))
             for n in embedder_names()]


@pytest.fixture(scope="module")
def detector():
    return build_detector("scrfd", ModelStore())


@pytest.fixture(scope="module", params=EMBEDDERS)
def analyzer_for(request) -> FaceAnalyzer:
    if request.param == "facenet512":
        from support.facenet512 import unreadable_reason

        if unreadable_reason():
            pytest.skip(unreadable_reason())
    return FaceAnalyzer(model=request.param, detector="scrfd")


def test_output_shape_norm_and_dtype(analyzer_for: FaceAnalyzer, grace_bgr: np.ndarray) -> None:
    faces = analyzer_for.faces(grace_bgr)
    assert len(faces) == 1
    emb = faces[0].embedding
    assert emb.dtype == np.float32 and emb.shape == (analyzer_for.embedder.dim,)
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
    assert analyzer_for.embedder.embed([]).shape == (0, analyzer_for.embedder.dim)


def test_same_person_above_and_different_people_below(analyzer_for: FaceAnalyzer, grace_bgr: np.ndarray,
                                                      astronaut_bgr: np.ndarray) -> None:
    thr = analyzer_for.threshold
    grace = analyzer_for.embed(grace_bgr)
    astro = analyzer_for.embed(astronaut_bgr)
    assert float(grace @ astro) < thr
    for img, name in ((grace_bgr, "grace"), (astronaut_bgr, "astronaut")):
        ref = grace if name == "grace" else astro
        other = astro if name == "grace" else grace
        for kind, variant in same_person_variants(img).items():
            emb = analyzer_for.embed(variant)
            assert float(emb @ ref) > thr, f"{analyzer_for.model}: {name} {kind} {float(emb @ ref):.3f} <= {thr}"
            assert float(emb @ other) < thr, f"{analyzer_for.model}: {name} {kind} matched the other person"


def test_batch_equals_single(analyzer_for: FaceAnalyzer, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    emb = analyzer_for.embedder
    det = analyzer_for.detector
    crops = [emb.align(img, det.detect(img)[0].landmarks) for img in (grace_bgr, astronaut_bgr)]
    batch = emb.embed(crops)
    singles = np.vstack([emb.embed([c]) for c in crops])
    assert np.allclose(batch, singles, atol=1e-4)


def test_sface_matches_opencv_reference(detector, grace_bgr: np.ndarray) -> None:
    """SFace: our preprocessing equals cv2.FaceRecognizerSF on the same aligned crop."""
    store = ModelStore()
    ours = build_embedder("sface", store)
    reference = cv2.FaceRecognizerSF.create(str(store.path("sface")), "")
    face = detector.detect(grace_bgr)[0]
    crop = ours.align(grace_bgr, face.landmarks)
    ref = reference.feature(crop).reshape(-1)
    ref /= np.linalg.norm(ref)
    assert float(ours.embed([crop])[0] @ ref) > 0.9999
    # OpenCV's own alignCrop (from a YuNet-style row) gives the same crop, up to interpolation.
    row = np.concatenate([face.bbox[:2], face.bbox[2:] - face.bbox[:2], face.landmarks.reshape(-1), [face.score]])
    cv_crop = reference.alignCrop(grace_bgr, row.astype(np.float32))
    assert np.abs(cv_crop.astype(int) - crop.astype(int)).mean() < 3.0


def test_arcface_matches_insightface_preprocessing(detector, grace_bgr: np.ndarray) -> None:
    """ArcFace: insightface feeds (x - 127.5) / 127.5 in RGB via cv2.dnn.blobFromImages."""
    ours = build_embedder("arcface_mbf", ModelStore())
    crop = ours.align(grace_bgr, detector.detect(grace_bgr)[0].landmarks)
    blob = cv2.dnn.blobFromImages([crop], 1.0 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True)
    ref = ours.session.run(blob)[0][0]
    ref /= np.linalg.norm(ref)
    assert float(ours.embed([crop])[0] @ ref) > 0.99999


def test_flip_augmentation(grace_bgr: np.ndarray) -> None:
    plain = FaceAnalyzer(model="sface", detector="scrfd", flip=False)
    flipped = FaceAnalyzer(model="sface", detector="scrfd", flip=True)
    assert flipped.model == "sface+flip" and plain.model == "sface"
    a = flipped.embed(grace_bgr)
    b = flipped.embed(np.ascontiguousarray(grace_bgr[:, ::-1]))
    # With flip TTA an image and its mirror get (nearly) the same vector.
    assert float(a @ b) > float(plain.embed(grace_bgr) @ plain.embed(np.ascontiguousarray(grace_bgr[:, ::-1])))
    assert float(a @ b) > 0.98


def test_ensemble_similarity_is_weighted_mean(grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    store = ModelStore()
    det = build_detector("scrfd", store)
    ens = build_embedder("arcface_mbf:3+sface:1", store)
    a_mbf, a_sf = build_embedder("arcface_mbf", store), build_embedder("sface", store)
    lm_g = det.detect(grace_bgr)[0].landmarks
    lm_a = det.detect(astronaut_bgr)[0].landmarks
    e = ens.embed_faces(grace_bgr, [lm_g])[0] @ ens.embed_faces(astronaut_bgr, [lm_a])[0]
    m = a_mbf.embed_faces(grace_bgr, [lm_g])[0] @ a_mbf.embed_faces(astronaut_bgr, [lm_a])[0]
    s = a_sf.embed_faces(grace_bgr, [lm_g])[0] @ a_sf.embed_faces(astronaut_bgr, [lm_a])[0]
    assert ens.dim == 512 + 128
    assert float(e) == pytest.approx(0.75 * float(m) + 0.25 * float(s), abs=1e-4)


@pytest.mark.parametrize("name,flip", [("arcface_mbf", False), ("sface", True), ("arcface_mbf+sface", True),
                                       ("arcface_mbf:0.7+sface:0.3", False)])
def test_embedder_id_parses_back_to_the_same_embedder(name: str, flip: bool) -> None:
    from facerec.recognition.factory import parse_embedder_id

    emb = build_embedder(name, flip=flip)
    rebuilt_name, rebuilt_flip = parse_embedder_id(emb.id)
    assert rebuilt_flip == flip
    assert build_embedder(rebuilt_name, flip=rebuilt_flip).id == emb.id

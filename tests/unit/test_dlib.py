"""dlib parts on real faces: the HOG detector with 5 landmarks, the ResNet embedder on dlib chips,
and the OpenFace inner-eyes-and-bottom-lip alignment."""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

dlib = pytest.importorskip("dlib", reason="dlib is an optional extra: pip install 'facerec[dlib]'")

from support.transforms import assert_separates_identities  # noqa: E402
from facerec import FaceAnalyzer  # noqa: E402
from facerec.alignment.dlib68 import align_inner_eyes_bottom_lip, landmarks68, minmax_template  # noqa: E402
from facerec.detection.dlib_hog import DlibHogDetector  # noqa: E402
from facerec.detection.factory import build_detector  # noqa: E402
from facerec.errors import ModelError  # noqa: E402
from facerec.models.registry import get_spec  # noqa: E402
from facerec.models.store import ModelStore  # noqa: E402


@pytest.fixture(scope="module")
def hog68() -> DlibHogDetector:
    return DlibHogDetector(ModelStore(), landmarks="68")


@pytest.fixture(scope="module")
def scrfd_grace(grace_bgr):
    return build_detector("scrfd", ModelStore()).detect(grace_bgr)[0]


@pytest.fixture(scope="module")
def fa() -> FaceAnalyzer:
    return FaceAnalyzer(model="dlib_resnet", detector="scrfd", flip=False)


def _inside(points: np.ndarray, bbox: np.ndarray) -> bool:
    x1, y1, x2, y2 = bbox
    return bool(np.all((points[:, 0] > x1) & (points[:, 0] < x2) & (points[:, 1] > y1) & (points[:, 1] < y2)))


@pytest.mark.parametrize("mode", ["68", "5"])
def test_hog_finds_grace_with_arcface_order_landmarks(mode: str, grace_bgr: np.ndarray, scrfd_grace) -> None:
    det = DlibHogDetector(ModelStore(), landmarks=mode)
    faces = det.detect(grace_bgr)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0 and face.landmarks.shape == (5, 2)
    assert _inside(face.landmarks, face.bbox)
    lm = face.landmarks
    # ArcFace order: image-left eye, image-right eye, nose below the eyes, mouth corners below the nose
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
    assert lm[:2, 1].max() < lm[2, 1] < lm[3:, 1].min()
    # and close to SCRFD's landmarks (within 15% of the eye distance)
    eye_dist = np.linalg.norm(scrfd_grace.landmarks[1] - scrfd_grace.landmarks[0])
    err = np.linalg.norm(lm - scrfd_grace.landmarks, axis=1)
    assert err.max() < 0.15 * eye_dist, err / eye_dist


def test_default_hog_uses_the_5_point_model_and_finds_nothing_in_a_faceless_image(grace_bgr: np.ndarray) -> None:
    det = build_detector("dlib_hog", ModelStore())
    assert isinstance(det, DlibHogDetector) and det.landmark_model == "5"
    background = np.ascontiguousarray(grace_bgr[:120, :150])  # the top-left corner: no face
    assert det.detect(background) == []
    assert len(det.detect(cv2.flip(grace_bgr, 1))) == 1  # the mirrored face is still found


def test_hog_bad_landmark_mode() -> None:
    with pytest.raises(ModelError, match="'68' or '5'"):
        DlibHogDetector(ModelStore(), landmarks="7")  # type: ignore[arg-type]


def test_dlib_chip_and_embed_on_aligned_crops(fa: FaceAnalyzer, grace_bgr: np.ndarray, scrfd_grace) -> None:
    chip = fa.embedder.align(grace_bgr, scrfd_grace.landmarks)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    direct = fa.embedder.embed_faces(grace_bgr, [scrfd_grace.landmarks])[0]
    from_chip = fa.embedder.embed([chip])[0]
    assert from_chip.shape == (128,) and np.linalg.norm(from_chip) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(direct, from_chip, atol=1e-5)
    # a chip at another size is resized to 150 first and still gives (nearly) the same vector
    bigger = cv2.resize(chip, (300, 300), interpolation=cv2.INTER_CUBIC)
    assert float(fa.embedder.embed([bigger])[0] @ from_chip) > 0.99


def test_dlib_same_person_above_threshold_other_person_below(fa: FaceAnalyzer, grace_bgr: np.ndarray,
                                                             astronaut_bgr: np.ndarray) -> None:
    assert fa.threshold == get_spec("dlib_resnet").threshold
    assert_separates_identities(fa, grace_bgr, astronaut_bgr)


def test_dlib_hog_detector_feeds_the_analyzer(grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    fa = FaceAnalyzer(model="arcface_mbf", detector="dlib_hog")
    res = fa.verify(grace_bgr, cv2.resize(grace_bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert res.same, res
    assert not fa.verify(grace_bgr, astronaut_bgr).same


def test_openface_alignment_puts_inner_eyes_and_lip_on_the_template(hog68: DlibHogDetector,
                                                                    grace_bgr: np.ndarray) -> None:
    face = hog68.detect(grace_bgr)[0]
    pts = landmarks68(grace_bgr, face.bbox)
    assert pts.shape == (68, 2) and _inside(pts[17:], face.bbox + np.array([-5, -5, 5, 5]))
    crop = align_inner_eyes_bottom_lip(grace_bgr, pts, 96)
    assert crop.shape == (96, 96, 3)
    # the landmarks of the aligned crop, found again by dlib, sit on the template (within 3 px)
    again = landmarks68(crop, np.array([0, 0, 96, 96], dtype=np.float32))
    err = np.linalg.norm(again[[39, 42, 57]] - minmax_template(96), axis=1)
    assert err.max() < 3.0, err
    with pytest.raises(ValueError, match="68 landmarks"):
        align_inner_eyes_bottom_lip(grace_bgr, pts[:5], 96)


def test_missing_dlib_is_a_clear_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from facerec.recognition.factory import build_embedder

    monkeypatch.setitem(sys.modules, "dlib", None)  # what an environment without the extra looks like
    with pytest.raises(ModelError, match=r"pip install 'facerec\[dlib\]'"):
        build_embedder("dlib_resnet", ModelStore())
    with pytest.raises(ModelError, match=r"pip install 'facerec\[dlib\]'"):
        build_detector("dlib_hog", ModelStore())

"""Detectors on real faces: the face is found, landmarks sit inside the box, on transformed copies too."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from support.transforms import rotate
from facerec.detection.factory import build_detector
from facerec.models.store import ModelStore

DETECTORS = ["yunet", "scrfd", "scrfd:320"]


@pytest.fixture(scope="module", params=DETECTORS)
def detector(request):
    return build_detector(request.param, ModelStore())


def _check_face(det, image: np.ndarray) -> None:
    faces = det.detect(image)
    assert len(faces) == 1, f"{det.name}: expected one face, got {len(faces)}"
    face = faces[0]
    x1, y1, x2, y2 = face.bbox
    assert face.score > 0.5
    assert face.landmarks.shape == (5, 2)
    assert np.all(face.landmarks[:, 0] > x1) and np.all(face.landmarks[:, 0] < x2)
    assert np.all(face.landmarks[:, 1] > y1) and np.all(face.landmarks[:, 1] < y2)
    left_eye, right_eye, nose, mouth_l, mouth_r = face.landmarks
    assert left_eye[0] < right_eye[0] and mouth_l[0] < mouth_r[0]  # image-left first
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])


def test_finds_grace(detector, grace_bgr: np.ndarray) -> None:
    _check_face(detector, grace_bgr)
    x1, y1, x2, y2 = detector.detect(grace_bgr)[0].bbox
    # Grace Hopper's face sits around x 185..350, y 120..335 in the 512x600 photo.
    assert 150 < x1 < 220 and 300 < x2 < 390 and 80 < y1 < 170 and 300 < y2 < 370


def test_finds_astronaut(detector, astronaut_bgr: np.ndarray) -> None:
    _check_face(detector, astronaut_bgr)


@pytest.mark.parametrize("angle", [-20, 15])
def test_rotated(detector, grace_bgr: np.ndarray, angle: float) -> None:
    _check_face(detector, rotate(grace_bgr, angle))


@pytest.mark.parametrize("scale", [0.3, 2.5])
def test_rescaled_boxes_scale_with_the_image(detector, grace_bgr: np.ndarray, scale: float) -> None:
    base = detector.detect(grace_bgr)[0].bbox
    scaled = cv2.resize(grace_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    _check_face(detector, scaled)
    box = detector.detect(scaled)[0].bbox / scale
    assert np.abs(box - base).max() < 0.12 * (base[2] - base[0])


def test_no_face_is_an_empty_result(detector, grace_bgr: np.ndarray) -> None:
    blank = np.full((300, 400, 3), 127, np.uint8)
    assert detector.detect(blank) == []
    texture = cv2.GaussianBlur(grace_bgr[:100, :100], (0, 0), 8)  # background only
    assert detector.detect(cv2.resize(texture, (300, 300))) == []


def test_group_photo_finds_both(detector, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    h = 512
    a = cv2.resize(grace_bgr, (round(grace_bgr.shape[1] * h / grace_bgr.shape[0]), h))
    group = np.hstack([a, astronaut_bgr])
    faces = sorted(detector.detect(group), key=lambda d: d.bbox[0])
    assert len(faces) == 2
    assert faces[0].bbox[2] < a.shape[1] < faces[1].bbox[0]


def test_tiny_and_odd_sized_images(detector) -> None:
    """Blank slivers give no face, every time: OpenCV 4.14's YuNet returns garbage rows at random on images
    with a side of 32 px or less (about half the calls on 7x300 with a fresh net), so the detector pads them."""
    for _ in range(40):
        for shape in [(1, 1, 3), (7, 300, 3), (300, 5, 3), (31, 300, 3), (300, 32, 3)]:
            assert detector.detect(np.zeros(shape, np.uint8)) == []


@pytest.mark.parametrize("name", ["scrfd:320", "yunet"])
def test_min_score_and_min_face_knobs(name: str, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    both = np.hstack([astronaut_bgr, cv2.resize(grace_bgr, (astronaut_bgr.shape[0] * grace_bgr.shape[1] //
                                                            grace_bgr.shape[0], astronaut_bgr.shape[0]))])
    store = ModelStore()
    faces = build_detector(name, store).detect(both)
    sides = sorted(min(d.bbox[2] - d.bbox[0], d.bbox[3] - d.bbox[1]) for d in faces)
    assert len(faces) == 2
    cut = (sides[0] + sides[1]) / 2  # between the two faces' sizes: only the bigger one stays
    kept = build_detector(name, store, min_face=int(cut)).detect(both)
    assert len(kept) == 1 and min(kept[0].bbox[2] - kept[0].bbox[0], kept[0].bbox[3] - kept[0].bbox[1]) == sides[1]
    assert build_detector(name, store, min_score=0.999).detect(both) == []
    scores = sorted(d.score for d in faces)
    assert len(build_detector(name, store, min_score=float(scores[0]) + 1e-4).detect(both)) == 1

"""One face-selection policy: ``largest``, ``center`` or a face number, on real detections."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facerec.detection.selection import parse_pick, pick_detection, pick_index
from facerec.errors import FacerecError, NoFaceError


@pytest.fixture(scope="module")
def two_faces(grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> np.ndarray:
    """Grace Hopper (larger, on the left) and Eileen Collins (smaller, right of the image centre)."""
    small = cv2.resize(astronaut_bgr, (astronaut_bgr.shape[1] // 2, astronaut_bgr.shape[0] // 2))
    h = grace_bgr.shape[0]
    canvas = np.zeros((h, grace_bgr.shape[1] + 2 * small.shape[1], 3), np.uint8)
    canvas[:, : grace_bgr.shape[1]] = grace_bgr
    x = grace_bgr.shape[1] + small.shape[1] // 2
    canvas[(h - small.shape[0]) // 2:(h - small.shape[0]) // 2 + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def test_vocabulary() -> None:
    assert parse_pick("largest") == "largest" and parse_pick("center") == "center"
    assert parse_pick("central") == "center"  # the old evaluate spelling
    assert parse_pick("2") == 2 and parse_pick(0) == 0
    for bad in ("left", "-1", -1, "1.5"):
        with pytest.raises(FacerecError, match="unknown face pick"):
            parse_pick(bad)


def test_largest_center_and_number_on_real_faces(analyzer, two_faces: np.ndarray) -> None:
    dets = analyzer.detect(two_faces)  # largest first
    assert len(dets) == 2 and dets[0].area > dets[1].area
    largest = pick_detection(dets, two_faces.shape, "largest")
    central = pick_detection(dets, two_faces.shape, "center")
    assert largest is dets[0] and largest.bbox[0] < two_faces.shape[1] / 2  # Grace, on the left
    assert central is dets[1]  # Eileen sits nearer the centre
    assert pick_detection(dets, two_faces.shape, 1) is dets[1]
    with pytest.raises(NoFaceError, match="no face #2"):
        pick_detection(dets, two_faces.shape, "2")
    with pytest.raises(NoFaceError):
        pick_index(np.zeros((0, 4), np.float32), two_faces.shape, "center")


def test_analyzer_face_follows_the_pick(analyzer, two_faces: np.ndarray, astronaut_bgr: np.ndarray,
                                        grace_bgr: np.ndarray) -> None:
    eileen, grace = analyzer.embed(astronaut_bgr), analyzer.embed(grace_bgr)
    central = analyzer.face(two_faces, pick="center").embedding
    assert float(central @ eileen) > float(central @ grace)
    largest = analyzer.face(two_faces).embedding
    assert float(largest @ grace) > float(largest @ eileen)

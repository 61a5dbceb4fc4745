"""Face quality on real faces: blur, size and pose lower it; every face result carries it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facerec.alignment.similarity import ARCFACE_TEMPLATE
from facerec.quality import below_reason, check_min_quality, head_pose, measure, sub_scores
from facerec.quality.score import face_quality
from support.transforms import rotate


def _largest(analyzer, img):
    dets = analyzer.detect(img)
    assert dets, "no face found"
    return dets[0]


def test_template_landmarks_are_frontal():
    yaw, pitch = head_pose(ARCFACE_TEMPLATE)
    assert abs(yaw) < 1.0 and abs(pitch) < 1.0


def test_pose_turns_with_the_nose_and_ignores_roll():
    turned = ARCFACE_TEMPLATE.copy()
    turned[2, 0] += 15.0  # nose towards the image right: a head turned
    yaw, _ = head_pose(turned)
    assert yaw > 20.0
    mirrored = ARCFACE_TEMPLATE.copy()
    mirrored[2, 0] -= 15.0
    assert head_pose(mirrored)[0] == pytest.approx(-yaw, abs=0.5)
    angle = np.radians(30)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rolled = (turned - 56.0) @ rot.T + 56.0
    assert head_pose(rolled)[0] == pytest.approx(yaw, abs=0.5)


def test_quality_is_in_every_face_and_in_its_json(analyzer, grace_bgr):
    faces = analyzer.faces(grace_bgr)
    assert faces and all(0.0 <= f.quality <= 1.0 for f in faces)
    assert faces[0].quality > 0.7  # a sharp, frontal, large portrait
    assert faces[0].to_dict()["quality"] == pytest.approx(faces[0].quality, abs=1e-4)


def test_blur_lowers_sharpness_and_quality(analyzer, grace_bgr):
    det = _largest(analyzer, grace_bgr)
    sharp = measure(grace_bgr, det)
    blurred = cv2.GaussianBlur(grace_bgr, (0, 0), 4)
    bdet = _largest(analyzer, blurred)
    soft = measure(blurred, bdet)
    assert soft.sharpness < 0.2 * sharp.sharpness
    assert face_quality(blurred, bdet) < face_quality(grace_bgr, det) - 0.1


def test_small_faces_score_lower(analyzer, astronaut_bgr):
    big = _largest(analyzer, astronaut_bgr)
    small_img = cv2.resize(astronaut_bgr, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    small = _largest(analyzer, small_img)
    assert sub_scores(measure(small_img, small))["size"] < sub_scores(measure(astronaut_bgr, big))["size"] - 0.4
    assert face_quality(small_img, small) < face_quality(astronaut_bgr, big)


def test_roll_does_not_cost_quality(analyzer, grace_bgr):
    det = _largest(analyzer, grace_bgr)
    tilted = rotate(grace_bgr, 20)
    tdet = _largest(analyzer, tilted)
    assert abs(measure(tilted, tdet).yaw - measure(grace_bgr, det).yaw) < 8.0
    assert face_quality(tilted, tdet) == pytest.approx(face_quality(grace_bgr, det), abs=0.15)


def test_gate_gives_the_reason(analyzer, grace_bgr):
    blurred = cv2.GaussianBlur(cv2.resize(grace_bgr, None, fx=0.1, fy=0.1), (0, 0), 1.5)
    face = analyzer.faces(blurred)[0]
    assert below_reason(blurred, face, None) is None
    assert below_reason(blurred, face, face.quality - 0.01) is None
    reason = below_reason(blurred, face, face.quality + 0.05)
    assert reason is not None and reason.startswith("low quality") and "weakest" in reason
    with pytest.raises(Exception, match="between 0 and 1"):
        check_min_quality(1.5)

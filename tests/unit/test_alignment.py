"""Alignment: the similarity transform puts the eyes, nose and mouth where the template says."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from support.transforms import rotate
from facerec.alignment.similarity import ARCFACE_TEMPLATE, align_face, center_crop, estimate_similarity, template_for
from facerec.detection.factory import build_detector
from facerec.models.store import ModelStore


@pytest.fixture(scope="module")
def yunet():
    return build_detector("yunet", ModelStore())


def test_estimate_recovers_a_known_similarity() -> None:
    angle, scale, t = np.deg2rad(17), 1.7, np.array([12.0, -30.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = ARCFACE_TEMPLATE.astype(np.float64)
    dst = src @ rot.T + t
    m = estimate_similarity(src, dst)
    assert np.allclose(m[:, :2], rot, atol=1e-4) and np.allclose(m[:, 2], t, atol=1e-3)


def test_template_scales_with_crop_size() -> None:
    assert np.allclose(template_for(112), ARCFACE_TEMPLATE)
    assert np.allclose(template_for(224), ARCFACE_TEMPLATE * 2)
    zoomed = template_for(160, zoom=0.8)
    eye_dist = zoomed[1, 0] - zoomed[0, 0]
    assert eye_dist == pytest.approx((73.5318 - 38.2946) * 160 / 112 * 0.8, rel=1e-4)


@pytest.mark.parametrize("angle", [0, 20, -25])
def test_detected_eyes_land_on_the_template(yunet, grace_bgr: np.ndarray, angle: float) -> None:
    img = rotate(grace_bgr, angle)
    face = yunet.detect(img)[0]
    crop = align_face(img, face.landmarks, 112)
    assert crop.shape == (112, 112, 3)
    # Where the landmarks go under the transform ...
    m = estimate_similarity(face.landmarks, ARCFACE_TEMPLATE)
    mapped = face.landmarks @ m[:, :2].T + m[:, 2]
    residual = np.linalg.norm(mapped - ARCFACE_TEMPLATE, axis=1)
    assert residual[:2].max() < 4.0 and residual.max() < 7.0, residual  # a real face is not the template
    # ... and where a detector finds them again in the aligned crop.
    padded = cv2.copyMakeBorder(crop, 56, 56, 56, 56, cv2.BORDER_CONSTANT)
    again = yunet.detect(padded)[0].landmarks - 56
    eyes_error = np.linalg.norm(again[:2] - ARCFACE_TEMPLATE[:2], axis=1)
    assert eyes_error.max() < 5.5, eyes_error  # detector noise on a 112-px crop; eye distance is 35 px
    # The eyes are level after alignment, whatever the input rotation.
    assert abs(again[0, 1] - again[1, 1]) < 3.0


def test_center_crop_fallback(grace_bgr: np.ndarray) -> None:
    crop = center_crop(grace_bgr, 112)
    assert crop.shape == (112, 112, 3) and crop.std() > 10

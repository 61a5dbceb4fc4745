"""Image transforms that make same-person variants of a real face photo, and identity checks."""
from __future__ import annotations

import cv2
import numpy as np


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre, keeping the size."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode as JPEG at ``quality`` and decode again."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def assert_separates_identities(fa, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    """Grace Hopper's flipped, half-size and JPEG-20 versions score above the analyzer's threshold
    against her original; the astronaut scores below it."""
    thr = fa.threshold
    grace = fa.embed(grace_bgr)
    h, w = grace_bgr.shape[:2]
    variants = {"flip": np.ascontiguousarray(grace_bgr[:, ::-1]),
                "half": cv2.resize(grace_bgr, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
                "jpeg20": jpeg(grace_bgr, 20)}
    for kind, img in variants.items():
        sim = float(fa.embed(img) @ grace)
        assert sim > thr, f"grace vs {kind}: {sim:.3f} <= {thr}"
    assert float(fa.embed(astronaut_bgr) @ grace) < thr


def brightness(img: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(img.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def same_person_variants(img: np.ndarray) -> dict[str, np.ndarray]:
    """Transforms of one photo that must still match it: flip, crop, scale, rotate, light, JPEG."""
    h, w = img.shape[:2]
    return {
        "flip": np.ascontiguousarray(img[:, ::-1]),
        "crop": np.ascontiguousarray(img[int(0.05 * h):int(0.95 * h), int(0.05 * w):int(0.95 * w)]),
        "half": cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "double": cv2.resize(img, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC),
        "rot10": rotate(img, 10),
        "rot-15": rotate(img, -15),
        "dark": brightness(img, 0.6),
        "bright": brightness(img, 1.3),
        "jpeg20": jpeg(img, 20),
    }

"""Least-squares similarity alignment of 5 landmarks onto the ArcFace 112x112 template."""
from __future__ import annotations

import cv2
import numpy as np

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
"""Where the eyes, nose tip and mouth corners go in a 112x112 ArcFace crop."""


def template_for(size: int | tuple[int, int], zoom: float = 1.0) -> np.ndarray:
    """The ArcFace template scaled to a ``size`` crop; ``zoom`` < 1 leaves more margin around the face."""
    w, h = (size, size) if isinstance(size, int) else size
    centred = (ARCFACE_TEMPLATE - 56.0) * zoom
    return (centred * np.array([w / 112.0, h / 112.0], dtype=np.float32) + np.array([w / 2.0, h / 2.0])).astype(np.float32)


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the similarity transform (rotation, uniform scale, translation) taking
    ``src`` points to ``dst`` in the least-squares sense (Umeyama, 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var_s = (s ** 2).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ sign) / var_s) if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]]).astype(np.float32)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int | tuple[int, int] = 112,
               zoom: float = 1.0) -> np.ndarray:
    """The face warped so its 5 landmarks sit on the template of a ``size`` crop."""
    w, h = (size, size) if isinstance(size, int) else size
    matrix = estimate_similarity(landmarks, template_for((w, h), zoom))
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def center_crop(image: np.ndarray, size: int | tuple[int, int] = 112, fraction: float = 0.6) -> np.ndarray:
    """The fallback when no face is found: the central ``fraction`` of the image's short side, resized."""
    w, h = (size, size) if isinstance(size, int) else size
    ih, iw = image.shape[:2]
    side = fraction * min(ih, iw)
    x0, y0 = (iw - side) / 2.0, (ih - side) / 2.0
    matrix = np.array([[w / side, 0, -x0 * w / side], [0, h / side, -y0 * h / side]], dtype=np.float32)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR)

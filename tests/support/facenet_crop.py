"""The fixed FaceNet reference input: a face crop of matplotlib's grace_hopper.jpg, area-resized exactly.

Shared by tests/unit/test_models_keras_facenet.py and bench/make_facenet_reference.py (which runs in
a TensorFlow-only venv, so this module needs nothing but NumPy and matplotlib).
"""
from __future__ import annotations

import numpy as np

CROP_ROWS, CROP_COLS, SIZE = (110, 330), (160, 380), 160


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of an exact area-average resize along one axis."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), int(np.ceil(hi))):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    return m / scale


def face_crop() -> np.ndarray:
    """The 160x160x3 float64 RGB face crop of grace_hopper.jpg (values 0..255, not whitened)."""
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    img = mpimg.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))  # uint8 RGB
    crop = img[CROP_ROWS[0]:CROP_ROWS[1], CROP_COLS[0]:CROP_COLS[1], :3].astype(np.float64)
    rows = np.einsum("ij,jkc->ikc", area_matrix(crop.shape[0], SIZE), crop)
    return np.einsum("ikc,lk->ilc", rows, area_matrix(crop.shape[1], SIZE))

"""Two real people (Grace Hopper, the astronaut) in many versions, for fine-tuning tests.

Each photo gives its same-person variants (flip, crop, scale, rotation, light, JPEG) and
low-resolution grayscale versions of them (the kind of domain shift fine-tuning is for).
"""
from __future__ import annotations

import cv2
import numpy as np

from support.transforms import jpeg, same_person_variants


def low_res(img: np.ndarray, width: int = 48) -> np.ndarray:
    """Grayscale, shrunk to ``width`` pixels wide, JPEG 30, back to BGR."""
    h, w = img.shape[:2]
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return jpeg(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR), 30)


def person_images(img: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(kind, image): the photo, its variants, and the low-resolution version of each."""
    base = [("original", img)] + list(same_person_variants(img).items())
    return base + [(f"lowres-{kind}", low_res(im)) for kind, im in base]


def labelled_faces(grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """(person, kind, image) for both people."""
    return [(person, kind, im) for person, img in (("grace", grace_bgr), ("astronaut", astronaut_bgr))
            for kind, im in person_images(img)]


def write_dataset(root, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray):
    """:func:`labelled_faces` as a folder-per-person dataset of PNGs under ``root``; returns ``root``."""
    for person, kind, img in labelled_faces(grace_bgr, astronaut_bgr):
        (root / person).mkdir(exist_ok=True)
        cv2.imwrite(str(root / person / f"{kind}.png"), img)
    return root

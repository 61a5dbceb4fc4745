"""The typed results users print and the public names they import."""
from __future__ import annotations

import numpy as np


def test_face_repr_is_one_short_line(analyzer, grace_bgr: np.ndarray) -> None:
    face = analyzer.face(grace_bgr)
    text = repr(face)
    assert "\n" not in text and len(text) < 160, text
    assert f"embedding=<{analyzer.embedder.dim}-d>" in text and text.startswith("Face(bbox=[")
    assert "score=" in text


def test_default_vector_has_640_dimensions(analyzer) -> None:
    """The README says so: ArcFace-MBF 512 + SFace 128, weighted and concatenated."""
    assert analyzer.embedder.dim == 640


def test_gallery_is_part_of_the_public_api() -> None:
    import facerec
    from facerec.gallery import Gallery

    assert facerec.Gallery is Gallery and "Gallery" in facerec.__all__

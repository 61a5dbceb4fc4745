"""FaceAnalyzer: several images embedded in one batch give the same faces as one image at a time."""
from __future__ import annotations

import numpy as np

from support.transforms import rotate


def test_faces_batch_equals_faces_one_by_one(analyzer, grace_bgr, astronaut_bgr):
    blank = np.full((200, 200, 3), 127, np.uint8)  # no face: an empty list in its place
    images = [grace_bgr, blank, astronaut_bgr, rotate(grace_bgr, 10)]
    batched = analyzer.faces_batch(images)
    assert [len(f) for f in batched] == [len(analyzer.faces(img)) for img in images]
    assert batched[1] == [] and all(len(batched[i]) >= 1 for i in (0, 2, 3))
    for img, faces in zip(images, batched):
        for a, b in zip(analyzer.faces(img), faces):
            np.testing.assert_array_equal(a.bbox, b.bbox)
            np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-5)
    assert float(batched[0][0].embedding @ batched[3][0].embedding) > analyzer.threshold

"""The resume check of ``enroll-dataset`` asks the gallery about the folders' persons only
(``enrolled_images_of``), on SQLite and on Milvus Lite, and answers what reading every row answers."""
from __future__ import annotations

from pathlib import Path

import pytest

from support.galleries import location
from support.transforms import same_person_variants

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.gallery import Gallery  # noqa: E402
from facerec.gallery.store import FaceRecord  # noqa: E402

NAMES = ["Grace Hopper", 'O"Brien \\ x', "Gr\u00e2ce \U0001d50a", "Nobody Else"]


def test_enrolled_images_of_answers_for_the_named_persons_only(tmp_path: Path, analyzer, grace_bgr,
                                                               gallery_backend: str) -> None:
    vectors = [analyzer.embed(v) for v in list(same_person_variants(grace_bgr).values())[:3]]
    with Gallery(location(gallery_backend, tmp_path), analyzer) as g:
        for k, name in enumerate(NAMES[:3]):
            g.add_records(name, [FaceRecord(vector=v, image_sha256=f"{k}-{i}", image_path=None, bbox=[0, 0, 10, 10],
                                            det_score=0.9) for i, v in enumerate(vectors[:k + 1])])
        everything = g.store.enrolled_images()
        assert len(everything) == 6
        for asked in (NAMES, NAMES[1:2], NAMES[2:], ["Nobody Else"], []):
            assert g.store.enrolled_images_of(asked) == {(n, s) for n, s in everything if n in asked}, asked
        assert g.store.enrolled_images_of(NAMES[1:2]) == {(NAMES[1], "1-0"), (NAMES[1], "1-1")}

"""The batch embedding every command uses: one picked face per image, bad files reported, never raised."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facerec.workflows.batch import embed_images


def test_embed_images_picks_and_reports(tmp_path: Path, analyzer, grace_bgr: np.ndarray,
                                        astronaut_bgr: np.ndarray) -> None:
    cv2.imwrite(str(tmp_path / "grace.jpg"), grace_bgr)
    cv2.imwrite(str(tmp_path / "blank.jpg"), np.full((200, 200, 3), 128, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    items = [(tmp_path / n, n) for n in ("grace.jpg", "blank.jpg", "broken.jpg")]
    res = {r.key: r for r in embed_images(items, model=analyzer.model, detector="scrfd:320", analyzer=analyzer)}
    assert res["grace.jpg"].ok and res["grace.jpg"].model == analyzer.model and len(res["grace.jpg"].bbox) == 4
    assert float(res["grace.jpg"].vector @ analyzer.embed(grace_bgr)) > 0.99
    assert res["blank.jpg"].error == "no face found" and not res["blank.jpg"].ok
    assert res["broken.jpg"].error and not res["broken.jpg"].ok
    fallback = list(embed_images(items[1:2], model=analyzer.model, detector="scrfd:320", analyzer=analyzer,
                                 fallback=True))
    assert fallback[0].ok and fallback[0].fallback

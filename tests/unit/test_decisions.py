"""Decisions share one shape: name, similarity, threshold, decision (similarity against the threshold)."""
from __future__ import annotations

import numpy as np

from facerec.decisions import UNKNOWN, Decision, IdentifiedFace, PersonVerification, VerifyResult
from support.transforms import brightness, jpeg


def test_verify_result_is_a_decision(analyzer, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    same = analyzer.verify(grace_bgr, jpeg(brightness(grace_bgr, 0.8), 40))
    other = analyzer.verify(grace_bgr, astronaut_bgr)
    for res, expected in ((same, True), (other, False)):
        assert isinstance(res, VerifyResult) and isinstance(res, Decision) and res.name is None
        assert res.decision is expected and res.same is expected
        assert res.decision == (res.similarity >= res.threshold) and res.threshold == analyzer.threshold
        out = res.to_dict()
        assert out["same"] is expected and set(out) == {"same", "similarity", "threshold", "model", "faces"}


def test_gallery_shapes_keep_their_json(analyzer, grace_bgr: np.ndarray) -> None:
    face = analyzer.face(grace_bgr)
    unknown = IdentifiedFace(name=UNKNOWN, similarity=0.1, threshold=0.3, decision=False, bbox=face.bbox,
                             score=face.score, landmarks=face.landmarks)
    assert not unknown.known and unknown.to_dict()["name"] == "unknown"
    assert set(unknown.to_dict()) == {"bbox", "score", "name", "person_id", "similarity", "threshold", "fpir",
                                      "candidates", "landmarks"}  # threshold and its FPIR target: issue 24
    claim = PersonVerification(name="Grace", similarity=0.9, threshold=0.3, decision=True, model=analyzer.model,
                               face=face)
    assert claim.same and set(claim.to_dict()) == {"person", "same", "similarity", "threshold", "model", "face"}

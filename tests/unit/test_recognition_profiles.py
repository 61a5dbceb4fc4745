"""Named profiles: their View 1 thresholds reach the embedders and the default analyzer."""
from __future__ import annotations

import pytest

from facerec.detection.factory import DEFAULT_DETECTOR
from facerec.errors import ModelError
from facerec.recognition.factory import DEFAULT_EMBEDDER, DEFAULT_FLIP, build_embedder
from facerec.models.profiles import DEFAULT_PROFILE, PROFILES, canonical_model, get_profile, threshold_for


def test_canonical_model_strings():
    a, b = "arcface_mbf", "sface"
    assert canonical_model(f"{a}+{b}") == canonical_model(f"{a}:1+{b}:1") == canonical_model(f"{a}:0.5+{b}:0.5")
    assert canonical_model(f"{a}:3+{b}:1") == ((a, 0.75), (b, 0.25))
    assert canonical_model(f"{a}:3+{b}:1") != canonical_model(f"{b}:3+{a}:1")


def test_default_profile_is_the_default_pipeline():
    prof = get_profile(DEFAULT_PROFILE)
    assert prof.model == DEFAULT_EMBEDDER and prof.detector == DEFAULT_DETECTOR and prof.flip == DEFAULT_FLIP
    with pytest.raises(ModelError, match="unknown profile"):
        get_profile("nope")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_thresholds_reach_the_embedder(name: str):
    prof = PROFILES[name]
    emb = build_embedder(prof.model, flip=prof.flip)
    if prof.threshold is not None:
        assert threshold_for(prof.model, prof.flip) == prof.threshold
        assert emb.threshold == pytest.approx(prof.threshold)
    assert -1.0 < emb.threshold < 1.0
    assert build_embedder(prof.model, flip=prof.flip, threshold=0.42).threshold == pytest.approx(0.42)


def test_default_analyzer_uses_the_default_profile_threshold(analyzer):
    prof = get_profile(DEFAULT_PROFILE)
    expected = prof.threshold if prof.threshold is not None else build_embedder(prof.model, flip=prof.flip).threshold
    assert analyzer.model == build_embedder(prof.model, flip=prof.flip).id
    assert analyzer.threshold == pytest.approx(expected)

"""The frozen pipeline spec: a profile plus what was given, checked once, built into an analyzer in one place."""
from __future__ import annotations

import dataclasses
import pickle

import pytest

from facerec.errors import ModelError
from facerec.models.pipeline import PipelineSpec
from facerec.models.profiles import PROFILES


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_from_profile_takes_the_profile_unless_overridden(name: str):
    prof = PROFILES[name]
    spec = PipelineSpec.from_profile(name)
    assert (spec.model, spec.detector, spec.flip) == (prof.model, prof.detector, prof.flip)
    given = PipelineSpec.from_profile(name, model="sface", detector="yunet", min_face=40, flip=None)
    assert (given.model, given.detector, given.flip, given.min_face) == ("sface", "yunet", prof.flip, 40)


def test_spec_is_frozen_and_travels_to_workers():
    spec = PipelineSpec.from_profile("accurate", min_score=0.6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.flip = False  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec.with_(flip=None, threads=1) == dataclasses.replace(spec, threads=1)


@pytest.mark.parametrize("fields", [{"model": "arcface_mbf:0+sface:0"}, {"detector": "scrfd:100000"},
                                    {"threshold": float("nan")}, {"min_face": -1}, {"model": "nope"}])
def test_bad_specs_are_refused_when_made(fields: dict):
    with pytest.raises(ModelError):
        PipelineSpec(**fields)


def test_the_analyzer_is_the_spec(grace_bgr):
    from facerec.analyzer import FaceAnalyzer

    spec = PipelineSpec.from_profile("fast", min_face=20, offline=True)
    fa = FaceAnalyzer.from_spec(spec)
    assert fa.model == "arcface_mbf" and fa.threshold == pytest.approx(PROFILES["fast"].threshold)
    assert fa.min_face == 20 and len(fa.faces(grace_bgr)) == 1

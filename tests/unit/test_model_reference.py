"""The model-name grammar: one parser and printer (facerec.models.reference), checked once at parse time."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.cli.main import main
from facerec.errors import ModelError
from facerec.models.profiles import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, DEFAULT_FLIP, DEFAULT_PROFILE, PROFILES
from facerec.models.reference import (DETECTORS, MAX_SIZE, SIZE_STEP, DetectorRef, MemberRef, ModelRef,
                                      embedder_names, parse_detector, parse_model)
from facerec.models.store import default_models

NAMES = embedder_names()
_SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=8)
# a head folder as written on a command line: path segments, some joined by '+', none of which may read
# as a token of the grammar ('flip' or an embedder name after a '+', a weight after the last ':')
HEADS = st.lists(st.lists(_SEGMENT, min_size=1, max_size=3).map("+".join), min_size=1, max_size=3).map(
    lambda parts: "/" + "/".join(parts)).filter(
    lambda h: not any(t.split(">")[0] in {*NAMES, "flip"} for t in h.split("+")[1:]))
WEIGHTS = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
MEMBERS = st.builds(MemberRef, st.sampled_from(NAMES), st.none() | HEADS | st.just("ft-0123456789ab"),
                    st.none() | WEIGHTS)
MODELS = st.builds(ModelRef, st.lists(MEMBERS, min_size=1, max_size=4).map(tuple), st.booleans())


@settings(max_examples=300, deadline=None)
@given(MODELS)
def test_model_round_trip(ref: ModelRef):
    assert parse_model(str(ref)) == ref


@given(st.sampled_from(DETECTORS), st.none() | st.integers(1, MAX_SIZE // SIZE_STEP).map(lambda k: k * SIZE_STEP))
def test_detector_round_trip(name: str, size):
    if size is not None and name != "scrfd":
        with pytest.raises(ModelError, match="takes no input size"):
            parse_detector(f"{name}:{size}")
        return
    ref = DetectorRef(name, size)
    assert parse_detector(str(ref)) == ref


def test_embedder_ids_parse_to_their_build_name():
    ref = parse_model("arcface_mbf+flip:0.519+sface+flip:0.481")  # EnsembleEmbedder.id with flip
    assert ref.flip and ref.name == "arcface_mbf:0.519+sface:0.481"
    assert parse_model("arcface_mbf>ft-0123456789ab+flip") == ModelRef((MemberRef("arcface_mbf", "ft-0123456789ab"),), True)
    assert parse_model("arcface_mbf+sface+flip").canonical() == parse_model("arcface_mbf:2+sface:2").canonical()


def test_flip_is_a_token_not_a_substring():
    ref = parse_model("arcface_mbf>/heads/my+flip_head")
    assert not ref.flip and ref.members == (MemberRef("arcface_mbf", "/heads/my+flip_head"),)
    ref = parse_model("arcface_mbf>/heads/a+b:0.5+sface:0.5")
    assert ref.members == (MemberRef("arcface_mbf", "/heads/a+b", 0.5), MemberRef("sface", None, 0.5))
    assert parse_model("arcface_mbf>/heads/x+flip").flip


@pytest.mark.parametrize("text, message", [
    ("arcface_mbf:0+sface:0", "bad weight '0'"), ("arcface_mbf:nan+sface", "bad weight 'nan'"),
    ("arcface_mbf:-1+sface:2", "bad weight '-1'"), ("sface:inf", "bad weight 'inf'"), ("sface:x", "bad weight 'x'"),
    ("", "empty model name"), ("nope", "unknown model"), ("yunet+sface", "'yunet' in 'yunet\\+sface' is not an embedder"),
    ("arcface_mbf>", "BASE>HEAD_DIR"),
    ("flip+sface", "follows a model name"), ("arcface_mbf+flip+sface", "once, at the end"),
])
def test_bad_model_names(text: str, message: str):
    with pytest.raises(ModelError, match=message):
        parse_model(text)


@pytest.mark.parametrize("text", ["scrfd:0", "scrfd:-32", "scrfd:abc", "scrfd:100000", "scrfd:330", "scrfd:",
                                  "yunet:320", "mtcnn"])
def test_bad_detector_names(text: str):
    with pytest.raises(ModelError):
        parse_detector(text)


def test_defaults_are_the_default_profile():
    prof = PROFILES[DEFAULT_PROFILE]
    assert (DEFAULT_EMBEDDER, DEFAULT_DETECTOR, DEFAULT_FLIP) == (prof.model, prof.detector, prof.flip)
    assert default_models() == [parse_detector(prof.detector).model, *parse_model(prof.model).registry_names()]


@pytest.mark.parametrize("args", [
    ["--model", "arcface_mbf:0+sface:0"], ["--model", "arcface_mbf:nan+sface"], ["--model", "arcface_mbf:-1+sface:2"],
    ["--detector", "scrfd:0"], ["--detector", "scrfd:-32"], ["--detector", "scrfd:abc"],
    ["--detector", "scrfd:100000"],
])
def test_cli_refuses_bad_names_in_one_line(args: list[str], capsys, grace_path):
    code = main(["verify", str(grace_path), str(grace_path), *args, "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert ("bad weight" if args[0] == "--model" else "input size") in err

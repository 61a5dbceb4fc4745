"""Every command builds its pipeline spec once from its parsed options (``cli.common.pipeline_spec``):
--profile, then the options given; only the model fields a user chose beat a gallery's record."""
from __future__ import annotations

from typing import Optional

import pytest
import typer
from typer.testing import CliRunner

from facerec.cli.common import (DetectorOpt, FlipOpt, MinFaceOpt, ModelOpt, OfflineOpt, ProfileOpt, given_models,
                                pipeline_spec)
from facerec.models.pipeline import PipelineSpec
from facerec.models.profiles import PROFILES


def _spec_of(args: list[str], **overrides) -> tuple[PipelineSpec, tuple[str, ...]]:
    """The spec and chosen model fields a command with the shared options builds from ``args``."""
    seen = {}
    app = typer.Typer()

    @app.command()
    def command(ctx: typer.Context, model: str = ModelOpt, detector: str = DetectorOpt, flip: bool = FlipOpt,
                profile: Optional[str] = ProfileOpt, min_face: int = MinFaceOpt, offline: bool = OfflineOpt,
                threshold: Optional[float] = typer.Option(None, "--threshold")) -> None:
        seen["spec"], seen["given"] = pipeline_spec(ctx, **overrides), given_models(ctx)

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return seen["spec"], seen["given"]


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_profile_then_the_options_given(name: str):
    prof = PROFILES[name]
    spec, given = _spec_of(["--profile", name])
    assert (spec.model, spec.detector, spec.flip, spec.offline) == (prof.model, prof.detector, prof.flip, None)
    spec, _ = _spec_of(["--profile", name, "--model", "sface", "--no-flip" if prof.flip else "--flip",
                        "--min-face", "40", "--offline"])
    assert (spec.model, spec.detector, spec.flip, spec.min_face, spec.offline) == (
        "sface", prof.detector, not prof.flip, 40, True)
    assert given == ("model", "detector", "flip")


def test_a_commands_threshold_is_its_own_unless_handed_over():
    spec, _ = _spec_of(["--threshold", "0.5"])
    assert spec.threshold is None  # cluster's and classify's --threshold mean something else
    spec, _ = _spec_of(["--threshold", "0.5"], threshold=0.5)
    assert spec.threshold == 0.5


def test_bad_names_fail_when_the_spec_is_made():
    app = typer.Typer()

    @app.command()
    def command(ctx: typer.Context, model: str = ModelOpt) -> None:
        pipeline_spec(ctx)

    result = CliRunner().invoke(app, ["--model", "nope"])
    assert result.exit_code != 0 and "nope" in str(result.exception)


def test_gallery_keeps_its_recorded_models_unless_chosen(tmp_path, grace_bgr):
    from facerec.errors import IncompatibleEmbeddingsError
    from facerec.gallery import Gallery

    db = tmp_path / "g.db"
    with Gallery.open(db, PipelineSpec(model="sface", detector="scrfd:320"), given=("model", "detector")) as g:
        g.enroll("Grace Hopper", [grace_bgr])
    with Gallery.open(db, PipelineSpec(min_face=10), given=()) as g:  # the record's models, this run's cut-off
        assert g.embedder_id == "sface" and g.analyzer.model == "sface" and g.analyzer.min_face == 10
        assert g.analyzer.spec.detector == "scrfd:320"
    with pytest.raises(IncompatibleEmbeddingsError):
        Gallery.open(db, PipelineSpec(model="arcface_mbf"))  # a spec's model fields count unless told otherwise

"""``facerec cluster --profile P`` builds this process's analyzer and every worker's from one pipeline spec:
the same threshold (the profile's) and the same clusters with -j 1 and -j 2, for every profile."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.cli.main import main
from facerec.clustering import CLUSTER_MARGIN
from facerec.models.profiles import PROFILES
from tests.support.transforms import same_person_variants


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> Path:
    folder = tmp_path_factory.mktemp("unsorted")
    for who, img in (("grace", grace_bgr), ("astronaut", astronaut_bgr)):
        variants = same_person_variants(img)
        for name in ("flip", "dark", "rot10"):
            cv2.imwrite(str(folder / f"{who}_{name}.jpg"), variants[name])
    return folder


def _cluster(capsys, photos: Path, out: Path, profile: str, jobs: int) -> tuple[dict, str]:
    code = main(["cluster", str(photos), "--out", str(out), "--profile", profile, "-j", str(jobs), "--json", "--offline"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return json.loads(cap.out), (out / "clusters.csv").read_text()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_same_clusters_and_threshold_with_one_or_two_workers(profile: str, photos: Path, tmp_path: Path, capsys):
    one, csv_one = _cluster(capsys, photos, tmp_path / "j1", profile, 1)
    two, csv_two = _cluster(capsys, photos, tmp_path / "j2", profile, 2)
    assert one["threshold"] == two["threshold"] == round(PROFILES[profile].threshold + CLUSTER_MARGIN, 4)
    assert csv_one == csv_two
    assert one["faces"] == 6 and one["clusters"] == 2 and one["singletons"] == 0


def test_workers_make_the_same_vectors_as_this_process(photos: Path):
    """The spec travels whole to the workers: flip included (the accurate profile's)."""
    from facerec.analyzer import FaceAnalyzer
    from facerec.clustering.images import embed_all_faces
    from facerec.models.pipeline import PipelineSpec

    spec = PipelineSpec.from_profile("accurate", offline=True)
    assert spec.flip
    paths = sorted(photos.iterdir())
    here, _ = embed_all_faces(paths, FaceAnalyzer.from_spec(spec), jobs=1)
    there, _ = embed_all_faces(paths, None, jobs=2, pipeline={"spec": spec})
    np.testing.assert_allclose(np.stack([i.vector for i in here]), np.stack([i.vector for i in there]), atol=1e-5)

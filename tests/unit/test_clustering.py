"""Clustering: metrics on hand-made labels, and every method on real faces (two people, many views)."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from support.transforms import same_person_variants

pytest.importorskip("sklearn", reason="clustering needs scikit-learn (pip install 'facerec[gallery]')")

from facerec.cli.main import main  # noqa: E402
from facerec.clustering import METHODS, bcubed, cluster_vectors, pairwise_prf  # noqa: E402


def test_pairwise_metrics_by_hand():
    truth = ["a", "a", "a", "b", "b"]
    # Perfect.
    assert pairwise_prf([0, 0, 0, 1, 1], truth) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    # Everything together: 4 true pairs of 10.
    m = pairwise_prf([0] * 5, truth)
    assert m["precision"] == pytest.approx(0.4) and m["recall"] == 1.0
    # One 'a' left alone (noise): pairs a1a2 found of a1a2,a1a3,a2a3,b1b2 -> recall 2/4.
    m = pairwise_prf([0, 0, -1, 1, 1], truth)
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(0.5)
    # All noise: nothing predicted, nothing found.
    assert pairwise_prf([-1] * 5, truth)["recall"] == 0.0


def test_bcubed_by_hand():
    truth = ["a", "a", "b"]
    m = bcubed([0, 0, 0], truth)
    # precision per item: 2/3, 2/3, 1/3 ; recall 1 each
    assert m["precision"] == pytest.approx(5 / 9) and m["recall"] == 1.0
    assert bcubed([0, 1, 2], truth) == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                                        "f1": pytest.approx(0.8)}


@pytest.fixture(scope="module")
def two_people(analyzer, grace_bgr, astronaut_bgr):
    vecs, truth = [], []
    for name, img in (("grace", grace_bgr), ("astro", astronaut_bgr)):
        for var in [img, *same_person_variants(img).values()]:
            vecs.append(analyzer.embed(var))
            truth.append(name)
    return np.stack(vecs), truth


@pytest.mark.parametrize("method", METHODS)
def test_methods_separate_two_real_people(two_people, analyzer, method):
    vecs, truth = two_people
    labels = cluster_vectors(vecs, method=method, threshold=analyzer.threshold)
    assert labels.max() == 1  # two persons
    assert pairwise_prf(labels, truth)["f1"] == 1.0
    # With a threshold no pair reaches, everything stays a singleton.
    assert (cluster_vectors(vecs, method=method, threshold=0.9999) == -1).all()


def test_bad_method_and_empty_input():
    assert cluster_vectors(np.zeros((0, 8), np.float32), "dbscan").shape == (0,)
    with pytest.raises(Exception, match="unknown clustering method"):
        cluster_vectors(np.ones((2, 8), np.float32), "kmeans")


def test_cluster_cli_writes_folders_and_csv(tmp_path, capsys, grace_bgr, astronaut_bgr):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, img in (("grace", grace_bgr), ("astro", astronaut_bgr)):
        for vname, var in list(same_person_variants(img).items())[:4]:
            cv2.imwrite(str(photos / f"{name}_{vname}.jpg"), var)
    cv2.imwrite(str(photos / "blank.png"), np.full((64, 64, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert main(["cluster", str(photos), "--out", str(out), "--method", "chinese-whispers", "--json"]) == 0
    cap = capsys.readouterr()
    assert "blank.png" in cap.err
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["person_0001", "person_0002"]
    groups = [sorted(f.name.split("_")[0] for f in (out / d).iterdir()) for d in folders]
    assert sorted(groups) == [["astro"] * 4, ["grace"] * 4]
    with open(out / "clusters.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and {r["cluster"] for r in rows} == {"person_0001", "person_0002"}
    assert main(["cluster", str(photos), "--out", str(out)]) == 2  # refuses a non-empty output folder
    assert main(["cluster", str(photos), "--out", str(tmp_path / "o2"), "--method", "kmeans"]) == 2

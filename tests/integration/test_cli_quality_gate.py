"""``--min-quality`` on gallery enroll / enroll-dataset, align and embed: poor faces are skipped and listed."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facerec.cli.main import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture()
def dataset(tmp_path, grace_bgr, astronaut_bgr):
    """Two people; one of Grace's photos is a small, blurred face (quality about 0.4)."""
    root = tmp_path / "people"
    poor = cv2.GaussianBlur(cv2.resize(grace_bgr, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA), (0, 0), 3)
    for rel, img in (("grace/good.jpg", grace_bgr), ("grace/poor.png", poor), ("astro/good.jpg", astronaut_bgr)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), img)
    return root


def test_enroll_skips_poor_faces_by_default_and_lists_why(tmp_path, capsys, dataset):
    pytest.importorskip("faiss")
    db = tmp_path / "g.db"
    code, _, err = run(capsys, "gallery", "--db", db, "enroll", "grace", dataset / "grace")
    assert code == 0
    assert "enrolled 1 face(s)" in err and "poor.png" in err and "low quality" in err and "weakest" in err
    code, _, err = run(capsys, "gallery", "--db", db, "enroll", "grace", dataset / "grace/poor.png",
                       "--min-quality", "0")
    assert code == 0 and "enrolled 1 face(s)" in err and "(2 in total)" in err
    db2 = tmp_path / "g2.db"
    code, _, err = run(capsys, "gallery", "--db", db2, "enroll-dataset", dataset, "--workers", "1")
    assert code == 0 and "enrolled 2 face(s)" in err and "poor.png" in err and "low quality" in err
    code, _, err = run(capsys, "gallery", "--db", db2, "enroll", "x", dataset / "grace/good.jpg", "--min-quality", "2")
    assert code == 2 and err.startswith("error:")
    code, out, _ = run(capsys, "gallery", "--db", db2, "identify", dataset / "grace/good.jpg", "--json")
    face = json.loads(out)[0]["faces"][0]
    assert code == 0 and face["name"] == "grace" and 0.7 < face["quality"] <= 1.0
    code, out, _ = run(capsys, "detect", dataset / "grace/good.jpg", dataset / "grace/poor.png", "--json")
    good, poor = (r["faces"][0]["quality"] for r in json.loads(out))
    assert code == 0 and good > 0.7 > 0.5 > poor


def test_align_and_embed_gate_only_when_asked(tmp_path, capsys, dataset):
    out = tmp_path / "aligned"
    code, stdout, _ = run(capsys, "align", dataset, out, "--jobs", "1", "--min-quality", "0.5", "--json")
    report = json.loads(stdout)
    assert code == 0 and report["aligned"] == 2 and report["failed"] == 1
    assert report["failures"][0]["path"].endswith("poor.png") and "low quality" in report["failures"][0]["reason"]
    assert not (out / "grace/poor.png").exists() and (out / "grace/good.png").exists()
    vectors = tmp_path / "e.npz"
    code, _, err = run(capsys, "embed", dataset, "--out", vectors, "--jobs", "1", "--min-quality", "0.5")
    assert code == 0 and "poor.png" in err and "low quality" in err
    with np.load(vectors) as data:
        assert len(data["vectors"]) == 2
    code, _, _ = run(capsys, "embed", dataset, "--out", tmp_path / "all.npz", "--jobs", "1")
    assert code == 0
    with np.load(tmp_path / "all.npz") as data:
        assert len(data["vectors"]) == 3  # no gate by default outside enrollment

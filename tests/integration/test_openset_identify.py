"""Identification that follows the gallery's size (issue 24), on real faces: the threshold comes from a
target FPIR and the number of enrolled persons, an explicit threshold wins, every answer says which
threshold and target it used, and verification keeps the 1:1 threshold."""
from __future__ import annotations

import json

import cv2
import pytest

from support.transforms import same_person_variants

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.cli.main import main  # noqa: E402
from facerec.gallery import Gallery  # noqa: E402
from facerec.gallery.gallery import record_of  # noqa: E402
from facerec.openset import DEFAULT_FPIR, comparison_rate  # noqa: E402
from facerec.openset.calibration import TAILS  # noqa: E402


@pytest.fixture(scope="module")
def grace_faces(analyzer, grace_bgr):
    """The real face of each variant of Grace Hopper's photo."""
    return [analyzer.face(img) for img in [grace_bgr, *same_person_variants(grace_bgr).values()]]


def test_threshold_rises_with_the_number_of_enrolled_persons(tmp_path, analyzer, grace_faces, grace_bgr, astronaut_bgr):
    tail = TAILS[analyzer.embedder.id]
    fpir = 1e-4  # strict enough that the rule is above the 1:1 floor from the first person on
    with Gallery(tmp_path / "g.db", analyzer, fpir=fpir) as g:
        seen = []
        for i, face in enumerate(grace_faces):
            g.add_records(f"grace-{i}", [record_of(face, f"d{i}", None)])
            rule = g.open_set()
            assert rule.persons == i + 1 and rule.source == "fpir" and rule.fpir == fpir
            assert rule.threshold == pytest.approx(tail.threshold(comparison_rate(fpir, i + 1)))
            seen.append(rule.threshold)
        assert all(a < b for a, b in zip(seen, seen[1:]))
        # the same rule for a million persons is far above the 1:1 threshold
        assert g.open_set(10**6).threshold > g.threshold + 0.1
        stranger = g.identify(astronaut_bgr)
        assert [f.name for f in stranger] == ["unknown"]
        assert stranger[0].threshold == pytest.approx(seen[-1]) and stranger[0].fpir == fpir
        known = g.identify(grace_bgr)
        assert known and known[0].name.startswith("grace-") and known[0].decision
        g.delete("grace-0")
        assert g.open_set().persons == len(grace_faces) - 1 and g.open_set().threshold == pytest.approx(seen[-2])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture()
def cli_gallery(tmp_path, grace_bgr, astronaut_bgr):
    paths = {}
    for name, img in [("grace", grace_bgr), ("astro", astronaut_bgr),
                      *[(f"grace_{k}", v) for k, v in list(same_person_variants(grace_bgr).items())[:2]]]:
        paths[name] = tmp_path / f"{name}.jpg"
        cv2.imwrite(str(paths[name]), img)
    db = tmp_path / "g.db"
    assert run_main("gallery", "--db", db, "enroll", "Grace Hopper", paths["grace"]) == 0
    return db, paths


def run_main(*argv) -> int:
    return main([str(a) for a in argv])


def test_cli_info_identify_verify_show_their_thresholds(cli_gallery, capsys):
    db, paths = cli_gallery
    capsys.readouterr()
    code, out, _ = run(capsys, "gallery", "--db", db, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["persons"] == 1 and info["verify_threshold"] == pytest.approx(0.2907)
    ident = info["identify"]
    assert ident["source"] == "fpir" and ident["fpir"] == DEFAULT_FPIR and ident["persons"] == 1

    code, out, _ = run(capsys, "gallery", "--db", db, "identify", paths["grace_flip"], paths["astro"], "--json")
    faces = [r["faces"][0] for r in json.loads(out)]
    assert [f["name"] for f in faces] == ["Grace Hopper", "unknown"]
    assert [f["threshold"] for f in faces] == [pytest.approx(ident["threshold"], abs=1e-6)] * 2
    assert {f["fpir"] for f in faces} == {DEFAULT_FPIR}

    # a stricter target raises the threshold; an explicit threshold wins over any target
    code, out, _ = run(capsys, "gallery", "--db", db, "--fpir", "0.0001", "info", "--json")
    assert json.loads(out)["identify"]["threshold"] > ident["threshold"]
    code, out, _ = run(capsys, "gallery", "--db", db, "--fpir", "0.0001", "--threshold", "0.05", "identify",
                       paths["astro"], "--json")
    face = json.loads(out)[0]["faces"][0]
    assert (face["threshold"], face["fpir"]) == (0.05, None)

    # verify keeps the 1:1 threshold
    code, out, _ = run(capsys, "gallery", "--db", db, "verify", "Grace Hopper", paths["grace_crop"], "--json")
    assert json.loads(out)["threshold"] == pytest.approx(0.2907) and json.loads(out)["same"] is True

    code, _, err = run(capsys, "gallery", "--db", db, "--fpir", "1.5", "info")
    assert code == 2 and err.startswith("error:") and "FPIR" in err


def test_service_health_and_identify_show_threshold_and_fpir(tmp_path, grace_bgr, astronaut_bgr):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from facerec.service.app import ServiceConfig, create_app

    app = create_app(ServiceConfig(db=tmp_path / "s.db", workers=1, fpir=0.001))
    jpg = {k: cv2.imencode(".jpg", v)[1].tobytes() for k, v in (("grace", grace_bgr), ("astro", astronaut_bgr))}
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.post("/v1/persons", data={"name": "Grace Hopper"}, files={"image": jpg["grace"]}).status_code in (200, 201)
        health = c.get("/v1/health").json()
        rule = health["identify"]
        assert rule["fpir"] == 0.001 and rule["persons"] == 1 and rule["source"] == "fpir"
        assert health["models"]["threshold"] == pytest.approx(0.2907)  # the 1:1 one, for /v1/verify
        short = c.get("/health").json()
        assert short["identify_threshold"] == pytest.approx(rule["threshold"], abs=1e-6) and short["fpir"] == 0.001
        body = c.post("/v1/identify", files={"image": jpg["astro"]}).json()
        assert body["threshold"] == pytest.approx(rule["threshold"], abs=1e-6) and body["fpir"] == 0.001
        assert body["faces"][0]["name"] == "unknown" and body["faces"][0]["fpir"] == 0.001
        body = c.post("/v1/identify?threshold=0.01", files={"image": jpg["grace"]}).json()
        assert body["threshold"] == 0.01 and body["fpir"] is None and body["faces"][0]["threshold"] == 0.01


def test_video_names_with_the_gallery_rule(tmp_path, analyzer, grace_faces):
    from facerec.video import VideoOptions, VideoProcessor

    with Gallery(tmp_path / "v.db", analyzer) as g:
        g.add_records("Grace Hopper", [record_of(grace_faces[0], "d", None)])
        assert VideoProcessor(analyzer, g).threshold == pytest.approx(g.open_set().threshold)
        assert VideoProcessor(analyzer, g, VideoOptions(threshold=0.5)).threshold == 0.5

"""``facerec gallery ...`` as a user runs it: enroll, identify --json, verify, list, rename, merge, delete, export/import."""
from __future__ import annotations

import json

import cv2
import pytest

from support.galleries import location, other
from support.transforms import same_person_variants

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.cli.main import main  # noqa: E402


@pytest.fixture()
def images(tmp_path, grace_bgr, astronaut_bgr):
    out = {}
    for name, img in (("grace", grace_bgr), ("astro", astronaut_bgr)):
        out[name] = tmp_path / f"{name}.jpg"
        cv2.imwrite(str(out[name]), img)
        for vname, var in list(same_person_variants(img).items())[:3]:
            out[f"{name}_{vname}"] = tmp_path / f"{name}_{vname}.jpg"
            cv2.imwrite(str(out[f"{name}_{vname}"]), var)
    return out


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_gallery_cli_end_to_end(tmp_path, capsys, images, gallery_backend):
    db = location(gallery_backend, tmp_path)
    g = ("gallery", "--db", db)
    assert run(capsys, *g, "enroll", "Grace Hopper", images["grace"])[0] == 0
    assert run(capsys, *g, "enroll", "G H", images["grace_flip"])[0] == 0
    assert run(capsys, *g, "enroll", "Eileen Collins", images["astro"], images["astro_crop"])[0] == 0
    code, out, _ = run(capsys, *g, "identify", images["grace_crop"], images["astro_flip"], "--json")
    assert code == 0
    result = json.loads(out)
    assert [r["image"] for r in result] == [str(images["grace_crop"]), str(images["astro_flip"])]
    assert result[0]["faces"][0]["name"] in ("Grace Hopper", "G H")
    assert result[1]["faces"][0]["name"] == "Eileen Collins"
    face = result[1]["faces"][0]
    assert len(face["bbox"]) == 4 and face["similarity"] > 0.3
    code, out, _ = run(capsys, *g, "verify", "Eileen Collins", images["astro_half"], "--json")
    assert code == 0 and json.loads(out)["same"] is True
    code, out, _ = run(capsys, *g, "verify", "Eileen Collins", images["grace"], "--json")
    assert code == 0 and json.loads(out)["same"] is False
    assert run(capsys, *g, "merge", "G H", "Grace Hopper")[0] == 0
    assert run(capsys, *g, "rename", "Grace Hopper", "Grace B. Hopper")[0] == 0
    code, out, _ = run(capsys, *g, "list", "--json")
    assert {p["name"]: p["faces"] for p in json.loads(out)["persons"]} == {"Grace B. Hopper": 2, "Eileen Collins": 2}
    assert run(capsys, *g, "export", tmp_path / "e.npz")[0] == 0
    assert run(capsys, *g, "delete", "Grace B. Hopper")[0] == 0
    code, out, _ = run(capsys, *g, "identify", images["grace"], "--json")
    assert json.loads(out)[0]["faces"][0]["name"] == "unknown"
    g2 = ("gallery", "--db", location(other(gallery_backend), tmp_path, "g2.db"))  # migration: into the other gallery_backend
    assert run(capsys, *g2, "import", tmp_path / "e.npz")[0] == 0
    code, out, _ = run(capsys, *g2, "identify", images["grace"], "--json")
    assert json.loads(out)[0]["faces"][0]["name"] == "Grace B. Hopper"


def test_gallery_cli_errors(tmp_path, capsys, images):
    db = tmp_path / "g.db"
    g = ("gallery", "--db", db)
    code, _, err = run(capsys, *g, "list")
    assert code == 2 and err.startswith("error:") and "no such gallery" in err
    assert run(capsys, *g, "enroll", "Grace Hopper", images["grace"])[0] == 0
    for argv, needle in [
        (("verify", "Nobody", images["grace"]), "no person 'Nobody'"),
        (("delete", "Nobody"), "no person 'Nobody'"),
        (("rename", "Grace Hopper", ""), "must not be empty"),
        (("merge", "Grace Hopper", "Grace Hopper"), "into itself"),
        (("enroll", "X", tmp_path / "missing.jpg"), "no such file"),
        (("import", tmp_path / "missing.npz"), "no such file"),
        (("export", tmp_path / "out.txt"), "must end in .npz"),
    ]:
        code, _, err = run(capsys, *g, *argv)
        assert code == 2 and err.startswith("error:") and needle in err and "Traceback" not in err, (argv, err)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    code, out, err = run(capsys, *g, "identify", tmp_path / "bad.jpg", images["grace"], "--json")
    assert code == 0 and "bad.jpg: not an image" in " ".join(err.split())  # batch goes past bad files and lists them
    res = json.loads(out)
    assert res[0]["error"] and res[1]["faces"][0]["name"] == "Grace Hopper"
    code, _, err = run(capsys, "gallery", "--db", db, "--model", "sface", "list")
    assert code == 0  # list needs no models
    code, _, err = run(capsys, "gallery", "--db", db, "--model", "sface", "enroll", "X", images["grace"])
    assert code == 2 and "gallery holds vectors of" in err


def test_enroll_dataset_parallel(tmp_path, capsys, images, gallery_backend):
    root = tmp_path / "people"
    for person, keys in (("Grace_Hopper", ("grace", "grace_flip", "grace_crop")), ("Eileen_Collins", ("astro", "astro_flip"))):
        (root / person).mkdir(parents=True)
        for k in keys:
            (root / person / images[k].name).write_bytes(images[k].read_bytes())
    (root / "Eileen_Collins" / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    db = location(gallery_backend, tmp_path)
    code, _, err = run(capsys, "gallery", "--db", db, "enroll-dataset", root, "--workers", "2")
    assert code == 0 and "broken.jpg" in err
    code, out, _ = run(capsys, "gallery", "--db", db, "list", "--json")
    assert {p["name"]: p["faces"] for p in json.loads(out)["persons"]} == {"Grace_Hopper": 3, "Eileen_Collins": 2}
    code, _, err = run(capsys, "gallery", "--db", db, "enroll-dataset", root, "--workers", "2")
    assert code == 0 and "5 image(s) already enrolled" in err


def test_photos_with_several_faces_are_never_enrolled_silently(tmp_path, capsys, images, grace_bgr, astronaut_bgr):
    import numpy as np

    from facerec.gallery.store import GalleryStore

    h = astronaut_bgr.shape[0]
    grace = cv2.resize(grace_bgr, (int(grace_bgr.shape[1] * h / grace_bgr.shape[0]), h))
    both = tmp_path / "both.jpg"  # Eileen Collins on the left half, Grace Hopper on the right
    cv2.imwrite(str(both), np.hstack([astronaut_bgr, grace]))
    db = tmp_path / "g.db"
    code, _, err = run(capsys, "gallery", "--db", db, "enroll", "Grace Hopper", both)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    assert "2 faces, at #0 (" in err and "#1 (" in err and "pick" in err
    assert run(capsys, "gallery", "--db", db, "enroll", "Grace Hopper", both, "--pick", "largest")[0] == 0

    root = tmp_path / "people"
    for person, files in (("Grace_Hopper", (images["grace"], images["grace_flip"], both)),
                          ("Eileen_Collins", (images["astro"], both))):
        (root / person).mkdir(parents=True)
        for f in files:
            (root / person / f.name).write_bytes(f.read_bytes())
    db2 = tmp_path / "g2.db"
    code, _, err = run(capsys, "gallery", "--db", db2, "enroll-dataset", root, "-j", "2")
    text = " ".join(err.split())
    assert code == 0 and "2 photo(s) with several faces" in text and text.count("most like their") == 2
    store = GalleryStore(db2)
    try:  # each person got their own face of the shared photo: Grace's is on the right, Eileen's on the left
        boxes = {p: [f.bbox for f in store.faces_of(p) if f.image_path.endswith("both.jpg")][0]
                 for p in ("Grace_Hopper", "Eileen_Collins")}
    finally:
        store.close()
    assert boxes["Grace_Hopper"][0] >= astronaut_bgr.shape[1] > boxes["Eileen_Collins"][2]


def test_bad_milvus_locations_are_one_error_line(tmp_path, capsys):
    pytest.importorskip("pymilvus")
    for db, needle in (("milvus://", "give a file"), ("milvus://host:19530/bad-name!", "gallery name")):
        code, _, err = run(capsys, "gallery", "--db", db, "list")
        assert code == 2 and err.startswith("error:") and needle in err and "Traceback" not in err, err


def test_gallery_reopened_by_another_process(tmp_path, images, gallery_backend):
    """Enroll in one process, identify in the next (Milvus Lite reopens its collections released)."""
    import subprocess
    import sys

    g = [sys.executable, "-m", "facerec.cli.main", "gallery", "--db", str(location(gallery_backend, tmp_path))]
    done = subprocess.run([*g, "enroll", "Grace Hopper", str(images["grace"])], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*g, "identify", str(images["grace_flip"]), "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["faces"][0]["name"] == "Grace Hopper"


def test_gallery_detector_knobs_apply_to_enroll_and_identify(tmp_path, capsys, grace_bgr, astronaut_bgr):
    """A group photo of Grace Hopper's face (~183 px) beside the astronaut's (~91 px): --min-face 120
    on the gallery drops the small face from identify and refuses to enroll a photo of it alone."""
    import numpy as np

    astro = tmp_path / "astro.jpg"
    cv2.imwrite(str(astro), astronaut_bgr)
    group = tmp_path / "group.jpg"
    h = astronaut_bgr.shape[0]
    cv2.imwrite(str(group), np.hstack([astronaut_bgr, cv2.resize(grace_bgr, (grace_bgr.shape[1] * h // grace_bgr.shape[0], h))]))
    db = tmp_path / "g.db"
    assert run(capsys, "gallery", "--db", db, "enroll", "Eileen Collins", astro)[0] == 0
    code, out, _ = run(capsys, "gallery", "--db", db, "identify", group, "--json")
    assert code == 0 and len(json.loads(out)[0]["faces"]) == 2
    code, out, _ = run(capsys, "gallery", "--db", db, "--min-face", "120", "identify", group, "--json")
    faces = json.loads(out)[0]["faces"]
    assert code == 0 and len(faces) == 1 and faces[0]["name"] == "unknown"  # only Grace Hopper's face left
    code, _, err = run(capsys, "gallery", "--db", db, "--min-face", "120", "enroll", "Eileen Collins", astro)
    assert "no face" in err

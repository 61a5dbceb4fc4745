"""The gallery on real faces: enroll, identify, verify, rename, merge, delete, export/import, index cache."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from support.galleries import location, other
from support.transforms import jpeg, same_person_variants

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.errors import FacerecError, IncompatibleEmbeddingsError, MultipleFacesError, NoFaceError  # noqa: E402
from facerec.gallery import UNKNOWN, Gallery, PersonExistsError, PersonNotFoundError  # noqa: E402
from facerec.gallery.index import FaceIndex  # noqa: E402
from facerec.gallery.store import FaceRecord, GalleryStore  # noqa: E402


@pytest.fixture()
def gallery(tmp_path, analyzer, gallery_backend):
    g = Gallery(location(gallery_backend, tmp_path), analyzer)
    yield g
    g.close()


@pytest.fixture(scope="module")
def both(grace_bgr, astronaut_bgr):
    """Grace Hopper and Eileen Collins side by side in one photo."""
    import cv2

    h = astronaut_bgr.shape[0]
    g = cv2.resize(grace_bgr, (int(grace_bgr.shape[1] * h / grace_bgr.shape[0]), h))
    return np.hstack([astronaut_bgr, g])


def test_enroll_and_identify_real_faces(gallery, grace_bgr, astronaut_bgr, both):
    res = gallery.enroll("Grace Hopper", [grace_bgr])
    assert res.person.name == "Grace Hopper" and res.person.faces == 1 and len(res.face_ids) == 1
    # An unknown face stays unknown while only Grace is enrolled.
    (face,) = gallery.identify(astronaut_bgr)
    assert face.name == UNKNOWN and face.person_id is None and face.similarity < gallery.threshold
    for name, variant in same_person_variants(grace_bgr).items():
        (face,) = gallery.identify(variant)
        assert face.name == "Grace Hopper", name
        assert face.similarity >= gallery.threshold
    gallery.enroll("Eileen Collins", [astronaut_bgr])
    faces = gallery.identify(both, k=2)
    assert sorted(f.name for f in faces) == ["Eileen Collins", "Grace Hopper"]
    for f in faces:
        assert [m.name for m in f.candidates][0] == f.name and len(f.candidates) == 2
        x1, y1, x2, y2 = f.bbox
        on_left = (x1 + x2) / 2 < astronaut_bgr.shape[1]
        assert f.name == ("Eileen Collins" if on_left else "Grace Hopper")
    assert {p.name: p.faces for p in gallery.persons()} == {"Grace Hopper": 1, "Eileen Collins": 1}


def test_enroll_records_source_and_reports_failures(gallery, grace_path, tmp_path):
    blank = np.full((200, 200, 3), 127, np.uint8)
    res = gallery.enroll("Grace Hopper", [grace_path, blank])
    assert len(res.face_ids) == 1 and len(res.failures) == 1 and "no face" in res.failures[0][1]
    (rec,) = gallery.store.faces_of("Grace Hopper")
    assert rec.image_path == str(grace_path) and len(rec.image_sha256) == 64
    assert rec.bbox[2] > rec.bbox[0] and 0 < rec.det_score <= 1
    with pytest.raises(NoFaceError):
        gallery.enroll("Nobody", [blank])
    assert [p.name for p in gallery.persons()] == ["Grace Hopper"]


def test_verify_against_person(gallery, grace_bgr, astronaut_bgr):
    gallery.enroll("Grace Hopper", [grace_bgr])
    assert gallery.verify("Grace Hopper", jpeg(grace_bgr, 30)).same is True
    res = gallery.verify("Grace Hopper", astronaut_bgr)
    assert res.same is False and res.similarity < res.threshold and res.name == "Grace Hopper"
    out = res.to_dict()  # the JSON shape the CLI and the service return
    assert out["same"] is False and out["similarity"] < out["threshold"] and out["person"]["name"] == "Grace Hopper"
    assert {"model", "face"} <= set(out)
    with pytest.raises(PersonNotFoundError):
        gallery.verify("Ada Lovelace", grace_bgr)


def test_rename_merge_delete(gallery, grace_bgr, astronaut_bgr):
    variants = same_person_variants(grace_bgr)
    gallery.enroll("Grace", [grace_bgr])
    gallery.enroll("G. Hopper", [variants["flip"], variants["dark"]])
    gallery.enroll("Eileen Collins", [astronaut_bgr])
    with pytest.raises(PersonExistsError):
        gallery.rename("Grace", "Eileen Collins")
    gallery.rename("Grace", "Grace Hopper")
    merged = gallery.merge("G. Hopper", "Grace Hopper")
    assert merged.faces == 3
    assert {p.name: p.faces for p in gallery.persons()} == {"Grace Hopper": 3, "Eileen Collins": 1}
    assert gallery.identify(variants["rot10"])[0].name == "Grace Hopper"
    # Deleting removes every vector from SQLite and the search index, at once.
    before = set(gallery.index_ids().tolist())
    assert gallery.delete("Grace Hopper") == 3
    assert len(set(gallery.index_ids().tolist())) == len(before) - 3
    assert gallery.store.count() == (1, 1)
    face = gallery.identify(grace_bgr, k=5)[0]
    assert face.name == UNKNOWN and all(m.name != "Grace Hopper" for m in face.candidates)
    with pytest.raises(PersonNotFoundError):
        gallery.delete("Grace Hopper")


def test_delete_seen_by_another_process_view(tmp_path, analyzer, grace_bgr, gallery_backend):
    """A second Gallery on the same file (as a server would hold) stops naming a deleted person."""
    a = Gallery(location(gallery_backend, tmp_path), analyzer)
    b = Gallery(location(gallery_backend, tmp_path), analyzer)
    a.enroll("Grace Hopper", [grace_bgr])
    assert b.identify(grace_bgr)[0].name == "Grace Hopper"
    a.delete("Grace Hopper")
    assert b.identify(grace_bgr)[0].name == UNKNOWN
    a.close()
    b.close()


def test_concurrent_writers_never_duplicate(tmp_path, analyzer, grace_bgr, gallery_backend):
    """Racing writers (two gallery objects, eight threads): one face per (person, image), one person per name."""
    from concurrent.futures import ThreadPoolExecutor

    from facerec.gallery.gallery import face_record

    db = location(gallery_backend, tmp_path)
    a, b = Gallery(db, analyzer), Gallery(db, analyzer)
    rec = face_record(analyzer, grace_bgr)

    def enroll(k: int):
        return (a if k % 2 else b).add_records("Grace Hopper", [rec], skip_enrolled=True)[1]

    def create(k: int):
        try:
            return (a if k % 2 else b).add_records("Ann", [rec], new_person=True)[1]
        except PersonExistsError:
            return None

    with ThreadPoolExecutor(8) as pool:
        added = [ids for ids in pool.map(enroll, range(8)) if ids]
        created = [ids for ids in pool.map(create, range(8)) if ids is not None]
    assert len(added) == 1 and len(created) == 1
    assert {p.name: p.faces for p in a.persons()} == {"Grace Hopper": 1, "Ann": 1}
    a.close()
    b.close()


def test_refuses_other_embedder(tmp_path, analyzer, grace_bgr, gallery_backend):
    db = location(gallery_backend, tmp_path)
    from facerec import FaceAnalyzer

    with Gallery(db, analyzer) as g:
        g.enroll("Grace Hopper", [grace_bgr])
        other = FaceAnalyzer(model="sface")
        face = other.face(grace_bgr)
        from facerec.gallery.gallery import record_of

        with pytest.raises(IncompatibleEmbeddingsError):
            g.add_records("Grace Hopper", [record_of(face, "x", None)], model=other.model)
        with pytest.raises(FacerecError):  # 128-D vectors never enter a 512-D gallery
            g.add_records("Grace Hopper", [record_of(face, "x", None)])
    with pytest.raises(IncompatibleEmbeddingsError):
        Gallery(db, other)
    with pytest.raises(IncompatibleEmbeddingsError):
        Gallery.open(db, model="sface")
    assert Gallery.open(db, load_models=False).embedder_id == analyzer.model


def test_reopens_with_the_embedder_it_was_made_with(tmp_path, gallery_backend):
    db = location(gallery_backend, tmp_path)
    from facerec import FaceAnalyzer

    made = FaceAnalyzer(model="arcface_mbf+sface", flip=True)  # the `accurate` profile: an ensemble with flip
    Gallery(db, made).close()
    with Gallery.open(db) as g:
        assert g.embedder_id == made.model
        assert g.analyzer.model == made.model


def test_export_import_roundtrip(tmp_path, analyzer, grace_bgr, astronaut_bgr, gallery_backend):
    """Export from one gallery_backend, import into the other: the migration path, both ways."""
    with Gallery(location(gallery_backend, tmp_path, "a.db"), analyzer) as a:
        a.enroll("Grace Hopper", [grace_bgr, same_person_variants(grace_bgr)["flip"]])
        a.enroll("Eileen Collins", [astronaut_bgr])
        assert a.export(tmp_path / "e.npz") == 3
    with Gallery(location(other(gallery_backend), tmp_path, "b.db"), analyzer) as b:
        assert b.import_(tmp_path / "e.npz") == (3, 0)
        assert b.import_(tmp_path / "e.npz") == (0, 3)  # idempotent
        assert {p.name: p.faces for p in b.persons()} == {"Grace Hopper": 2, "Eileen Collins": 1}
        assert b.identify(astronaut_bgr)[0].name == "Eileen Collins"
    # An empty gallery opened without models takes the export's embedder.
    with Gallery.open(location(other(gallery_backend), tmp_path, "c.db"), load_models=False) as c:
        c.import_(tmp_path / "e.npz")
        assert c.embedder_id == analyzer.model
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with Gallery(location(gallery_backend, tmp_path, "d.db"), analyzer) as d, pytest.raises(FacerecError, match="not a gallery export"):
        d.import_(tmp_path / "junk.npz")


def test_index_rebuilt_when_missing_stale_or_corrupt(tmp_path, analyzer, grace_bgr, astronaut_bgr):
    db = tmp_path / "g.db"
    with Gallery(db, analyzer) as g:
        g.enroll("Grace Hopper", [grace_bgr])
        g.enroll("Eileen Collins", [astronaut_bgr])
    index_file = db.with_name("g.db.index")
    assert index_file.is_file()
    with Gallery(db, analyzer) as g:
        assert g.identify(grace_bgr)[0].name == "Grace Hopper" and g.index_status == "loaded"
    # Stale: SQLite changed behind the saved index's back (a write that never loaded the index).
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM faces WHERE person_id = (SELECT id FROM persons WHERE name = 'Eileen Collins')")
        con.execute("DELETE FROM persons WHERE name = 'Eileen Collins'")
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    con.close()
    with Gallery(db, analyzer) as g:
        assert g.identify(astronaut_bgr)[0].name == UNKNOWN and g.index_status == "updated (stale)"
        assert g.index_ids().tolist() == g.store.face_ids().tolist()
    # Corrupt: flipped bytes fail the checksum; garbage fails to decode.
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    with Gallery(db, analyzer) as g:
        assert g.identify(grace_bgr)[0].name == "Grace Hopper" and g.index_status.startswith("rebuilt (corrupt")
    index_file.write_bytes(b"garbage")
    with Gallery(db, analyzer) as g:
        g.index_ids()
        assert g.index_status.startswith("rebuilt (corrupt")
    index_file.unlink()
    with Gallery(db, analyzer) as g:
        g.index_ids()
        assert g.index_status == "rebuilt (missing)"


def test_store_transaction_rolls_back(tmp_path, analyzer, grace_bgr):
    store = GalleryStore(tmp_path / "s.db")
    vec = analyzer.embed(grace_bgr)
    good = FaceRecord(vector=vec, image_sha256="a", image_path=None, bbox=[0, 0, 1, 1], det_score=0.9)
    bad = FaceRecord(vector=vec[:100], image_sha256="b", image_path=None, bbox=[0, 0, 1, 1], det_score=0.9)
    gen = store.generation
    with pytest.raises(FacerecError):
        store.add_faces("Grace Hopper", [good, bad], dim=len(vec))
    assert store.count() == (0, 0) and store.generation == gen
    store.add_faces("Grace Hopper", [good], dim=len(vec))
    assert store.count() == (1, 1) and store.generation == gen + 1
    store.check()
    store.close()
    (tmp_path / "not.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(FacerecError, match="not a facerec gallery"):
        GalleryStore(tmp_path / "not.db")


@pytest.fixture(scope="module")
def variant_vectors(analyzer, grace_bgr, astronaut_bgr):
    grace = [analyzer.embed(v) for v in same_person_variants(grace_bgr).values()]
    astro = [analyzer.embed(v) for v in same_person_variants(astronaut_bgr).values()]
    return grace, astro


@pytest.mark.parametrize("kind", ["flat", "pq"])
def test_face_index_kinds(tmp_path, analyzer, grace_bgr, astronaut_bgr, variant_vectors, kind):
    grace, astro = variant_vectors
    vecs = np.stack(grace + astro)
    ids = np.arange(1, len(vecs) + 1) * 10
    stored = dict(zip(ids.tolist(), vecs))

    def exact_vectors(wanted):  # what the gallery's SQLite store answers
        have = [i for i in wanted.tolist() if i in stored]
        return np.array(have, np.int64), np.stack([stored[i] for i in have])

    index = FaceIndex(vecs.shape[1], kind=kind)
    if kind == "pq":
        with pytest.raises(ValueError, match="train"):
            index.add(ids, vecs)
    index.train(vecs)
    index.add(ids, vecs)
    probe = analyzer.embed(grace_bgr)
    sims, found = index.search(probe[None], 3, vectors=exact_vectors)
    assert set(found[0].tolist()) <= set(ids[: len(grace)].tolist())
    np.testing.assert_allclose(sims[0], vecs[[list(ids).index(f) for f in found[0]]] @ probe, rtol=1e-5)  # exact
    index.remove(ids[: len(grace)])  # every Grace vector gone
    for stored_id in ids[: len(grace)].tolist():
        del stored[stored_id]
    sims, found = index.search(probe[None], 3, vectors=exact_vectors)
    assert not set(found[0].tolist()) & set(ids[: len(grace)].tolist())
    index.generation = 7
    index.save(tmp_path / "i.npz", "model-x", "gallery-a")
    loaded, why = FaceIndex.load(tmp_path / "i.npz", "model-x", vecs.shape[1], "gallery-a")
    assert why == "" and loaded.kind == kind and loaded.generation == 7 and len(loaded) == len(astro)
    found = loaded.search(analyzer.embed(astronaut_bgr)[None], 1, vectors=exact_vectors)[1][0]
    assert set(found.tolist()) <= set(ids[len(grace):].tolist())
    assert FaceIndex.load(tmp_path / "i.npz", "model-y", vecs.shape[1], "gallery-a") == (None, "other embedder")
    assert FaceIndex.load(tmp_path / "i.npz", "model-x", vecs.shape[1], "gallery-b") == (None, "another gallery's index")


def test_gallery_switches_to_pq_and_keeps_it_in_step(tmp_path, analyzer, grace_bgr, astronaut_bgr, variant_vectors,
                                                     monkeypatch):
    """Past EXACT_UP_TO faces the gallery trains a PQ index; adds, deletes and a reopen keep it equal to SQLite."""
    from facerec.gallery import index as index_mod
    from facerec.gallery.gallery import record_of
    from facerec.types import Face

    monkeypatch.setattr(index_mod, "EXACT_UP_TO", 12)
    grace, astro = variant_vectors
    db = tmp_path / "g.db"

    def records(vecs, tag):
        return [record_of(Face(bbox=np.array([0, 0, 1, 1], np.float32), score=0.9, embedding=v), f"{tag}{i}", None)
                for i, v in enumerate(vecs)]

    with Gallery(db, analyzer) as g:
        g.add_records("Grace Hopper", records(grace, "g"))
        assert g.store._cache.index.kind == "flat"
        g.add_records("Eileen Collins", records(astro, "e"))  # 18 faces > 1.2 x 12: rebuilt as PQ
        assert g.store._cache.index.kind == "pq"
        assert g.identify(grace_bgr)[0].name == "Grace Hopper"
        assert g.index_ids().tolist() == g.store.face_ids().tolist()
    with Gallery(db, analyzer) as g:
        assert g.identify(astronaut_bgr)[0].name == "Eileen Collins" and g.index_status == "loaded"
        assert g.store._cache.index.kind == "pq"
        g.delete("Eileen Collins")
        assert g.identify(astronaut_bgr)[0].name == UNKNOWN
        assert g.index_ids().tolist() == g.store.face_ids().tolist()


def test_index_of_another_gallery_is_not_trusted(tmp_path, analyzer, grace_bgr, astronaut_bgr):
    """Copying one gallery's database over another's leaves the other's index behind: it must be rebuilt."""
    import shutil

    with Gallery(tmp_path / "a.db", analyzer) as a:
        a.enroll("Grace Hopper", [grace_bgr])
    with Gallery(tmp_path / "b.db", analyzer) as b:
        b.enroll("Eileen Collins", [astronaut_bgr])  # same ids and generation as in a.db
    assert (tmp_path / "b.db.index").is_file()
    shutil.copyfile(tmp_path / "a.db", tmp_path / "b.db")
    with Gallery(tmp_path / "b.db", analyzer) as b:
        assert b.identify(astronaut_bgr)[0].name == UNKNOWN
        assert b.identify(grace_bgr)[0].name == "Grace Hopper"
        assert b.index_status == "rebuilt (another gallery's index)"
    with Gallery(tmp_path / "b.db", analyzer) as b:  # the rebuilt index is bound to b.db now
        assert b.identify(grace_bgr)[0].name == "Grace Hopper" and b.index_status == "loaded"


def test_pick_center_enrolls_the_central_face(gallery, both, grace_bgr, astronaut_bgr):
    """With Grace (larger) off-centre and Eileen at the centre, 'center' enrolls Eileen, 'largest' Grace."""
    import cv2

    padded = cv2.copyMakeBorder(both, 0, 0, 600, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    with pytest.raises(MultipleFacesError, match=r"2 faces, at #0 \(.*\), #1 \("):  # never a silent choice
        gallery.enroll("unsaid", [padded])
    gallery.enroll("central", [padded], pick="center")
    gallery.enroll("largest", [padded], pick="largest")
    assert gallery.identify(astronaut_bgr)[0].name == "central"
    assert gallery.identify(grace_bgr)[0].name == "largest"
    with pytest.raises(FacerecError, match="unknown face pick"):
        gallery.enroll("x", [padded], pick="left")


def test_export_import_keeps_two_faces_of_one_image(tmp_path, analyzer, grace_bgr, astronaut_bgr):
    """A person enrolled twice from the same photo has two faces with one digest and one box:
    both come back from an export, and a second import adds nothing."""
    with Gallery(tmp_path / "a.db", analyzer) as a:
        a.enroll("Grace Hopper", [grace_bgr, grace_bgr])
        a.enroll("Eileen Collins", [astronaut_bgr])
        assert a.export(tmp_path / "e.npz") == 3
    with Gallery(tmp_path / "b.db", analyzer) as b:
        assert b.import_(tmp_path / "e.npz") == (3, 0)
        assert b.import_(tmp_path / "e.npz") == (0, 3)
        assert {p.name: p.faces for p in b.persons()} == {"Grace Hopper": 2, "Eileen Collins": 1}


def _crafted_exports(good: Path, tmp_path: Path) -> dict[str, Path]:
    """Broken copies of a real export: each changes one field."""
    import json

    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    header, faces = json.loads(str(arrays["header"])), json.loads(str(arrays["faces"]))

    def variant(name: str, header_change=None, faces_change=None, **array_change) -> Path:
        h = dict(header)
        f = [dict(x) for x in faces]
        if header_change:
            header_change(h)
        if faces_change:
            faces_change(f)
        out = {**arrays, "header": np.array(json.dumps(h)), "faces": np.array(json.dumps(f)), **array_change}
        path = tmp_path / f"{name}.npz"
        np.savez(path, **out)
        return path

    return {
        "dim_text": variant("dim_text", lambda h: h.update(dim="abc")),
        "no_embedder": variant("no_embedder", lambda h: h.pop("embedder_id")),
        "header_list": variant("header_list", lambda h: h.clear()),
        "persons_numbers": variant("persons_numbers", lambda h: h.update(persons=[1, 2])),
        "threshold_text": variant("threshold_text", lambda h: h.update(threshold="high")),
        "no_bbox": variant("no_bbox", faces_change=lambda f: f[0].pop("bbox")),
        "bbox_text": variant("bbox_text", faces_change=lambda f: f[0].update(bbox="x")),
        "face_not_object": variant("face_not_object", faces_change=lambda f: f.__setitem__(0, 7)),
        "short_vectors": variant("short_vectors", vectors=arrays["vectors"][:, :5]),
        "nan_vectors": variant("nan_vectors", vectors=np.full_like(arrays["vectors"], np.nan)),
        "empty_name": variant("empty_name", names=np.array([""] * len(arrays["names"]))),
    }


def test_crafted_exports_are_refused_before_anything_is_written(tmp_path, analyzer, grace_bgr):
    with Gallery(tmp_path / "a.db", analyzer) as a:
        a.enroll("Grace Hopper", [grace_bgr])
        a.export(tmp_path / "good.npz")
    for kind, path in _crafted_exports(tmp_path / "good.npz", tmp_path).items():
        db = tmp_path / f"{kind}.db"
        with Gallery.open(db, load_models=False) as g:
            with pytest.raises(FacerecError, match="gallery export"):
                g.import_(path)
        with Gallery.open(db, load_models=False) as g:  # nothing was written: a fresh, usable gallery
            assert g.persons() == [] and g.embedder_id is None, kind
            assert g.stats()["faces"] == 0


def test_index_path_that_is_a_folder_is_rebuilt(tmp_path, analyzer, grace_bgr):
    db = tmp_path / "g.db"
    with Gallery(db, analyzer) as g:
        g.enroll("Grace Hopper", [grace_bgr])
    index_file = db.with_name("g.db.index")
    index_file.unlink()
    index_file.mkdir()
    with Gallery(db, analyzer) as g:
        assert g.identify(grace_bgr)[0].name == "Grace Hopper" and g.index_status.startswith("rebuilt")
    assert index_file.is_file()  # the empty folder was replaced by the index
    index_file.unlink()
    (index_file / "keep").mkdir(parents=True)  # a folder with content is left alone; the index lives in memory
    with Gallery(db, analyzer) as g:
        assert g.identify(grace_bgr)[0].name == "Grace Hopper"
    assert (index_file / "keep").is_dir()

"""One suite for every gallery backend (as scikit-learn's ``check_estimator``): the store-level
contract of :class:`facerec.gallery.backend.GalleryBackend`, run on SQLite + FAISS and on Milvus Lite
with real face vectors. The Milvus server runs the writer-safety half in
tests/integration/test_milvus_writers.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support.galleries import location
from support.transforms import same_person_variants

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.errors import FacerecError  # noqa: E402
from facerec.gallery.backend import (Counts, FaceRecord, FacesAdded, GalleryBackend, PersonExistsError,  # noqa: E402
                                     PersonNotFoundError, open_backend, read_meta)
from facerec.gallery.milvus_store import MilvusStore  # noqa: E402
from facerec.gallery.store import GalleryStore  # noqa: E402


@pytest.fixture(scope="module")
def faces(analyzer, grace_bgr, astronaut_bgr) -> dict[str, list[FaceRecord]]:
    """Records of real faces: 4 variants of Grace Hopper, 4 of Eileen Collins (the astronaut)."""
    out = {}
    for name, img in (("grace", grace_bgr), ("eileen", astronaut_bgr)):
        vecs = [analyzer.embed(v) for v in list(same_person_variants(img).values())[:4]]
        out[name] = [FaceRecord(vector=v, image_sha256=f"{name}-{i}", image_path=f"{name}_{i}.jpg",
                                bbox=[1.0, 2.0, 30.0, 40.0], det_score=0.9) for i, v in enumerate(vecs)]
    return out


@pytest.fixture()
def backend(tmp_path: Path, gallery_backend: str):
    store = open_backend(location(gallery_backend, tmp_path))
    yield store
    store.close()


def test_the_location_picks_the_backend(tmp_path: Path, gallery_backend: str) -> None:
    where = location(gallery_backend, tmp_path)
    assert read_meta(where) == {} or gallery_backend == "milvus"  # an SQLite file is not created by reading
    store = open_backend(where)
    try:
        assert isinstance(store, GalleryBackend)
        assert isinstance(store, MilvusStore if gallery_backend == "milvus" else GalleryStore)
        assert store.gallery_id and not store.read_only
    finally:
        store.close()


def test_persons_are_created_found_renamed_and_refused_twice(backend: GalleryBackend) -> None:
    pid = backend.create_person("Grace Hopper")
    assert isinstance(pid, int) and backend.person(pid).name == "Grace Hopper" and backend.person("Grace Hopper").id == pid
    with pytest.raises(PersonExistsError):
        backend.create_person("Grace Hopper")
    assert backend.create_person("  Grace   Hopper ", exist_ok=True) == pid
    backend.rename(pid, "Grace B. Hopper")
    assert backend.person(pid).name == "Grace B. Hopper" and backend.names([pid, 12345]) == {pid: "Grace B. Hopper"}
    with pytest.raises(PersonNotFoundError):
        backend.person("Grace Hopper")
    with pytest.raises(PersonNotFoundError):
        backend.person(-1)
    assert backend.count() == Counts(persons=1, faces=0)


def test_faces_are_stored_searched_and_counted(backend: GalleryBackend, faces) -> None:
    dim = faces["grace"][0].vector.shape[0]
    grace = backend.add_faces("Grace Hopper", faces["grace"][:3], dim=dim)
    eileen = backend.add_faces("Eileen Collins", faces["eileen"][:3], dim=dim)
    assert isinstance(grace, FacesAdded) and grace.kept == [0, 1, 2] and len(set(grace.face_ids)) == 3
    counts = backend.count()
    assert counts == (2, 6) and counts.persons == 2 and counts.faces == 6
    assert backend.searchable() == 6
    assert sorted(backend.search_ids().tolist()) == sorted(grace.face_ids + eileen.face_ids) == backend.face_ids().tolist()
    sims, ids = backend.search(np.stack([faces["grace"][3].vector, faces["eileen"][3].vector]), 2)
    owners = backend.face_owners(ids.reshape(-1).tolist())
    assert owners[int(ids[0, 0])] == grace.person_id and owners[int(ids[1, 0])] == eileen.person_id
    assert sims[0, 0] >= sims[0, 1] and sims[0, 0] > 0.5
    person, vecs = backend.person_vectors("Grace Hopper")
    assert person.faces == 3 and vecs.shape == (3, dim)
    assert np.allclose(np.sort(vecs @ faces["grace"][0].vector)[-1], 1.0, atol=1e-5)
    stored = backend.faces_of("Eileen Collins")
    assert len(stored) == 3 and {f.person_id for f in stored} == {eileen.person_id}
    assert {f.image_path for f in stored} == {f"eileen_{i}.jpg" for i in range(3)}
    assert [n for n, _ in backend.all_faces()] == ["Eileen Collins"] * 3 + ["Grace Hopper"] * 3
    ids_, vecs_ = backend.vectors(grace.face_ids[:2])
    assert sorted(ids_.tolist()) == sorted(grace.face_ids[:2]) and vecs_.shape == (2, dim)
    assert sum(len(i) for i, _ in backend.iter_vectors(batch=4)) == 6
    backend.check()


def test_writes_decide_races_and_refuse_bad_vectors(backend: GalleryBackend, faces) -> None:
    dim = faces["grace"][0].vector.shape[0]
    backend.add_faces("Grace Hopper", faces["grace"][:2], dim=dim)
    again = backend.add_faces("Grace Hopper", faces["grace"][:3], dim=dim, skip_enrolled=True)
    assert again.kept == [2] and len(again.face_ids) == 1 and backend.count() == (1, 3)
    with pytest.raises(PersonExistsError):
        backend.add_faces("Grace Hopper", faces["grace"][3:], dim=dim, new_person=True)
    with pytest.raises(PersonNotFoundError):
        backend.add_faces("Nobody", faces["grace"][3:], dim=dim, create=False)
    short = FaceRecord(vector=faces["grace"][3].vector[:100], image_sha256="short", image_path=None,
                       bbox=[0, 0, 1, 1], det_score=0.9)
    with pytest.raises(FacerecError, match="dimension"):
        backend.add_faces("Grace Hopper", [faces["grace"][3], short], dim=dim)
    assert backend.count() == (1, 3)  # nothing of the refused batch was written
    assert backend.enrolled_images() == {("Grace Hopper", f"grace-{i}") for i in range(3)}
    backend.add_faces("Eileen Collins", faces["eileen"][:1], dim=dim)
    assert backend.enrolled_images(["Eileen Collins", "Not There"]) == {("Eileen Collins", "eileen-0")}


def test_merge_and_delete_leave_no_vector_behind(backend: GalleryBackend, faces) -> None:
    dim = faces["grace"][0].vector.shape[0]
    backend.add_faces("Grace Hopper", faces["grace"][:2], dim=dim)
    backend.add_faces("Grace H.", faces["grace"][2:4], dim=dim)
    eileen = backend.add_faces("Eileen Collins", faces["eileen"][:2], dim=dim)
    assert backend.merge("Grace H.", "Grace Hopper") == 2
    with pytest.raises(PersonNotFoundError):
        backend.person("Grace H.")
    assert backend.person("Grace Hopper").faces == 4 and backend.count() == (2, 6)
    with pytest.raises(FacerecError, match="into itself"):
        backend.merge("Grace Hopper", "Grace Hopper")
    deleted = backend.delete_person("Eileen Collins")
    assert sorted(deleted) == sorted(eileen.face_ids)
    assert backend.count() == (1, 4) and backend.vectors(deleted)[0].size == 0 and backend.face_owners(deleted) == {}
    assert not set(deleted) & set(backend.search_ids().tolist())
    _, ids = backend.search(faces["eileen"][3].vector[None], 8)
    assert not set(ids.reshape(-1).tolist()) & set(deleted)
    backend.check()


def test_metadata_and_faces_outlive_the_process_view(tmp_path: Path, gallery_backend: str, faces) -> None:
    where = location(gallery_backend, tmp_path)
    dim = faces["grace"][0].vector.shape[0]
    first = open_backend(where)
    gid = first.gallery_id
    first.set_meta({"embedder_id": "test-space", "dim": str(dim)})
    added = first.add_faces("Grace Hopper", faces["grace"][:2], dim=dim)
    first.close()
    again = open_backend(where)
    try:
        assert again.gallery_id == gid and again.meta()["embedder_id"] == "test-space"
        assert again.count() == (1, 2) and sorted(again.search_ids().tolist()) == sorted(added.face_ids)
        assert again.rebuild_index() == again.index_status
    finally:
        again.close()
    assert read_meta(where)["dim"] == str(dim)

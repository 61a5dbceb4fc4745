"""Many writers on one real Milvus server: concurrent ``enroll-dataset`` runs, a writer killed midway.

The server is the ``milvus`` package's standalone Milvus (tests/support/milvus_server.py), shared by
the session; each test writes its own galleries on it. Every writer is a separate ``facerec``
process, as an operator would run them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.milvus_server import gallery_contents as _contents, kill_once_stored
from support.transforms import same_person_variants

pytest.importorskip("pymilvus")

PERSONS = 8


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, grace_bgr, astronaut_bgr) -> Path:
    """8 persons, 3 photos each (real faces: transforms of Grace Hopper and of the astronaut), one photo
    stored twice under two file names (one face, not two) and one file that is no image."""
    root = tmp_path_factory.mktemp("people")
    variants = [same_person_variants(img) for img in (grace_bgr, astronaut_bgr)]
    names = ["flip", "crop", "half", "dark", "bright", "jpeg20", "rot10", "double"]
    for p in range(PERSONS):
        folder = root / f"Person_{p:02d}"
        folder.mkdir()
        source = variants[p % 2]
        for j in range(3):
            cv2.imwrite(str(folder / f"{j}.jpg"), source[names[(p + j) % len(names)]])
    (root / "Person_00" / "again.jpg").write_bytes((root / "Person_00" / "0.jpg").read_bytes())
    (root / "Person_01" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


def _facerec(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "facerec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


def _enroll(db: str, root: Path, *extra: str, **kw) -> subprocess.Popen:
    return _facerec("gallery", "--db", db, "enroll-dataset", str(root), "-j", "1", *extra, **kw)


@pytest.fixture(scope="module")
def one_run(milvus_server, dataset):
    """What a single run stores: the reference the racing runs must reproduce."""
    db = milvus_server.unique_url("single")
    proc = _enroll(db, dataset)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert "broken.jpg" in err
    per_person, faces = _contents(db)
    assert per_person == {f"Person_{p:02d}": 3 for p in range(PERSONS)}, per_person
    assert max(faces.values()) == 1
    return per_person, faces


def test_four_writers_at_once_store_each_person_once_with_one_runs_faces(milvus_server, dataset, one_run):
    db = milvus_server.unique_url("four")
    procs = [_enroll(db, dataset) for _ in range(4)]
    results = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err[-2000:]
        assert "broken.jpg" in err  # each run reports the failure
    assert _contents(db) == one_run
    # every run prints the gallery as it is once all four are done or later: never fewer rows than one run
    for _, err in results:
        assert f"gallery now has {PERSONS} person(s)" in err


def test_writer_killed_midway_then_rerun_stores_what_one_run_stores(milvus_server, dataset, one_run):
    db = milvus_server.unique_url("killed")
    proc = _enroll(db, dataset, start_new_session=True)
    kill_once_stored(proc, db, 3)  # once some faces, not all, are in
    partial, _ = _contents(db)
    assert 3 <= sum(partial.values()) < sum(one_run[0].values()), partial
    again = _enroll(db, dataset)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert "already enrolled" in err
    assert _contents(db) == one_run


def test_delete_and_merge_leave_no_vector_behind(milvus_server, dataset, one_run):
    from facerec.gallery.milvus_store import MilvusStore, person_key

    db = milvus_server.unique_url("edit")
    proc = _enroll(db, dataset)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    store = MilvusStore(db)
    try:
        gone = store.person("Person_03")
        store.delete_person("Person_03")
        store.merge("Person_04", "Person_06")
        rows = store._all(store.c_faces, f"person_id in {[gone.id, person_key('Person_04')]}", ["id"])
        assert rows == []
        assert store.person("Person_06").faces == 6
        # a renamed person keeps its id; a new person of the old name gets another one
        pid = store.person("Person_05").id
        store.rename("Person_05", "Renamed")
        assert store.person("Renamed").id == pid
        new_pid = store.create_person("Person_05")
        assert new_pid not in (pid, 0) and store.person("Person_05").faces == 0
        vec = np.ones(store_dim(store), np.float32) / np.sqrt(store_dim(store))
        assert store.search(vec[None], 1)[1][0, 0] in set(store.face_ids().tolist())
    finally:
        store.close()
    per_person, _ = _contents(db)
    assert sum(per_person.values()) == sum(one_run[0].values()) - 3
    assert "Person_03" not in per_person and "Person_04" not in per_person


def store_dim(store) -> int:
    return int(store.meta()["dim"])



def test_names_past_the_basic_plane_and_ids_past_int64(milvus_server):
    """Found by schemathesis through the Ray deployment: a name with a character past U+FFFF was a 500."""
    from facerec.gallery.milvus_store import MilvusStore
    from facerec.gallery.backend import PersonNotFoundError

    store = MilvusStore(milvus_server.unique_url("names"))
    try:
        for name in ("\U0005c571", "Gr\u00e2ce \U0001d50a \U0001f642", 'O"Brien \\ x'):
            pid = store.create_person(name)
            assert store.person(name).id == pid and store.person(pid).name == name
        for wild in (1 << 63, -(1 << 63) - 1, 10**30):  # found by schemathesis too: ids past INT64 were a 500
            with pytest.raises(PersonNotFoundError):
                store.person(wild)
        assert [p.name for p in store.persons()] == sorted(("\U0005c571", "Gr\u00e2ce \U0001d50a \U0001f642",
                                                            'O"Brien \\ x'))
    finally:
        store.close()

"""The gallery's SQLite store against hostile files and concurrent writers."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from support.transforms import same_person_variants

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.cli.main import main  # noqa: E402
from facerec.errors import FacerecError  # noqa: E402
from facerec.gallery import Gallery  # noqa: E402
from facerec.gallery.dataset import enroll_dataset  # noqa: E402
from facerec.gallery.store import APPLICATION_ID, FaceRecord, GalleryStore  # noqa: E402


@pytest.fixture(scope="module")
def grace_vectors(analyzer, grace_bgr) -> list[np.ndarray]:
    return [analyzer.embed(v) for v in same_person_variants(grace_bgr).values()]


def _big_gallery(path: Path, analyzer, vectors: list[np.ndarray]) -> Path:
    """A gallery of 120 real face vectors (about 80 pages of 4 KB)."""
    with Gallery(path, analyzer) as g:
        for k in range(12):
            g.add_records(f"person {k}", [FaceRecord(vector=v, image_sha256=f"{k}-{i}", image_path=None,
                                                     bbox=[0, 0, 10, 10], det_score=0.9) for i, v in enumerate(vectors[:10])])
    return path


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path, capsys) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE persons (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO persons(name) VALUES ('not ours')")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(FacerecError, match="not a facerec gallery"):
        GalleryStore(db)
    code = main(["gallery", "--db", str(db), "list"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "not a facerec gallery" in err, err
    assert db.read_bytes() == before and not Path(f"{db}-wal").exists()


def test_new_galleries_are_stamped_and_old_ones_still_open(tmp_path: Path) -> None:
    GalleryStore(tmp_path / "new.db").close()
    con = sqlite3.connect(tmp_path / "new.db")
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.execute("PRAGMA application_id = 0")  # as made before the stamp existed
    con.commit()
    con.close()
    store = GalleryStore(tmp_path / "new.db")
    store.close()
    con = sqlite3.connect(tmp_path / "new.db")
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_damaged_gallery_is_one_error_line(tmp_path: Path, analyzer, grace_vectors, grace_path: Path,
                                             capsys) -> None:
    db = _big_gallery(tmp_path / "g.db", analyzer, grace_vectors)
    (tmp_path / "g.db.index").unlink()
    assert db.stat().st_size > 40 * 4096
    with open(db, "r+b") as fh:  # dd if=/dev/urandom of=g.db bs=4096 seek=20 count=20 conv=notrunc
        fh.seek(20 * 4096)
        fh.write(np.random.default_rng(0).integers(0, 256, 20 * 4096, dtype=np.uint8).tobytes())
    for argv in (["list"], ["export", str(tmp_path / "e.npz")], ["identify", str(grace_path)],
                 ["enroll", "Grace", str(grace_path)]):
        code = main(["gallery", "--db", str(db), *argv])
        err = capsys.readouterr().err
        assert "Traceback" not in err and code in (0, 2), (argv, code, err)
        if code == 2:
            assert err.splitlines()[-1].startswith("error: "), (argv, err)
    code = main(["gallery", "--db", str(db), "identify", str(grace_path)])
    assert code == 2 and "damaged" in capsys.readouterr().err


def test_concurrent_dataset_runs_never_duplicate(tmp_path: Path, analyzer, grace_bgr, astronaut_bgr) -> None:
    """A second run that decides what to enroll before the first one writes: each (person, image)
    is stored once (the check is made again inside the write transaction)."""
    import cv2

    items = []
    for person, img in (("Grace", grace_bgr), ("Eileen", astronaut_bgr)):
        (tmp_path / person).mkdir()
        for name, var in list(same_person_variants(img).items())[:3]:
            path = tmp_path / person / f"{name}.jpg"
            cv2.imwrite(str(path), var)
            items.append((path, person))
    db = tmp_path / "g.db"
    second = Gallery(db, analyzer)
    results = {}

    def run_second(todo: int, skipped: int) -> None:  # the first run has planned its work: the second runs whole
        results["second"] = enroll_dataset(second, items)

    with Gallery(db, analyzer) as first:
        results["first"] = enroll_dataset(first, items, on_start=run_second)
        second.close()
        assert results["second"].added == 6
        assert results["first"].added == 0 and results["first"].skipped == 6
        assert first.stats()["faces"] == 6
        assert sorted(first.index_ids().tolist()) == first.store.face_ids().tolist()


# -- property-based: any name is stored and found again as the same text, or refused -------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from facerec.gallery.backend import InvalidNameError, validate_name  # noqa: E402

_NAMES = st.one_of(st.text(max_size=220), st.text(st.characters(codec="utf-8"), max_size=30),
                   st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
                   st.from_regex(r"[\x00-\x1f\x7f \[\]/\\'\"%_]{1,12}", fullmatch=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES)
def test_any_name_is_stored_as_given_or_refused(tmp_path: Path, name: str) -> None:
    try:
        clean = validate_name(name)
    except InvalidNameError as exc:
        assert "\n" not in str(exc)
        return
    assert clean == " ".join(name.split()) and 0 < len(clean) <= 200
    clean.encode("utf-8")
    store = _STORES.get("s") or _STORES.setdefault("s", GalleryStore(tmp_path / "names.db"))
    pid = store.create_person(name, exist_ok=True)
    assert store.person(clean).id == pid and store.person(pid).name == clean
    assert store.person(name).id == pid  # looked up by the raw form too


_STORES: dict = {}

"""A process SIGKILLed while enrolling leaves a consistent gallery; the index is rebuilt to match SQLite."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import pytest

from support.transforms import brightness, rotate

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")

from facerec.gallery import UNKNOWN, Gallery  # noqa: E402


def _faces_in(db: Path) -> int:
    try:
        with sqlite3.connect(str(db), timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM faces").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill_when(proc: subprocess.Popen, db: Path, at_least: int, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        n = _faces_in(db)
        if n >= at_least:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return n
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"the enrolling process ended before being killed (rc={proc.poll()})")


def test_sigkill_mid_transactions_leaves_consistent_gallery(tmp_path, analyzer, grace_path, grace_bgr):
    db = tmp_path / "g.db"
    script = textwrap.dedent(f"""
        from facerec import FaceAnalyzer
        from facerec.gallery import Gallery
        from facerec.gallery.gallery import face_record
        g = Gallery({str(db)!r}, FaceAnalyzer())
        rec = face_record(g.analyzer, {str(grace_path)!r})
        i = 0
        while True:  # three faces per person, one transaction each; the index is saved now and then
            g.add_records(f"person {{i:05d}}", [rec, rec, rec])
            i += 1
            if i % 25 == 0:
                g.flush()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _kill_when(proc, db, at_least=300)
    assert proc.returncode == -signal.SIGKILL
    with Gallery(db, analyzer) as g:
        g.store.check()
        persons = g.persons()
        assert persons and all(p.faces == 3 for p in persons)  # never a half-written person
        ids = g.index_ids()
        assert g.index_status in ("updated (stale)", "loaded") or g.index_status.startswith("rebuilt")
        assert ids.tolist() == g.store.face_ids().tolist()
        assert g.identify(grace_bgr)[0].name.startswith("person ")
        for p in persons:
            g.delete(p.id)
        assert g.identify(grace_bgr)[0].name == UNKNOWN and len(g.index_ids()) == 0


def test_enroll_dataset_killed_then_resumed(tmp_path, grace_bgr, astronaut_bgr):
    root = tmp_path / "people"
    total = 0
    for name, img in (("Grace_Hopper", grace_bgr), ("Eileen_Collins", astronaut_bgr)):
        (root / name).mkdir(parents=True)
        for i, angle in enumerate(range(-10, 11, 1)):
            var = brightness(rotate(img, angle), 0.8 + 0.01 * i)
            cv2.imwrite(str(root / name / f"{name}_{i:04d}.jpg"), var)
            total += 1
    db = tmp_path / "g.db"
    cmd = [sys.executable, "-m", "facerec.cli.main", "gallery", "--db", str(db), "enroll-dataset", str(root),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_at = _kill_when(proc, db, at_least=5)
    assert 0 < killed_at < total
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "already enrolled, skipped" in done.stderr
    with Gallery(db) as g:
        g.store.check()
        assert {p.name: p.faces for p in g.persons()} == {"Grace_Hopper": total // 2, "Eileen_Collins": total // 2}
        assert g.index_ids().tolist() == g.store.face_ids().tolist()

"""Every example under examples/ runs on real face photos and says the right thing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.transforms import brightness, jpeg, rotate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _side_by_side(a: np.ndarray, b: np.ndarray, height: int = 400) -> np.ndarray:
    scaled = [cv2.resize(x, (int(x.shape[1] * height / x.shape[0]), height)) for x in (a, b)]
    return np.hstack(scaled)


def test_verify_two_photos(tmp_path: Path, grace_bgr: np.ndarray, astronaut_path: Path) -> None:
    grace, other = tmp_path / "grace.jpg", tmp_path / "grace_dark.jpg"
    cv2.imwrite(str(grace), grace_bgr)
    cv2.imwrite(str(other), jpeg(brightness(grace_bgr[:, ::-1], 0.7), 40))
    same = _run("verify_two_photos.py", str(grace), str(other), cwd=tmp_path)
    assert same.returncode == 0 and same.stdout.startswith("same person"), same.stdout + same.stderr
    diff = _run("verify_two_photos.py", str(grace), str(astronaut_path), cwd=tmp_path)
    assert diff.returncode == 0 and diff.stdout.startswith("different people"), diff.stdout + diff.stderr
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    err = _run("verify_two_photos.py", str(grace), str(bad), cwd=tmp_path)
    assert err.returncode == 2 and err.stderr.startswith("error: ") and "Traceback" not in err.stderr


def test_gallery_from_folder_names_a_group_photo(tmp_path: Path, grace_bgr: np.ndarray,
                                                 astronaut_bgr: np.ndarray) -> None:
    people = tmp_path / "people"
    for name, img in (("Grace_Hopper", grace_bgr), ("Eileen_Collins", astronaut_bgr)):
        (people / name).mkdir(parents=True)
        cv2.imwrite(str(people / name / "1.jpg"), img)
        cv2.imwrite(str(people / name / "2.jpg"), rotate(img, 8))
    group = tmp_path / "group.jpg"
    cv2.imwrite(str(group), _side_by_side(jpeg(astronaut_bgr, 60), grace_bgr[:, ::-1]))
    proc = _run("gallery_from_folder.py", str(people), str(group), "--db", str(tmp_path / "g.db"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "enrolled Eileen_Collins: 2 photo(s)" in lines and "enrolled Grace_Hopper: 2 photo(s)" in lines
    named = [line.split("] ")[1].split()[0] for line in lines if line.startswith("[")]
    assert sorted(named) == ["Eileen_Collins", "Grace_Hopper"], proc.stdout
    left_x = [float(line[1:].split(",")[0]) for line in lines if line.startswith("[") and "Eileen" in line]
    right_x = [float(line[1:].split(",")[0]) for line in lines if line.startswith("[") and "Grace" in line]
    assert left_x[0] < right_x[0]  # the astronaut is on the left of the group photo


def test_video_file_loop_follows_one_person(tmp_path: Path, grace_bgr: np.ndarray) -> None:
    clip = tmp_path / "clip.avi"
    h, w = 360, 480
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    face = cv2.resize(grace_bgr, (200, 240))
    for i in range(20):  # Grace Hopper moving left to right
        frame = np.full((h, w, 3), 90, np.uint8)
        x = 20 + i * 12
        frame[60:300, x:x + 200] = face
        writer.write(frame)
    writer.release()
    proc = _run("video_file_loop.py", str(clip), "--every", "5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4 and all("1 face(s)" in line for line in lines), proc.stdout
    sims = [float(line.rsplit("(", 1)[1].rstrip(")")) for line in lines]
    assert min(sims) > 0.5, sims
    missing = _run("video_file_loop.py", str(tmp_path / "none.mp4"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")


def test_export_to_vector_db(tmp_path: Path, grace_bgr: np.ndarray, astronaut_bgr: np.ndarray) -> None:
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    pytest.importorskip("milvus_lite", reason="the milvus extra is not installed")
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "grace.jpg"), grace_bgr)
    cv2.imwrite(str(photos / "astronaut.jpg"), astronaut_bgr)
    from facerec.cli.main import main

    assert main(["embed", str(photos), "--out", str(tmp_path / "v.npz")]) == 0
    proc = _run("export_to_vector_db.py", str(tmp_path / "v.npz"), "--uri", str(tmp_path / "milvus.db"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "inserted 2 vectors" in proc.stdout
    nearest = proc.stdout.splitlines()[1]
    first = nearest.split("nearest to ")[1].split(":")[0]
    assert nearest.split(": ")[1].startswith(first) and "similarity 1.000" in nearest

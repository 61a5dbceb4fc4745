"""``facerec video`` on a video built in the test from real face photos moving and scaling."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pytest

from facerec.cli.main import main
from facerec.video.demo import Motion, compose_video

pytest.importorskip("faiss", reason="the gallery needs faiss-cpu (pip install 'facerec[gallery]')")
pytest.importorskip("scipy", reason="tracking needs scipy (pip install 'facerec[video]')")

GRACE = Motion((10, 60), (120, 20), 0.30, 0.42)
ASTRO = Motion((400, 40), (350, 120), 0.40, 0.30)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


TRACK_KEYS = {"track", "person", "similarity", "cluster", "votes", "samples", "first", "last", "first_frame",
              "last_frame", "frames", "detections", "box", "quality", "skipped"}
"""Every timeline line has these keys, with a gallery or without, gated by --min-quality or not."""


def lines(text: str) -> list[dict]:
    rows = [json.loads(x) for x in text.splitlines() if x.strip()]
    assert all(set(r) == TRACK_KEYS for r in rows), rows
    return rows


def centre_in(box, rect) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x, y, w, h = rect
    return x <= cx <= x + w and y <= cy <= y + h


def test_tracks_keep_their_ids_and_get_names_from_the_gallery(tmp_path, capsys, grace_bgr, grace_path,
                                                               astronaut_path, astronaut_bgr):
    clip = tmp_path / "clip.mp4"
    rects = compose_video(clip, [grace_bgr, astronaut_bgr], [GRACE, ASTRO], frames=45)
    db = tmp_path / "g.db"
    assert run(capsys, "gallery", "--db", db, "enroll", "Grace Hopper", grace_path)[0] == 0
    assert run(capsys, "gallery", "--db", db, "enroll", "Eileen Collins", astronaut_path)[0] == 0
    timeline, annotated = tmp_path / "t.jsonl", tmp_path / "ann.mp4"
    code, out, err = run(capsys, "video", clip, "--db", db, "--every", "3", "--out", annotated,
                         "--timeline", timeline, "--json")
    assert code == 0, err
    assert "frames/s" in err and "real-time factor" in err
    tracks = lines(timeline.read_text())
    assert lines(out) == tracks  # --json: the same lines on stdout too
    assert len(tracks) == 2, tracks  # one track per face for the whole clip: ids kept while moving
    by_name = {t["person"]: t for t in tracks}
    assert set(by_name) == {"Grace Hopper", "Eileen Collins"}
    for t in tracks:
        assert t["first_frame"] == 0 and t["last_frame"] >= 42 and t["detections"] >= 14
        assert t["similarity"] > 0.5 and t["votes"][t["person"]] == t["samples"] == 5
        assert 0 < t["quality"] <= 1 and t["last"] == pytest.approx(t["last_frame"] / 15, abs=1e-3)
    assert centre_in(by_name["Grace Hopper"]["box"], rects[by_name["Grace Hopper"]["last_frame"]][0])
    assert centre_in(by_name["Eileen Collins"]["box"], rects[by_name["Eileen Collins"]["last_frame"]][1])
    cap = cv2.VideoCapture(str(annotated))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 45
    cap.release()


def test_without_gallery_tracks_are_clustered_into_persons(tmp_path, capsys, grace_bgr, astronaut_bgr):
    clip = tmp_path / "clip.avi"
    grace_early = Motion((20, 60), (80, 60), 0.35, 0.35, first=0.0, last=0.3)
    astro_middle = Motion((380, 80), (330, 60), 0.35, 0.40, first=0.2, last=0.8)
    grace_late = Motion((60, 40), (20, 80), 0.40, 0.32, first=0.65, last=1.0)
    compose_video(clip, [grace_bgr, astronaut_bgr, grace_bgr], [grace_early, astro_middle, grace_late], frames=60)
    code, out, err = run(capsys, "video", clip, "--every", "2", "--timeline", tmp_path / "t.jsonl")
    assert code == 0, err
    assert out == ""  # the timeline went to the file (no --json)
    tracks = sorted(lines((tmp_path / "t.jsonl").read_text()), key=lambda t: t["first_frame"])
    assert all(t["votes"] is None and t["skipped"] is None for t in tracks)
    assert len(tracks) == 3, tracks
    first, astro, second = tracks[0], tracks[1], tracks[2]
    assert first["person"] == second["person"] != astro["person"]
    assert first["track"] != second["track"]  # the face left the picture: a new track, the same person
    assert first["last_frame"] < second["first_frame"]

    code, out, err = run(capsys, "video", clip, "--every", "2", "--min-quality", "0.99", "--json")
    assert code == 0, err
    gated = lines(out)
    assert gated and all(t["person"] == "unknown" and t["samples"] == 0 for t in gated)
    assert all("below --min-quality" in t["skipped"] and "weakest" in t["skipped"] for t in gated)
    assert "below --min-quality" in err


@pytest.mark.parametrize("source, message", [("9", "error: camera 9"),
                                             ("http://127.0.0.1:1/none.mjpg", "error: http://127.0.0.1:1/none.mjpg")])
def test_missing_camera_or_stream_fails_with_one_error_line(source, message):
    proc = subprocess.run([sys.executable, "-m", "facerec", "video", source, "--no-display"], capture_output=True,
                          text=True, env=dict(os.environ), timeout=120)
    assert proc.returncode == 2
    err = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith(message), proc.stderr


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    code, _, err = run(capsys, "video", tmp_path / "none.mp4")
    assert code == 2 and err.startswith("error:") and "no such video file" in err
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    code, _, err = run(capsys, "video", junk)
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1

"""``POST /v1/video`` on a clip of real faces: a background job with progress, then the named timeline."""
from __future__ import annotations

import time

import cv2
import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("httpx", reason="TestClient needs httpx")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")
pytest.importorskip("scipy", reason="tracking needs scipy")
pytest.importorskip("jsonschema")

from fastapi.testclient import TestClient  # noqa: E402

from support.contract import Contract  # noqa: E402
from facerec.service.app import ERRORS_DOC, ServiceConfig, create_app  # noqa: E402
from facerec.video.demo import Motion, compose_video  # noqa: E402


def _jpg(img) -> bytes:
    return cv2.imencode(".jpg", img)[1].tobytes()


def test_video_job_names_faces_and_reports_progress(tmp_path, grace_bgr, astronaut_bgr):
    clip = tmp_path / "clip.mp4"
    compose_video(clip, [grace_bgr, astronaut_bgr], [Motion((10, 60), (120, 20), 0.30, 0.42),
                                                    Motion((400, 40), (350, 120), 0.40, 0.30)], frames=30)
    app = create_app(ServiceConfig(db=tmp_path / "g.db", workers=1, max_bytes=5_000_000))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        check = Contract(client.get("/openapi.json").json())  # every answer as the OpenAPI document says
        for name, img in (("Grace Hopper", grace_bgr), ("Eileen Collins", astronaut_bgr)):
            r = client.post("/v1/persons", data={"name": name}, files={"image": ("p.jpg", _jpg(img), "image/jpeg")})
            assert r.status_code == 201, r.text
        r = client.post("/v1/video?every=3&samples=3", files={"video": ("clip.mp4", clip.read_bytes(), "video/mp4")})
        assert r.status_code == 202, r.text
        job = check(r, "/v1/video", "post")["job"]
        seen_progress = []
        deadline = time.time() + 180
        while time.time() < deadline:
            body = check(client.get(f"/v1/video/{job}"), "/v1/video/{job_id}", "get")
            seen_progress.append(body["progress"])
            if body["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert body["status"] == "done", body
        assert body["progress"] == 1.0 and body["frames"] == body["total_frames"] == 30
        assert seen_progress == sorted(seen_progress)
        assert sorted(t["person"] for t in body["timeline"]) == ["Eileen Collins", "Grace Hopper"]
        assert body["summary"]["fps"] > 0 and body["summary"]["realtime_factor"] > 0

        r = client.post("/v1/video", files={"video": ("x.mp4", b"definitely not a video" * 50, "video/mp4")})
        assert r.status_code == 400 and check(r, "/v1/video", "post")["error"]["code"] == "bad_video"
        assert "`bad_video`" in ERRORS_DOC
        r = client.get("/v1/video/nope")
        assert r.status_code == 404 and check(r, "/v1/video/{job_id}", "get")["error"]["code"] == "not_found"
        r = client.post("/v1/video?every=0", files={"video": ("clip.mp4", clip.read_bytes(), "video/mp4")})
        assert 400 <= r.status_code < 500 and check(r, "/v1/video", "post")
        r = client.post("/v1/video", files={"video": ("clip.mp4", clip.read_bytes(), "video/mp4"), "audio": b"x"})
        assert r.status_code == 422 and "'audio'" in check(r, "/v1/video", "post")["error"]["message"]
        assert {(p, m) for p, m, _ in check.checked} == {("/v1/video", "post"), ("/v1/video/{job_id}", "get")}

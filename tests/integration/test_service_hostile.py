"""The second hostile test's service findings (issue 23): the video job queue (bounded, cancellable,
per key, no temporary file left), video frames above the pixel limit."""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import cv2
import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("httpx", reason="TestClient needs httpx")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")
pytest.importorskip("scipy", reason="tracking needs scipy")

from fastapi.testclient import TestClient  # noqa: E402

from facerec.service.app import ServiceConfig, create_app  # noqa: E402
from facerec.video.demo import Motion, compose_video  # noqa: E402

GRACE = Motion((10, 60), (120, 20), 0.30, 0.42)
ASTRO = Motion((400, 40), (350, 120), 0.40, 0.30)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, grace_bgr, astronaut_bgr) -> dict[str, bytes]:
    """A short clip (12 frames) and a long one (600 frames: minutes of work at every=1)."""
    d = tmp_path_factory.mktemp("clips")
    compose_video(d / "short.mp4", [grace_bgr, astronaut_bgr], [GRACE, ASTRO], frames=12)
    compose_video(d / "long.mp4", [grace_bgr, astronaut_bgr], [GRACE, ASTRO], frames=600)
    return {k: (d / f"{k}.mp4").read_bytes() for k in ("short", "long")}


def _post(client, data: bytes, key: str, query: str = "every=1"):
    return client.post(f"/v1/video?{query}", files={"video": ("clip.mp4", data, "video/mp4")},
                       headers={"X-API-Key": key})


def test_video_queue_is_bounded_cancellable_and_per_key(tmp_path, clips, monkeypatch) -> None:
    """Finding 3: 429 past the per-key and the overall bound, DELETE cancels and removes the upload,
    a key sees only its own jobs, a job's source is not the server's temporary path, and the
    uploads' folder is gone after shutdown."""
    import facerec.service.video as video

    monkeypatch.setattr(video, "MAX_PENDING_PER_KEY", 2)
    monkeypatch.setattr(video, "MAX_PENDING", 3)
    app = create_app(ServiceConfig(db=tmp_path / "g.db", workers=1, api_keys=["alice", "bob"]))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        a1, a2 = (_post(client, clips["long"], "alice") for _ in range(2))
        assert a1.status_code == a2.status_code == 202, (a1.text, a2.text)
        r = _post(client, clips["long"], "alice")
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_jobs", r.text
        b1 = _post(client, clips["long"], "bob")
        assert b1.status_code == 202, b1.text
        r = _post(client, clips["long"], "bob")  # bob is under his own bound, but the queue is full
        assert r.status_code == 429 and "service" in r.json()["error"]["message"], r.text
        folder = app.state.video_jobs.folder
        a1, a2, b1 = (x.json()["job"] for x in (a1, a2, b1))
        assert len(list(folder.iterdir())) >= 2  # the queued uploads (the first may be running)
        for job in (a1, a2):  # bob can neither read nor cancel alice's jobs
            assert client.get(f"/v1/video/{job}", headers={"X-API-Key": "bob"}).status_code == 404
            assert client.delete(f"/v1/video/{job}", headers={"X-API-Key": "bob"}).status_code == 404
            assert client.get(f"/v1/video/{job}", headers={"X-API-Key": "alice"}).status_code == 200
        for job, key in ((a2, "alice"), (a1, "alice"), (b1, "bob")):  # queued, then running
            r = client.delete(f"/v1/video/{job}", headers={"X-API-Key": key})
            assert r.status_code == 204, r.text
            assert client.get(f"/v1/video/{job}", headers={"X-API-Key": key}).status_code == 404
        deadline = time.time() + 60
        while list(folder.iterdir()) and time.time() < deadline:
            time.sleep(0.2)
        assert not list(folder.iterdir())
        r = _post(client, clips["short"], "alice", "every=3")
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        deadline = time.time() + 180
        while time.time() < deadline:
            body = client.get(f"/v1/video/{job}", headers={"X-API-Key": "alice"}).json()
            if body["status"] not in ("queued", "running"):
                break
            time.sleep(0.3)
        assert body["status"] == "done" and body["summary"]["source"] == "video", body
        assert str(folder) not in json.dumps(body)
        _post(client, clips["long"], "alice")
        _post(client, clips["long"], "bob")
    assert not folder.exists()  # shutdown removed the queued and the running upload


def test_video_frames_above_the_pixel_limit_are_a_400(tmp_path, clips, monkeypatch) -> None:
    """Finding 2: the service refuses a video whose frames exceed the pixel limit before any job runs."""
    import facerec.video.source

    monkeypatch.setattr(facerec.video.source, "MAX_PIXELS", 640 * 360 - 1)
    app = create_app(ServiceConfig(db=tmp_path / "g.db", workers=1))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.post("/v1/video", files={"video": ("clip.mp4", clips["short"], "video/mp4")})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_video", r.text
        assert "exceed the limit" in r.json()["error"]["message"]
        assert not list(app.state.video_jobs.folder.iterdir())


def test_sigterm_leaves_no_upload_behind(tmp_path, clips) -> None:
    """Finding 3: a real server stopped by SIGTERM with jobs queued and running removes every upload."""
    from support.server import running_server

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with running_server(tmp_path / "g.db", env={"TMPDIR": str(tmp)}) as url:
        for _ in range(2):
            req = urllib.request.Request(url + "/v1/video?every=1", data=_multipart(clips["long"]), method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                assert resp.status == 202
        assert [p for p in tmp.rglob("facerec-video-*/*") if p.is_file()]
    assert not list(tmp.rglob("facerec-video-*")), list(tmp.rglob("*"))


BOUNDARY = "facerecboundary"


def _multipart(data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"c.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def _raw(url: str, head: bytes, body: bytes = b"") -> socket.socket:
    host, port = url.rsplit("/", 1)[-1].split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(head + body)
    return s


def test_slow_and_dropped_bodies(tmp_path) -> None:
    """Finding 11: a body sent 1 byte at a time is cut off with a 408 at the body time limit, and clients
    that go away mid-body are not logged as server errors."""
    from support.server import running_server

    log = tmp_path / "server.log"
    head = (b"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 1000\r\n\r\n")
    with running_server(tmp_path / "g.db", env={"FACEREC_BODY_TIMEOUT": "3"}, log_path=log) as url:
        slow = [_raw(url, head, b"--b\r\n") for _ in range(5)]
        started = time.monotonic()
        for s in slow:
            s.settimeout(20)
            answer = b""
            while b"request_timeout" not in answer and (chunk := s.recv(4096)):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer, answer
        assert time.monotonic() - started < 15
        for _ in range(5):  # gone mid-body
            s = _raw(url, head, b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\nxx")
            time.sleep(0.2)
            s.close()
        time.sleep(1.0)
        urllib.request.urlopen(url + "/health", timeout=10).read()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and " 500 " not in text and "ClientDisconnect" not in text, text[-3000:]
    assert text.count(" 408 ") == 5, text[-3000:]


def test_extra_parts_and_part_counts_are_refused_by_name(tmp_path, grace_bgr, astronaut_bgr, clips) -> None:
    """Finding 12: several 'image' parts to a one-image route, or two 'video' parts, are a 422 (not an
    answer for the first only); 1,200 parts say what the limit is; several faces name the upload."""
    import numpy as np

    def jpg(img) -> bytes:
        return cv2.imencode(".jpg", img)[1].tobytes()

    app = create_app(ServiceConfig(db=tmp_path / "g.db", workers=1))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for route in ("/v1/detect", "/v1/identify", "/v1/embed"):
            r = client.post(route, files=[("image", ("a.jpg", jpg(grace_bgr), "image/jpeg"))] * 3)
            assert r.status_code == 422 and "3 'image' parts" in r.json()["error"]["message"], (route, r.text)
        r = client.post("/v1/video", files=[("video", ("c.mp4", clips["short"], "video/mp4"))] * 2)
        assert r.status_code == 422 and "2 'video' parts" in r.json()["error"]["message"], r.text
        r = client.post("/v1/detect", files=[(f"f{k}", (None, "x")) for k in range(1200)])
        assert r.status_code == 400 and "HTTPException" not in r.text and "1000" in r.text, r.text
        pair = np.hstack([grace_bgr, cv2.resize(astronaut_bgr, grace_bgr.shape[1::-1])])
        r = client.post("/v1/persons", data={"name": "Two"}, files={"image": ("two_people.jpg", jpg(pair), "image/jpeg")})
        msg = r.json()["error"]["message"]
        assert r.status_code == 422 and msg.startswith("two_people.jpg: 2 faces") and "ndarray" not in msg, r.text

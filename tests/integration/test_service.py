"""The REST API on real faces, and the documented 4xx JSON error for every kind of bad input."""
from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("httpx", reason="TestClient needs httpx")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")

from fastapi.testclient import TestClient  # noqa: E402

from support.galleries import BACKENDS, location  # noqa: E402

from facerec.errors import FacerecError  # noqa: E402
from facerec.models.pipeline import PipelineSpec  # noqa: E402
from facerec.service.app import ServiceConfig, create_app  # noqa: E402


def _jpg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def photos(grace_bgr, astronaut_bgr):
    return {"grace": _jpg(grace_bgr), "grace_flip": _jpg(np.ascontiguousarray(grace_bgr[:, ::-1])),
            "astro": _jpg(astronaut_bgr), "blank": _jpg(np.full((240, 320, 3), 128, np.uint8))}


@pytest.fixture(scope="module", params=BACKENDS)
def client(tmp_path_factory, request):
    """The service on an SQLite gallery, and on a Milvus Lite one (``facerec serve --db milvus:///...``)."""
    db = location(request.param, tmp_path_factory.mktemp("svc"))
    app = create_app(ServiceConfig(db=db, workers=1, max_bytes=2_000_000))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def _err(resp, status: int, code: str) -> dict:
    """The response is the documented error: this status and code, in the OpenAPI description's table."""
    from facerec.service.app import ERRORS_DOC

    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["error"]["code"] == code and body["error"]["message"], body
    row = next(line for line in ERRORS_DOC.splitlines() if f"`{code}`" in line)
    assert row.startswith(f"| {status} |"), row
    return body


def test_health_docs_and_page(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"] and h["auth"] is False
    schema = client.get("/openapi.json").json()
    assert "`no_face`" in schema["info"]["description"]
    for path in ("/v1/detect", "/v1/embed", "/v1/verify", "/v1/identify", "/v1/persons", "/v1/persons/{person_id}",
                 "/v1/persons/{person_id}/faces"):
        assert path in schema["paths"], path
    body = schema["paths"]["/v1/identify"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "facerec" in page.text and client.get("/static/app.js").status_code == 200


def test_detect_embed_verify(client, photos):
    r = client.post("/v1/detect", files={"image": ("g.jpg", photos["grace"], "image/jpeg")})
    assert r.status_code == 200 and len(r.json()["faces"]) == 1 and 0.7 < r.json()["faces"][0]["quality"] <= 1
    r = client.post("/v1/embed", json={"image": base64.b64encode(photos["astro"]).decode()})
    face = r.json()["faces"][0]
    assert 0.5 < face["quality"] <= 1
    assert len(face["embedding"]) == r.json()["dim"] and abs(np.linalg.norm(face["embedding"]) - 1) < 1e-3
    r = client.post("/v1/verify", files={"image_a": photos["grace"], "image_b": photos["grace_flip"]})
    assert r.status_code == 200 and r.json()["same"] is True
    data_url = "data:image/jpeg;base64," + base64.b64encode(photos["astro"]).decode()
    r = client.post("/v1/verify", json={"image_a": base64.b64encode(photos["grace"]).decode(), "image_b": data_url})
    assert r.status_code == 200 and r.json()["same"] is False


def test_persons_lifecycle_and_identify(client, photos):
    r = client.post("/v1/identify", files={"image": photos["grace"]})
    assert r.status_code == 200 and r.json()["faces"][0]["name"] == "unknown"
    r = client.post("/v1/persons", data={"name": "Grace Hopper"}, files={"image": photos["grace"]})
    assert r.status_code == 201 and r.json()["added"] == 1
    grace_id = r.json()["person"]["id"]
    r = client.post("/v1/persons", json={"name": "Eileen"})
    assert r.status_code == 201 and r.json()["person"]["faces"] == 0
    astro_id = r.json()["person"]["id"]
    r = client.post(f"/v1/persons/{astro_id}/faces", json={"images": [base64.b64encode(photos["astro"]).decode()]})
    assert r.status_code == 201 and r.json()["person"]["faces"] == 1
    r = client.patch(f"/v1/persons/{astro_id}", json={"name": "Eileen Collins"})
    assert r.json()["person"]["name"] == "Eileen Collins"
    r = client.post("/v1/identify?k=2", files={"image": photos["grace_flip"]})
    (face,) = r.json()["faces"]
    assert face["name"] == "Grace Hopper" and face["person_id"] == grace_id and len(face["candidates"]) == 2
    r = client.post("/v1/verify", data={"person_id": str(astro_id)}, files={"image": photos["astro"]})
    assert r.status_code == 200 and r.json()["same"] is True
    persons = client.get("/v1/persons").json()["persons"]
    assert {p["name"]: p["faces"] for p in persons} == {"Grace Hopper": 1, "Eileen Collins": 1}
    got = client.get(f"/v1/persons/{grace_id}").json()
    assert got["faces"][0]["image_sha256"] and len(got["faces"][0]["bbox"]) == 4
    # Merge, then delete: gone from identify at once.
    extra = client.post("/v1/persons", data={"name": "GH"}, files={"image": photos["grace_flip"]}).json()["person"]["id"]
    assert client.patch(f"/v1/persons/{extra}", json={"merge_into": grace_id}).json()["person"]["faces"] == 2
    r = client.delete(f"/v1/persons/{grace_id}")
    assert r.status_code == 200 and r.json()["faces_removed"] == 2
    r = client.post("/v1/identify?k=5", files={"image": photos["grace"]})
    face = r.json()["faces"][0]
    assert face["name"] == "unknown" and all(c["name"] != "Grace Hopper" for c in face["candidates"])
    _err(client.get(f"/v1/persons/{grace_id}"), 404, "unknown_person")
    client.delete(f"/v1/persons/{astro_id}")


def test_every_bad_input_is_a_clear_4xx(client, photos):
    bad_requests = [
        (client.post("/v1/identify", files={"image": ("x.jpg", b"not an image", "image/jpeg")}), 400, "bad_image"),
        (client.post("/v1/identify", files={"image": ("x.jpg", photos["grace"][:300], "image/jpeg")}), 400, "bad_image"),
        (client.post("/v1/identify", files={"image": ("x.jpg", b"", "image/jpeg")}), 400, "bad_image"),
        (client.post("/v1/detect", json={"image": "%%% not base64 %%%"}), 400, "bad_image"),
        (client.post("/v1/detect", json={"image": 12}), 400, "bad_image"),
        (client.post("/v1/detect", json={"picture": "abc"}), 422, "missing_image"),
        (client.post("/v1/detect", files={"other": ("x.jpg", photos["grace"], "image/jpeg")}), 422, "missing_image"),
        (client.post("/v1/detect", content=b"{not json", headers={"content-type": "application/json"}), 400, "bad_request"),
        (client.post("/v1/detect", json=[1, 2]), 400, "bad_request"),
        (client.post("/v1/detect", content=b"abc", headers={"content-type": "text/plain"}), 415, "unsupported_media_type"),
        (client.post("/v1/detect", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}),
         None, None),
        (client.post("/v1/embed", files={"image": photos["blank"]}), 200, None),  # no face: an empty list
        (client.post("/v1/verify", files={"image_a": photos["blank"], "image_b": photos["grace"]}), 422, "no_face"),
        (client.post("/v1/verify", files={"image_a": photos["grace"]}), 422, "missing_image"),
        (client.post("/v1/verify", data={"person_id": "999"}, files={"image": photos["grace"]}), 404, "unknown_person"),
        (client.post("/v1/verify", data={"person_id": "abc"}, files={"image": photos["grace"]}), 422, "invalid_request"),
        (client.post("/v1/identify?k=0", files={"image": photos["grace"]}), 422, "invalid_request"),
        (client.post("/v1/identify?threshold=x", files={"image": photos["grace"]}), 422, "invalid_request"),
        (client.post("/v1/persons", json={}), 422, "missing_field"),
        (client.post("/v1/persons", json={"name": "   "}), 422, "missing_field"),
        (client.post("/v1/persons", json={"name": "x" * 500}), 422, "invalid_name"),
        (client.post("/v1/persons", json={"name": ["a"]}), 422, "invalid_request"),
        (client.post("/v1/persons", data={"name": "Nobody"}, files={"image": photos["blank"]}), 422, "no_face"),
        (client.post("/v1/persons", data={"name": "Two", "face": "3"}, files={"image": photos["grace"]}), 422, "no_face"),
        (client.post("/v1/persons", data={"name": "Two", "face": "x"}, files={"image": photos["grace"]}), 422,
         "invalid_request"),
        (client.get("/v1/persons/999"), 404, "unknown_person"),
        (client.get("/v1/persons/abc"), 422, "invalid_request"),
        (client.delete("/v1/persons/999"), 404, "unknown_person"),
        (client.patch("/v1/persons/999", json={"name": "x"}), 404, "unknown_person"),
        (client.post("/v1/persons/999/faces", files={"image": photos["grace"]}), 404, "unknown_person"),
        (client.get("/v1/nothing-here"), 404, "not_found"),
        (client.put("/v1/persons", json={}), 405, "method_not_allowed"),
        (client.post("/v1/detect", files={"image": ("big.bin", b"\0" * 3_000_000, "image/jpeg")}), 413, "too_large"),
    ]
    for resp, status, code in bad_requests:
        assert resp.status_code < 500, resp.text
        if status is None:
            assert 400 <= resp.status_code < 500 and "error" in resp.json()
        elif code is None:
            assert resp.status_code == status
        else:
            _err(resp, status, code)
    assert client.post("/v1/embed", files={"image": photos["blank"]}).json()["faces"] == []
    # Name clashes and bad patches.
    pid = client.post("/v1/persons", json={"name": "Dup"}).json()["person"]["id"]
    other = client.post("/v1/persons", json={"name": "Other"}).json()["person"]["id"]
    _err(client.post("/v1/persons", json={"name": "Dup"}), 409, "person_exists")
    _err(client.patch(f"/v1/persons/{pid}", json={"name": "Other"}), 409, "person_exists")
    _err(client.patch(f"/v1/persons/{pid}", json={}), 422, "invalid_request")
    _err(client.patch(f"/v1/persons/{pid}", json={"merge_into": pid}), 409, "conflict")  # a conflict, not bad input
    _err(client.patch(f"/v1/persons/{pid}", json={"merge_into": 12345}), 404, "unknown_person")
    _err(client.post(f"/v1/persons/{pid}/faces", json={}), 422, "missing_image")
    client.delete(f"/v1/persons/{pid}")
    client.delete(f"/v1/persons/{other}")


def test_a_photo_with_several_faces_needs_a_pick(client, photos, grace_bgr, astronaut_bgr):
    h = astronaut_bgr.shape[0]
    grace = cv2.resize(grace_bgr, (int(grace_bgr.shape[1] * h / grace_bgr.shape[0]), h))
    both = _jpg(np.hstack([astronaut_bgr, grace]))
    body = _err(client.post("/v1/persons", data={"name": "Crowd"}, files={"image": both}), 422, "multiple_faces")
    assert "#0 (" in body["error"]["message"] and "#1 (" in body["error"]["message"]
    _err(client.post("/v1/persons", data={"name": "Crowd", "pick": "left"}, files={"image": both}), 422,
         "invalid_request")
    r = client.post("/v1/persons", data={"name": "Crowd", "pick": "largest"}, files={"image": both})
    assert r.status_code == 201 and r.json()["added"] == 1
    client.delete(f"/v1/persons/{r.json()['person']['id']}")


def test_chunked_body_over_the_limit(client):
    def chunks():
        for _ in range(40):
            yield b"\0" * 100_000

    r = client.post("/v1/detect", content=chunks(), headers={"content-type": "application/json"})
    _err(r, 413, "too_large")


def test_api_keys(tmp_path, photos):
    with pytest.raises(FacerecError, match="without an API key"):
        ServiceConfig(host="0.0.0.0").check_exposure()
    ServiceConfig(host="0.0.0.0", api_keys=["k"]).check_exposure()
    ServiceConfig(host="127.0.0.1").check_exposure()
    app = create_app(ServiceConfig(db=tmp_path / "k.db", workers=1, api_keys=["s3cret"]))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/health").json()["auth"] is True  # health stays open
        _err(c.get("/v1/persons"), 401, "unauthorized")
        _err(c.get("/v1/persons", headers={"X-API-Key": "wrong"}), 401, "unauthorized")
        _err(c.post("/v1/identify", files={"image": photos["grace"]}), 401, "unauthorized")
        assert c.get("/v1/persons", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/v1/persons", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_detector_settings_apply_to_the_routes_and_the_video_worker(tmp_path, photos, astronaut_bgr):
    """``serve --min-face 120``: the astronaut's face (~91 px) is ignored, Grace Hopper's (~183 px) is not,
    by the inference pool and by the video jobs' own analyzer alike; /v1/health says so."""
    from facerec.service.video import VideoJobs

    app = create_app(ServiceConfig(db=tmp_path / "m.db", workers=1, spec=PipelineSpec(min_face=120)))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.post("/v1/detect", files={"image": photos["astro"]}).json()["faces"] == []
        assert len(c.post("/v1/detect", files={"image": photos["grace"]}).json()["faces"]) == 1
        _err(c.post("/v1/persons", data={"name": "Eileen"}, files={"image": photos["astro"]}), 422, "no_face")
        models = c.get("/v1/health").json()["models"]
        assert models["min_face"] == 120 and models["min_score"] is None
        assert VideoJobs(app.state).analyzer().detector.detect(astronaut_bgr) == []

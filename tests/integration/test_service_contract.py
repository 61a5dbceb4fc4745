"""The service contract: every response of every route validates against the OpenAPI document the
service publishes (so the document cannot drift from the code), errors included; the API-key
scheme, request ids, unknown-field refusal and offline /docs."""
from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("httpx", reason="TestClient needs httpx")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")
pytest.importorskip("jsonschema")

from fastapi.testclient import TestClient  # noqa: E402

from support.contract import Contract  # noqa: E402

from facerec.service.app import ServiceConfig, create_app  # noqa: E402


def _jpg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(ServiceConfig(db=tmp_path_factory.mktemp("contract") / "g.db", workers=1, api_keys=["k3y"]))
    with TestClient(app, base_url="http://127.0.0.1", headers={"X-API-Key": "k3y"}) as c:
        yield c


def test_every_response_matches_the_openapi_document(client, grace_bgr, astronaut_bgr):
    spec = client.get("/openapi.json").json()
    check = Contract(spec)
    grace, astro = _jpg(grace_bgr), _jpg(astronaut_bgr)
    blank = _jpg(np.full((200, 200, 3), 127, np.uint8))
    check(client.get("/health"), "/health", "get")
    health = check(client.get("/v1/health"), "/v1/health", "get")
    assert health["models"]["embedder"] and health["models"]["detector"] and health["models"]["threads"] == 1
    runtimes = health["models"]["runtimes"]  # which library runs each loaded model
    assert runtimes and set(runtimes.values()) <= {"onnxruntime", "openvino", "cv2-yunet", "cv2-dnn", "dlib"}
    check(client.post("/v1/detect", files={"image": grace}), "/v1/detect", "post")
    check(client.post("/v1/embed", json={"image": base64.b64encode(astro).decode()}), "/v1/embed", "post")
    check(client.post("/v1/verify", files={"image_a": grace, "image_b": astro}), "/v1/verify", "post")
    check(client.post("/v1/identify", files={"image": grace}), "/v1/identify", "post")
    created = check(client.post("/v1/persons", data={"name": "Grace"}, files={"image": grace}), "/v1/persons", "post")
    pid = created["person"]["id"]
    check(client.post("/v1/verify", data={"person_id": str(pid)}, files={"image": grace}), "/v1/verify", "post")
    named = check(client.post("/v1/identify?k=2", files={"image": grace}), "/v1/identify", "post")
    assert named["faces"][0]["name"] == "Grace"
    check(client.post(f"/v1/persons/{pid}/faces", files={"image": grace}), "/v1/persons/{person_id}/faces", "post")
    check(client.get("/v1/persons"), "/v1/persons", "get")
    check(client.get(f"/v1/persons/{pid}"), "/v1/persons/{person_id}", "get")
    check(client.patch(f"/v1/persons/{pid}", json={"name": "Grace Hopper"}), "/v1/persons/{person_id}", "patch")
    check(client.delete(f"/v1/persons/{pid}"), "/v1/persons/{person_id}", "delete")
    # errors: the documented body, whatever produced them (handlers, validation, middleware)
    for resp, path, method in [
        (client.post("/v1/detect", files={"image": b"not an image"}), "/v1/detect", "post"),
        (client.post("/v1/identify?k=0", files={"image": grace}), "/v1/identify", "post"),
        (client.get("/v1/persons/999"), "/v1/persons/{person_id}", "get"),
        (client.get("/v1/persons/abc"), "/v1/persons/{person_id}", "get"),
        (client.post("/v1/persons", json={"name": "x", "nmae": "typo"}), "/v1/persons", "post"),
        (client.post("/v1/verify", files={"image_a": blank, "image_b": grace}), "/v1/verify", "post"),
        (client.get("/v1/persons", headers={"X-API-Key": "wrong"}), "/v1/persons", "get"),
        (client.post("/v1/detect", content=b"x", headers={"content-type": "text/plain"}), "/v1/detect", "post"),
    ]:
        assert 400 <= resp.status_code < 500, resp.text
        body = check(resp, path, method)
        assert body["error"]["request_id"] == resp.headers["x-request-id"]
    assert {(p, m) for p, m, _ in check.checked} >= {  # the video jobs: test_service_video.py
        (p, m) for p, ops in spec["paths"].items() for m in ops if not p.startswith("/v1/video")}


def test_document_declares_key_scheme_and_error_body(client):
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= schemes["ApiKey"].items()
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # the API never sends FastAPI's own shape
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1/"):
                assert {"ApiKey": []} in op.get("security", []), (method, path)
                ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path)


def test_unknown_fields_request_ids_and_offline_docs(client, grace_bgr):
    grace = _jpg(grace_bgr)
    r = client.post("/v1/persons", data={"name": "Typo"}, files={"images": grace})  # 'image' is the field
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request" and "'images'" in r.text
    r = client.post("/v1/persons", data={"name": "Typo", "pikc": "largest"}, files={"image": grace})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request" and "'pikc'" in r.text
    r = client.post("/v1/persons", json={"name": "Typo", "face": "first"})
    assert r.status_code == 422 and "field 'face'" in r.json()["error"]["message"]
    r = client.post("/v1/persons", data={"pick": "largest"}, files={"image": grace})
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_field" and "'name'" in r.text
    r = client.patch("/v1/persons/1", json={"name": "x", "merge_into": 2, "extra": 1})
    assert r.status_code == 422 and "'extra'" in r.text
    assert client.get("/v1/persons").json()["count"] == 0  # nothing created
    r = client.get("/v1/persons/999", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42" and r.json()["error"]["request_id"] == "trace-42"
    r = client.get("/v1/persons", headers={"X-Request-ID": "bad id\nwith newline"})
    assert r.status_code == 200 and r.headers["x-request-id"] != "bad id\nwith newline"
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert client.get(asset).status_code == 200, asset

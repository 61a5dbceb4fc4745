"""The service contract: every response of every route validates against the OpenAPI document the
service publishes (so the document cannot drift from the code), errors included; the API-key
scheme, request ids, unknown-field refusal and offline /docs."""
from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("httpx", reason="TestClient needs httpx")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")
pytest.importorskip("jsonschema")

from fastapi.testclient import TestClient  # noqa: E402

from support.contract import exercise_every_route, jpg as _jpg  # noqa: E402

from facerec.service.app import ServiceConfig, create_app  # noqa: E402




@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(ServiceConfig(db=tmp_path_factory.mktemp("contract") / "g.db", workers=1, api_keys=["k3y"]))
    with TestClient(app, base_url="http://127.0.0.1", headers={"X-API-Key": "k3y"}) as c:
        yield c


def test_every_response_matches_the_openapi_document(client, grace_bgr, astronaut_bgr):
    exercise_every_route(client, _jpg(grace_bgr), _jpg(astronaut_bgr), _jpg(np.full((200, 200, 3), 127, np.uint8)))

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

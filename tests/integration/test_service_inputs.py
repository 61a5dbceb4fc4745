"""Hostile request bodies against a real server: each is a JSON 4xx, and the same keep-alive
connection still answers the next request."""
from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")

from support.server import running_server  # noqa: E402

HOSTILE = {
    "nested_array": ("/v1/verify", b"[" * 50_000),
    "nested_object": ("/v1/persons", b'{"a":' * 30_000),
    "long_integer": ("/v1/verify", b'{"person_id": ' + b"9" * 5000 + b"}"),
    "huge_person_id_body": ("/v1/verify", json.dumps({"person_id": 2 ** 63, "image": "aGk="}).encode()),
    "huge_merge_into": ("PATCH /v1/persons/1", json.dumps({"merge_into": 2 ** 64}).encode()),
    "lone_surrogate_name": ("/v1/persons", b'{"name": "\\ud800x"}'),
    "surrogate_in_field": ("/v1/verify", b'{"person_id": "\\udc80"}'),
}
HUGE_IDS = [f"/v1/persons/{2 ** 63}", f"/v1/persons/{2 ** 64 + 5}", f"/v1/persons/-{2 ** 63 + 1}",
            f"/v1/persons/{2 ** 63}/faces"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("inputs") / "g.db") as url:
        yield urlsplit(url)


def _json_4xx(resp: http.client.HTTPResponse) -> dict:
    body = resp.read()
    assert 400 <= resp.status < 500, (resp.status, body[:300])
    return json.loads(body)["error"]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_json_is_a_4xx_and_the_connection_lives_on(server, kind: str) -> None:
    route, body = HOSTILE[kind]
    method, _, path = route.rpartition(" ")
    conn = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
    try:
        conn.request(method or "POST", path, body=body, headers={"Content-Type": "application/json"})
        err = _json_4xx(conn.getresponse())
        assert err["code"] and err["message"]
        conn.request("GET", "/v1/persons")  # same keep-alive connection
        resp = conn.getresponse()
        assert resp.status == 200 and "persons" in json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize("path", HUGE_IDS)
def test_ids_beyond_64_bits_are_unknown_persons(server, path: str) -> None:
    conn = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
    try:
        for method in ("GET", "DELETE", "PATCH", "POST"):
            if path.endswith("/faces") != (method == "POST"):
                continue
            body = json.dumps({"name": "x"}).encode() if method == "PATCH" else b'{"image": "aGk="}'
            conn.request(method, path, body=body if method in ("PATCH", "POST") else None,
                         headers={"Content-Type": "application/json"})
            assert _json_4xx(conn.getresponse())["code"] in ("unknown_person", "invalid_request"), (method, path)
    finally:
        conn.close()


def test_corpus_through_every_image_route(tmp_path: Path, grace_bgr, astronaut_bgr) -> None:
    """Every corpus image as an upload to every route that takes images (and as base64 JSON to two):
    a 2xx, or a JSON 4xx error whose code is in the documented table; never a 5xx."""
    import base64

    import cv2
    from fastapi.testclient import TestClient

    from facerec.service.app import ERRORS_DOC, ServiceConfig, create_app
    from support.corpus import corpus_bytes

    corpus = corpus_bytes(grace_bgr, astronaut_bgr)
    grace = cv2.imencode(".jpg", grace_bgr)[1].tobytes()
    app = create_app(ServiceConfig(db=tmp_path / "g.db", workers=1, max_bytes=20_000_000))
    seen: set[int] = set()
    with TestClient(app, base_url="http://127.0.0.1") as c:
        pid = c.post("/v1/persons", data={"name": "Grace"}, files={"image": ("g.jpg", grace, "image/jpeg")}).json()
        pid = pid["person"]["id"]
        for k, (name, data) in enumerate(corpus.items()):
            b64 = base64.b64encode(data).decode()
            calls = [("/v1/detect", {"image": data}, {"image": b64}),
                     ("/v1/embed", {"image": data}, {"image": b64}),
                     ("/v1/identify", {"image": data}, {"image": b64}),
                     ("/v1/verify", {"image_a": data, "image_b": grace}, {"image_a": b64,
                                                                        "image_b": base64.b64encode(grace).decode()}),
                     ("/v1/verify", {"image": data}, {"image": b64, "person_id": pid}),
                     ("/v1/persons", {"image": data}, {"images": [b64], "name": f"p{k}"}),
                     (f"/v1/persons/{pid}/faces", {"image": data}, {"images": [b64]})]
            for route, files, body in calls:
                form = {"person_id": str(pid)} if "person_id" in body else {}
                if route == "/v1/persons":
                    form = {"name": f"m{k}"}
                responses = [c.post(route, files={f: (name, v, "application/octet-stream") for f, v in files.items()},
                                    data=form)]
                if route in ("/v1/detect", "/v1/persons"):  # base64 JSON decodes to the same bytes
                    responses.append(c.post(route, json=body))
                for resp in responses:
                    seen.add(resp.status_code)
                    assert resp.status_code < 500, (name, route, resp.status_code, resp.text[:300])
                    if resp.status_code >= 400:
                        code = resp.json()["error"]["code"]
                        assert f"`{code}`" in ERRORS_DOC, (name, route, code)
    assert {200, 201, 400, 422} <= seen, seen

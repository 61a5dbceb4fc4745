"""Who may talk to the service: exposure rule for every way of starting it, Host and Origin checks,
/health counts behind the key, and ten racing creations of one person."""
from __future__ import annotations

import concurrent.futures
from pathlib import Path

import cv2
import pytest

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install 'facerec[service]')")
pytest.importorskip("httpx", reason="TestClient needs httpx")
pytest.importorskip("faiss", reason="the gallery needs faiss-cpu")

from fastapi.testclient import TestClient  # noqa: E402

from facerec.service.app import ServiceConfig, app_from_env, create_app  # noqa: E402


@pytest.fixture(scope="module")
def grace_jpg(grace_bgr) -> bytes:
    return cv2.imencode(".jpg", grace_bgr)[1].tobytes()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(ServiceConfig(db=tmp_path_factory.mktemp("sec") / "g.db", workers=2,
                                   allowed_origins=["https://app.example"]))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


def _forbidden(resp) -> str:
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden", (resp.status_code, resp.text)
    return resp.json()["error"]["message"]


def test_cross_origin_writes_are_refused(client) -> None:
    c = client
    assert "cross-origin" in _forbidden(c.post("/v1/persons", json={"name": "Mallory"},
                                               headers={"Origin": "http://evil.example"}))
    _forbidden(c.post("/v1/persons", json={"name": "Mallory"}, headers={"Origin": "null"}))
    _forbidden(c.post("/v1/persons", json={"name": "Mallory"}, headers={"Sec-Fetch-Site": "cross-site"}))
    assert "Mallory" not in {p["name"] for p in c.get("/v1/persons").json()["persons"]}
    # the service's own page (same origin), an allowed origin, and scripts without an Origin header
    ok = c.post("/v1/persons", json={"name": "A"}, headers={"Origin": "http://127.0.0.1:8000"})
    assert ok.status_code == 201, ok.text
    assert c.post("/v1/persons", json={"name": "B"}, headers={"Origin": "https://app.example"}).status_code == 201
    assert c.post("/v1/persons", json={"name": "C"}).status_code == 201
    assert c.get("/v1/persons", headers={"Origin": "http://evil.example"}).status_code == 200  # reads: CORS


def test_unexpected_host_headers_are_refused(client) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: its Host header gives it away."""
    c = client
    assert "Host" in _forbidden(c.get("/v1/persons", headers={"Host": "rebind.evil.example:8000"}))
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert c.get("/v1/persons", headers={"Host": host}).status_code == 200, host


def test_the_factory_entry_point_applies_the_exposure_rule(tmp_path: Path, monkeypatch) -> None:
    """uvicorn --factory facerec.service.app:app_from_env on a public address, no key: refused."""
    monkeypatch.setenv("FACEREC_DB", str(tmp_path / "f.db"))
    monkeypatch.delenv("FACEREC_API_KEYS", raising=False)
    with TestClient(app_from_env(), base_url="http://192.0.2.10:8000") as c:  # reached on a non-loopback address
        assert "loopback" in _forbidden(c.get("/v1/persons"))
        assert "loopback" in _forbidden(c.get("/health"))
    monkeypatch.setenv("FACEREC_API_KEYS", "k1")
    with TestClient(app_from_env(), base_url="http://192.0.2.10:8000") as c:
        assert c.get("/v1/persons", headers={"X-API-Key": "k1"}).status_code == 200
        assert c.get("/v1/persons").status_code == 401


def test_health_counts_behind_the_key(tmp_path: Path) -> None:
    app = create_app(ServiceConfig(db=tmp_path / "k.db", workers=1, api_keys=["s3cret"]))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        open_health = c.get("/health").json()
        assert open_health == {"status": "ok", "auth": True}
        full = c.get("/health", headers={"X-API-Key": "s3cret"}).json()
        assert full["persons"] == 0 and full["faces"] == 0 and full["model"]


def test_ten_racing_creations_of_one_person(client, grace_jpg: bytes) -> None:
    c = client
    def create(_):
        return c.post("/v1/persons", data={"name": "Grace Hopper"},
                      files={"image": ("g.jpg", grace_jpg, "image/jpeg")}).status_code

    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        codes = sorted(ex.map(create, range(10)))
    assert codes == [201] + [409] * 9, codes
    grace = next(p for p in c.get("/v1/persons").json()["persons"] if p["name"] == "Grace Hopper")
    assert grace["faces"] == 1


def test_in_process_clients_are_not_network_requests(client) -> None:
    """Starlette's test client calls the app in-process (server 'testserver', no IP): no socket, no
    rebinding, so the Host rule does not apply; the Origin rule still does."""
    c = TestClient(client.app)  # default base_url http://testserver; no lifespan: the module's app stays up
    assert c.get("/v1/persons").status_code == 200
    _forbidden(c.post("/v1/persons", json={"name": "Mallory"}, headers={"Origin": "http://evil.example"}))

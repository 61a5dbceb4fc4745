"""Checks a service's responses against the OpenAPI document it publishes."""
from __future__ import annotations


def jpg(img) -> bytes:
    """A BGR image as JPEG bytes."""
    import cv2

    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


class Contract:
    """``check(resp, path, method)``: the status is documented for the route and the JSON body
    validates against its schema; returns the body. ``checked`` lists what was seen."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.checked: set[tuple[str, str, str]] = set()

    def __call__(self, resp, path: str, method: str) -> dict:
        import jsonschema

        op = self.spec["paths"][path][method]
        status = str(resp.status_code)
        assert status in op["responses"], f"{method.upper()} {path} answered {status}, not in its OpenAPI responses"
        media = op["responses"][status].get("content", {}).get("application/json")
        assert media is not None, f"{method.upper()} {path} {status}: no JSON schema documented"
        body = resp.json()
        schema = {**media["schema"], "components": self.spec["components"]}
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
        self.checked.add((path, method, status))
        return body


def exercise_every_route(client, grace: bytes, astro: bytes, blank: bytes, settle_s: float = 0.0) -> None:
    """Call every route but the video jobs, answers and errors, and check each against the service's own
    OpenAPI document. ``client``: a Starlette TestClient or an httpx.Client on a running service, sending
    the key ``k3y``; ``settle_s``: how long identify may take to see a face just enrolled (several
    replicas on one Milvus server: up to a time tick)."""
    import base64
    import time

    spec = client.get("/openapi.json").json()
    check = Contract(spec)
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
    deadline = time.monotonic() + settle_s
    while True:
        named = check(client.post("/v1/identify?k=2", files={"image": grace}), "/v1/identify", "post")
        if named["faces"][0]["name"] == "Grace" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
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

"""``facerec serve --engine ray --replicas 2`` on a two-node Ray cluster on loopback, over a real Milvus
server: replicas on both nodes answer, identify names enrolled people, and every route keeps the
contract of ``facerec serve`` (its OpenAPI document, checked route by route and fuzzed with
schemathesis). The command runs as a subprocess, as an operator runs it; stopping it removes the
deployment."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.serve", reason="the ray extra (with serve) is not installed")
pytest.importorskip("pymilvus")
httpx = pytest.importorskip("httpx")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from support.contract import exercise_every_route, jpg as _jpg  # noqa: E402
from support.ray_cluster import LoopbackCluster, free_port  # noqa: E402
from support.server import stop  # noqa: E402
from support.transforms import same_person_variants  # noqa: E402

import facerec  # noqa: E402

KEY = "k3y"


def _env() -> dict:
    """This checkout's facerec on every node and in the driver; no token auth (loopback only)."""
    src = str(Path(facerec.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["RAY_AUTH_MODE"] = "disabled"
    return env


@pytest.fixture(scope="module")
def deployment(milvus_server):
    """(base URL, the serve command's Popen) of two replicas behind Ray's proxy; stopped by SIGTERM after."""
    env = _env()
    with LoopbackCluster(nodes=2, env=env) as cluster:
        port = free_port()
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen([sys.executable, "-m", "facerec", "serve", "--engine", "ray", "--address",
                                 cluster.address, "--replicas", "2", "--threads", "1", "--port", str(port),
                                 "--db", milvus_server.unique_url("svc"), "--api-key", KEY],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 600
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"serve exited: {log.read().decode(errors='replace')[-3000:]}")
                try:
                    if httpx.get(url + "/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the deployment did not answer in time"
                time.sleep(1.0)
            yield url, proc, cluster
        finally:
            stop(proc, timeout=120)
            log.close()


@pytest.fixture()
def client(deployment):
    with httpx.Client(base_url=deployment[0], headers={"X-API-Key": KEY}, timeout=120) as c:
        yield c


def test_replicas_on_both_nodes_answer(client):
    def health(_):
        return client.get("/v1/health").json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(health, range(32)))
    first = answers[0]
    assert first["replicas"] == 2
    assert len(first["nodes"]) == 2 and sorted(first["nodes"].values()) == [1, 1]  # one replica per node
    answered_by = {a["node"] for a in answers}
    assert answered_by == set(first["nodes"]), answered_by


def test_identify_names_enrolled_people(client, grace_bgr, astronaut_bgr):
    for name, img in (("Grace", grace_bgr), ("Eileen", astronaut_bgr)):
        r = client.post("/v1/persons", data={"name": name}, files={"image": _jpg(img)})
        assert r.status_code == 201, r.text
    for name, img in (("Grace", grace_bgr), ("Eileen", astronaut_bgr)):
        probe = _jpg(same_person_variants(img)["rot10"])
        deadline = time.monotonic() + 5  # a face enrolled through the other replica: within a Milvus time tick
        while True:
            faces = client.post("/v1/identify", files={"image": probe}).json()["faces"]
            if faces[0]["name"] == name or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert faces[0]["name"] == name, faces
    r = client.post("/v1/persons", data={"name": "Grace"}, files={"image": _jpg(grace_bgr)})
    assert r.status_code == 409 and r.json()["error"]["code"] == "person_exists"  # one name, one person
    for name in ("Grace", "Eileen"):
        pid = next(p["id"] for p in client.get("/v1/persons").json()["persons"] if p["name"] == name)
        assert client.delete(f"/v1/persons/{pid}").status_code == 200


def test_the_contract_holds_on_ray(client, grace_bgr, astronaut_bgr):
    exercise_every_route(client, _jpg(grace_bgr), _jpg(astronaut_bgr), _jpg(np.full((200, 200, 3), 127, np.uint8)),
                         settle_s=5)
    spec = client.get("/openapi.json").json()
    assert {"replicas", "nodes", "node"} <= set(spec["components"]["schemas"]["ServiceHealth"]["properties"])
    r = client.post("/v1/persons", data={"name": "x"}, files={"image": _jpg(grace_bgr)},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"  # the Origin rule, through Ray's proxy


@pytest.fixture(scope="module")
def api_schema(deployment):
    return schemathesis.openapi.from_url(f"{deployment[0]}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=int(os.environ.get("FACEREC_FUZZ_EXAMPLES", "6")), deadline=None,
          suppress_health_check=list(HealthCheck))
def test_schemathesis_on_ray(case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], headers={"X-API-Key": KEY},
                           timeout=120)


def test_sigterm_removes_the_deployment(deployment):
    """Last in this module: the command's SIGTERM deletes the app; the cluster itself stays up."""
    url, proc, cluster = deployment
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=5).raise_for_status()
    probe = ("import ray; ray.init(address='%s', log_to_driver=False); "
             "print(sorted(a['name'] for a in ray.util.list_named_actors(all_namespaces=True)))" % cluster.address)
    out = subprocess.run([sys.executable, "-c", probe], env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    named = out.stdout.strip().splitlines()[-1]
    assert "SERVE_CONTROLLER_ACTOR" not in named and "facerec-serve-replicas" not in named, named

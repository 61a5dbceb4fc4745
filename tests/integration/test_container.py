"""The container image serves: its install steps and entry command, run in a clean virtual environment
(everywhere), and ``docker build`` + a health check where a Docker daemon is available."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _dockerfile_extras() -> str:
    match = re.search(r'^ARG EXTRAS="([^"]+)"', DOCKERFILE, flags=re.M)
    assert match, "the Dockerfile names its extras in ARG EXTRAS"
    return match.group(1)


def _dockerfile_cmd() -> list[str]:
    match = re.search(r"^CMD \[(.+)\]$", DOCKERFILE, flags=re.M)
    assert match
    return [part.strip().strip('"') for part in match.group(1).split(",")]


def _get(url: str, key: str | None = None) -> int:
    req = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_image_recipe_serves_safely() -> None:
    """What the issue asks of the image, read from the Dockerfile itself."""
    extras = _dockerfile_extras().split(",")
    assert {"service", "gallery"} <= set(extras) and "train" not in extras  # no pyarrow in the image
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, flags=re.M), "runs as a non-root user"
    assert re.search(r"^EXPOSE 8000", DOCKERFILE, flags=re.M)
    assert "HEALTHCHECK" in DOCKERFILE and "FACEREC_OFFLINE=1" in DOCKERFILE
    assert _dockerfile_cmd()[:1] == ["serve"] and "0.0.0.0" in _dockerfile_cmd()
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert "facerec-data:/data" in compose and "FACEREC_API_KEYS" in compose


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv with the image's install steps: the locked requirements, then facerec (not editable)."""
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    assert "RUN pip install -r requirements/image.txt" in DOCKERFILE and "RUN pip install --no-deps ." in DOCKERFILE
    for step in (["-r", str(ROOT / "requirements" / "image.txt")], ["--no-deps", str(ROOT)]):
        proc = subprocess.run(pip + step, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def test_image_entry_command_in_clean_venv(image_venv: Path, tmp_path: Path) -> None:
    facerec = str(image_venv / "bin" / "facerec")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FACEREC_API_KEYS")}
    # The image's model step (a no-op when the cache already holds them; each file is SHA-256 checked).
    pull = subprocess.run([facerec, "models", "pull", "--default"], env=env, capture_output=True, text=True,
                          timeout=900)
    assert pull.returncode == 0, pull.stderr
    env["FACEREC_OFFLINE"] = "1"
    port = free_port()
    cmd = [facerec, *_dockerfile_cmd()]
    cmd[cmd.index("/data/gallery.db")] = str(tmp_path / "gallery.db")
    cmd[cmd.index("8000")] = str(port)
    # Without an API key the image refuses to serve on 0.0.0.0, with one line and exit 2.
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.startswith("error: "), refused.stderr
    assert "Traceback" not in refused.stderr
    # With a key it serves: health is open, the gallery is behind the key.
    server_log = open(tmp_path / "serve.log", "w")  # a file, not an undrained pipe that could fill up
    proc = subprocess.Popen(cmd, env=dict(env, FACEREC_API_KEYS="s3cret"), stdout=subprocess.DEVNULL,
                            stderr=server_log, text=True)
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = _get(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        assert status == 200, (tmp_path / "serve.log").read_text()[-2000:] or "no answer from /health"
        assert _get(f"http://127.0.0.1:{port}/v1/persons") == 401
        assert _get(f"http://127.0.0.1:{port}/v1/persons", key="s3cret") == 200
    finally:
        proc.terminate()
        proc.wait(30)
        server_log.close()


def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker_available(), reason="no Docker daemon on this machine")
def test_docker_build_and_health(tmp_path: Path) -> None:  # pragma: no cover (needs Docker)
    tag = "facerec:test"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=3600)
    port = free_port()
    name = f"facerec-test-{port}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:8000",
                    "-e", "FACEREC_API_KEYS=s3cret", tag], check=True)
    try:
        deadline = time.monotonic() + 180
        status = 0
        while time.monotonic() < deadline:
            try:
                status = _get(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(1)
        assert status == 200
        user = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True, text=True).stdout.strip()
        assert user != "0"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)

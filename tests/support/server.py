"""A real ``facerec serve`` on a free loopback port, for tests that need real HTTP connections."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from facerec.workflows.ray_local import free_port  # noqa: F401  (the tests' free loopback port)


@contextlib.contextmanager
def running_server(db: Path, *extra: str, timeout: float = 240.0, env: dict | None = None,
                   log_path: Path | None = None) -> Iterator[str]:
    """Start ``facerec serve`` on 127.0.0.1 and yield its base URL; stop it afterwards (SIGTERM).
    ``env``: variables to set for the server besides this process's."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    # The server's log goes to a file, never to a pipe nobody drains: its access log would fill the
    # pipe's buffer and block the server's event loop in the middle of a test.
    log = open(log_path, "w+b") if log_path is not None else tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "facerec.cli.main", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--db", str(db), "--workers", "1", *extra],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        stop(proc, timeout=20)
        log.close()


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM ``proc`` (if still running), then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

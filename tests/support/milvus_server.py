"""A real Milvus server (standalone, from the ``milvus`` PyPI package) on free loopback ports, for tests.

``milvus-server`` extracts a standalone Milvus with embedded etcd and local storage into its data
folder and runs it; it takes 15-30 s to answer. :class:`MilvusServer` gives every port it
listens on explicitly (free ones on 127.0.0.1; the embedded etcd's peer port, fixed at 2380 by
``milvus-server``, through an etcd config file that Milvus reads from ``ETCD_CONFIG_PATH``, its
environment override of ``etcd.config.path``), keeps its data in its own temp folder, and runs it
in a process group of its own so that :meth:`MilvusServer.stop` ends exactly its processes
(SIGTERM, then SIGKILL), whatever happens in the tests.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

import pytest

PORT_OPTIONS = ("--proxy-port", "--etcd-port", "--root-coord-port", "--proxy-internal-port", "--query-coord-port",
                "--query-node-port", "--index-coord-port", "--index-node-port", "--data-coord-port",
                "--data-node-port")


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held open together while chosen, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class MilvusServer:
    """``with MilvusServer() as m: m.url("gallery")`` -> ``milvus://127.0.0.1:PORT/gallery``."""

    def __init__(self, timeout_s: float = 240.0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="frmilvus-", dir="/tmp"))
        self.timeout_s = timeout_s
        *ports, self.etcd_peer_port = _free_ports(len(PORT_OPTIONS) + 1)
        self.ports = dict(zip(PORT_OPTIONS, ports))
        self.port = self.ports["--proxy-port"]
        self.proc: Optional[subprocess.Popen] = None
        self.log = self.root / "server.log"

    def url(self, name: str) -> str:
        """A gallery location on this server."""
        return f"milvus://127.0.0.1:{self.port}/{name}"

    def unique_url(self, prefix: str = "g") -> str:
        """A fresh gallery on this server (tests sharing the server never see each other's rows)."""
        return self.url(f"{prefix}_{uuid.uuid4().hex[:12]}")

    def start(self) -> "MilvusServer":
        exe = shutil.which("milvus-server")
        if exe is None:
            pytest.skip("a Milvus server needs the milvus package (pip install milvus==2.3.5)")
        cmd = [exe, "--data", str(self.root / "data")]
        for opt, port in self.ports.items():
            cmd += [opt, str(port)]
        etcd = self.ports["--etcd-port"]
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        etcd_config = self.root / "etcd.yaml"
        etcd_config.write_text(
            f"name: default\ndata-dir: {self.root / 'etcd'}\n"
            f"listen-client-urls: http://127.0.0.1:{etcd}\nadvertise-client-urls: http://127.0.0.1:{etcd}\n"
            f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\ninitial-cluster: default={peer}\n")
        env = {**os.environ, "ETCD_CONFIG_PATH": str(etcd_config)}
        with open(self.log, "wb") as log:
            # A session (and process group) of its own: stop() signals the group, i.e. the launcher and
            # the Milvus binary it runs, and nothing else.
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=self.root, env=env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        from pymilvus import MilvusClient

        deadline = time.monotonic() + self.timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"milvus-server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                client = MilvusClient(f"http://127.0.0.1:{self.port}", timeout=5)
                client.list_collections()
                client.close()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise TimeoutError(f"milvus-server did not answer in {self.timeout_s:.0f} s:\n"
                                       f"{self.log.read_text()[-3000:]}") from None
                time.sleep(1.0)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``, to this server's process group only; then remove its folder."""
        if self.proc is not None:
            pgid = self.proc.pid  # its own session: the group id is the launcher's pid
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + grace_s
                while time.monotonic() < deadline and _group_alive(pgid):
                    self.proc.poll()
                    time.sleep(0.2)
                if not _group_alive(pgid):
                    break
            self.proc.poll()
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "MilvusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is still in process group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@pytest.fixture(scope="session")
def milvus_server() -> Iterator[MilvusServer]:
    """One real Milvus server for the whole session (each test takes its own gallery name on it)."""
    pytest.importorskip("pymilvus")
    with MilvusServer() as server:
        yield server


def gallery_contents(db: str) -> tuple[dict[str, int], Counter]:
    """(faces per person name, multiset of (name, image sha256)) of a Milvus gallery, checked for orphan
    faces, a name stored twice, and counts that disagree with the rows."""
    from facerec.gallery.milvus_store import MilvusStore

    store = MilvusStore(db)
    try:
        store.check()  # every face belongs to a person that exists
        persons = store.persons()
        faces = Counter((name, rec.image_sha256) for name, rec in store.all_faces())
        assert store.count() == (len(persons), sum(faces.values()))
    finally:
        store.close()
    assert len({p.name for p in persons}) == len(persons), "a name stored twice"
    return {p.name: p.faces for p in persons}, faces


def kill_once_stored(proc, db: str, at_least: int, timeout_s: float = 600.0) -> None:
    """SIGKILL the process group of ``proc`` (started with ``start_new_session=True``) once the Milvus gallery
    ``db`` holds ``at_least`` faces; its output is read and dropped."""
    from facerec.gallery.milvus_store import MilvusStore

    store = None
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no face stored in time"
            try:
                store = store or MilvusStore(db)
                if store.count()[1] >= at_least:
                    break
            except Exception:  # noqa: BLE001 - the gallery's collections are not created yet
                store = None
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers, nothing else
        proc.communicate()
        if store is not None:
            store.close()

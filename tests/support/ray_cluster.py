"""A real Ray cluster of several nodes on loopback, for tests: each node a ``ray start --block`` child of
the test process (one CPU, its own temp folder, every listener on a free port: facerec.workflows.ray_local),
stopped by killing exactly the processes it started.

``ray stop`` is not used: it stops every Ray of the user on the machine, not only this one. Each node
gets SIGTERM from the kernel if the test process dies first, and ``stop_all`` (called at the end of the
pytest session, see tests/conftest.py) stops any cluster a failed or timed-out test left running.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

from facerec.workflows.ray_local import (  # noqa: F401  (re-exported for the tests)
    PortPicker, alive, cmdline, descendants, free_port, kill_all, node_port_flags, processes_under, retry_on_port_clash,
    start_node, wait_listening)

NODE_FLAGS = ["--num-cpus=1", "--object-store-memory=80000000", "--node-ip-address=127.0.0.1"]
_RUNNING: list["LoopbackCluster"] = []


class LoopbackCluster:
    """``with LoopbackCluster(nodes=2, env=env) as c: ... c.address``.

    The nodes' temp folders live in a fresh short folder under /tmp (Ray's socket paths must stay
    under 108 bytes, which pytest's tmp_path can exceed), removed when the cluster stops.
    """

    def __init__(self, nodes: int = 2, env: Optional[dict] = None) -> None:
        self.nodes = nodes
        self.env = env
        self.root = Path(tempfile.mkdtemp(prefix="frray-", dir="/tmp"))
        self.port = 0
        self.address = ""
        self.procs: list = []

    def __enter__(self) -> "LoopbackCluster":
        return retry_on_port_clash(self._start, self.stop, lambda: self.root.glob("node*.log"))

    def _start(self) -> "LoopbackCluster":
        """The head, then the other nodes, every listener of the cluster on its own free port."""
        if not self.root.exists():  # removed by the stop after a start that met a taken port
            self.root = Path(tempfile.mkdtemp(prefix="frray-", dir="/tmp"))
        if self not in _RUNNING:
            _RUNNING.append(self)
        ports = PortPicker()
        self.port = ports.port()
        self.address = f"127.0.0.1:{self.port}"
        head = ["--head", f"--port={self.port}", *node_port_flags(head=True, ports=ports), *NODE_FLAGS]
        self.procs = [start_node(head, self.root / "node0", env=self.env, log=self.root / "node0.log")]
        wait_listening(self.port, self.procs[0], log=self.root / "node0.log")
        for k in range(1, self.nodes):
            args = [f"--address={self.address}", *node_port_flags(head=False, ports=ports), *NODE_FLAGS]
            self.procs.append(start_node(args, self.root / f"node{k}", env=self.env, log=self.root / f"node{k}.log"))
        self._wait_nodes()
        return self

    def _wait_nodes(self, timeout_s: float = 180.0) -> None:
        """Until every node has registered with the head (``ray start --block`` never returns)."""
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a node exited with status {dead[0].returncode}: see {self.root}")
            if sum("raylet" in cmd for cmd in map(cmdline, processes_under(self.root))) >= self.nodes:
                time.sleep(2.0)  # the raylet is up: give it a moment to register with the GCS
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.nodes} Ray nodes did not start within {timeout_s:.0f} s")

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``, every process of this cluster (and only those)."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except Exception:
                pass
        kill_all(processes_under(self.root) | {p.pid for p in self.procs}, grace_s)
        shutil.rmtree(self.root, ignore_errors=True)
        if self in _RUNNING:
            _RUNNING.remove(self)


def stop_all() -> None:
    """Stop every cluster still running (the end of a pytest session, whatever happened)."""
    for cluster in list(_RUNNING):
        cluster.stop()


def checkout_env() -> dict:
    """The environment of a test cluster's nodes and of the CLI runs on it: this checkout's facerec first, no
    token authentication (loopback only), no address inherited from the caller, unbuffered output."""
    import os

    import facerec

    src = str(Path(facerec.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["RAY_AUTH_MODE"] = "disabled"
    env["PYTHONUNBUFFERED"] = "1"
    return env

"""A real Ray cluster of several nodes on loopback, for tests: started with ``ray start`` (one CPU
per node, each with its own temp folder) and stopped by killing exactly the processes it started.

``ray stop`` is not used: it stops every Ray of the user on the machine, not only this one.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

NODE_FLAGS = ["--num-cpus=1", "--object-store-memory=80000000", "--disable-usage-stats",
              "--dashboard-agent-listen-port=0", "--metrics-export-port=0", "--runtime-env-agent-port=0",
              "--node-ip-address=127.0.0.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ppid(pid: int) -> Optional[int]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_under(root: Path) -> set[int]:
    """PIDs whose command line names ``root`` (the nodes' daemons), plus all their descendants."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return _with_descendants({pid for pid in pids if str(root) in _cmdline(pid) and pid != os.getpid()}, pids)


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (children, their children ...) with its command line."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return {p: _cmdline(p) for p in _with_descendants({pid}, pids) - {pid}}


def alive(pids) -> set[int]:
    """Those of ``pids`` still running (zombies waiting for their parent do not count)."""
    return {p for p in pids if _alive(p)}


def _with_descendants(found: set[int], pids: list[int]) -> set[int]:
    parents = {pid: _ppid(pid) for pid in pids}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return found


class LoopbackCluster:
    """``with LoopbackCluster(nodes=2, env=env) as c: ... c.address``.

    The nodes' temp folders live in a fresh short folder under /tmp (Ray's socket paths must stay
    under 108 bytes, which pytest's tmp_path can exceed), removed when the cluster stops.
    """

    def __init__(self, nodes: int = 2, env: Optional[dict] = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="frray-", dir="/tmp"))
        self.nodes = nodes
        self.env = dict(env or os.environ)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"

    def _start(self, *args: str, temp: Path) -> None:
        temp.mkdir(parents=True, exist_ok=True)
        cmd = [shutil.which("ray") or "ray", "start", *args, *NODE_FLAGS, f"--temp-dir={temp}"]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")

    def __enter__(self) -> "LoopbackCluster":
        try:
            self._start("--head", f"--port={self.port}", "--include-dashboard=false", temp=self.root / "node0")
            for k in range(1, self.nodes):
                self._start(f"--address={self.address}", temp=self.root / f"node{k}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``, every process of this cluster (and only those)."""
        pids = processes_under(self.root)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace_s
            while pids and time.monotonic() < deadline:
                time.sleep(0.2)
                pids = {p for p in pids if _alive(p)}
            if not pids:
                break
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

"""A Ray of our own on this machine: every listener on a free port, its own temp folder, stopped by PID.

``ray.init()`` without an address starts a Ray whose client server, dashboard agent and worker ports
are Ray's fixed defaults (10001, 52365, ...): a second Ray on the same machine (another user's, another
facerec run) then collides with it, and a driver can reach the wrong cluster. :class:`LocalRay` starts
``ray start --head --block`` instead, with every port chosen free and a temp folder made for it, then
stops exactly the processes it started: ``ray stop`` is never run, since it stops every Ray of the user.

If the process that started it dies without stopping it (SIGKILL), the kernel sends the blocking
``ray start`` SIGTERM (``PR_SET_PDEATHSIG``), and it takes its Ray down with it.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

T = TypeVar("T")

WORKER_PORTS = 64
"""Ports in the worker range of a node: one per worker process it may start."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


WORKER_SPAN = (20000, 32000)
"""Where worker port ranges go: below Linux's ephemeral range (32768-60999), from which the kernel hands out
both our own listeners' ports (``free_port``) and every outgoing connection's, so neither lands in it."""


class PortPicker:
    """Distinct free ports for one Ray (every node of a cluster shares one picker).

    The kernel's free picks are checked against those already handed out: it may hand the same port out
    twice once the probing socket is closed, and ``ray start`` exits when two of its listeners share one.
    """

    def __init__(self) -> None:
        self.taken: set[int] = set()

    def port(self, tries: int = 200) -> int:
        """A free port not yet handed out by this picker."""
        for _ in range(tries):
            port = free_port()
            if port not in self.taken:
                self.taken.add(port)
                return port
        raise OSError("no free port found")

    def span(self, size: int = WORKER_PORTS, tries: int = 200) -> tuple[int, int]:
        """``(first, last)`` of ``size`` consecutive free ports in :data:`WORKER_SPAN`, none handed out before."""
        low, high = WORKER_SPAN
        for _ in range(tries):
            first = random.randrange(low, high - size)
            block = range(first, first + size)
            if self.taken.isdisjoint(block) and all(_port_free(p) for p in block):
                self.taken.update(block)
                return first, first + size - 1
        raise OSError(f"no {size} consecutive free ports found")


def node_port_flags(*, head: bool, ports: Optional[PortPicker] = None) -> list[str]:
    """``ray start`` flags that put every listener of one node on a free port, none shared with another
    listener drawn from the same ``ports``."""
    ports = ports or PortPicker()
    first, last = ports.span()
    flags = [f"--node-manager-port={ports.port()}", f"--object-manager-port={ports.port()}",
             f"--dashboard-agent-listen-port={ports.port()}", f"--dashboard-agent-grpc-port={ports.port()}",
             f"--runtime-env-agent-port={ports.port()}", f"--metrics-export-port={ports.port()}",
             f"--min-worker-port={first}", f"--max-worker-port={last}"]
    if head:
        flags += [f"--ray-client-server-port={ports.port()}", f"--dashboard-port={ports.port()}",
                  "--include-dashboard=false"]
    return flags


START_TRIES = 3
"""Starts of a node before giving up: a port found free can be taken by another process before Ray binds it."""


def port_clash(log: Optional[Path]) -> bool:
    """Whether a failed ``ray start`` says a port it was given was in use (worth a retry on fresh ports)."""
    text = log.read_text(errors="replace")[-4000:].lower() if log and log.exists() else ""
    return "port" in text and any(w in text for w in ("already in use", "used by", "address in use", "bind"))


def retry_on_port_clash(start: Callable[[], T], stop: Callable[[], None], logs: Callable[[], Iterable[Path]]) -> T:
    """``start()``; after a failure ``stop()``, and ``start()`` again (up to :data:`START_TRIES` in all) while
    the failed start's ``logs()`` say a port it was given was taken meanwhile."""
    for attempt in range(1, START_TRIES + 1):
        try:
            return start()
        except BaseException as exc:
            clash = isinstance(exc, RuntimeError) and any(port_clash(log) for log in logs())
            stop()
            if not clash or attempt == START_TRIES:
                raise
    raise AssertionError("unreachable")


DYING_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, kept across exec\n"
    "except (OSError, AttributeError):\n"
    "    pass  # not glibc: the caller's stop() still ends it\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('its parent died before it could start')\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n")
"""A ``python -c`` that asks the kernel for SIGTERM when its parent dies (Linux), then becomes the command.

Not a ``preexec_fn``: that makes ``subprocess`` fork without exec'ing at once, and a process that holds a
gRPC channel (a Milvus gallery, Ray's own client) runs gRPC's fork handlers in the child, whose poller
thread aborts it now and then (``epoll_wait error: Bad file descriptor``, SIGABRT: 1-3 forks in 100
measured with pymilvus 3.0)."""


def dying_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` made to receive SIGTERM when this process dies (Linux; elsewhere ``cmd`` unchanged)."""
    if not sys.platform.startswith("linux"):
        return cmd
    return [sys.executable, "-c", DYING_WITH_PARENT, str(os.getpid()), *cmd]


def start_node(args: Iterable[str], temp: Path, *, env: Optional[dict] = None, log: Optional[Path] = None
               ) -> subprocess.Popen:
    """``ray start --block ARGS`` as a child that dies with this process, its output to ``log``."""
    temp.mkdir(parents=True, exist_ok=True)
    ray = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    cmd = [ray, "start", "--block", *args, f"--temp-dir={temp}", "--disable-usage-stats"]
    out = open(log or temp / "ray-start.log", "ab")
    try:
        return subprocess.Popen(dying_with_parent(cmd), env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    finally:
        out.close()


def wait_listening(port: int, proc: subprocess.Popen, timeout_s: float = 180.0, log: Optional[Path] = None) -> None:
    """Until something listens on ``127.0.0.1:port``; a one-line error if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-600:] if log and log.exists() else ""
            raise RuntimeError(f"ray start exited with status {proc.returncode}: {' '.join(tail.split())[-300:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"ray start did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


# -- processes, by PID -----------------------------------------------------------------------------
def _stat(pid: int) -> Optional[list[str]]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def with_descendants(found: set[int]) -> set[int]:
    """``found`` and every process below them (children, their children ...)."""
    parents = {pid: (int(st[1]) if (st := _stat(pid)) else None) for pid in _all_pids()}
    found = set(found)
    while True:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        if not children:
            return found
        found |= children


def processes_under(root: Path) -> set[int]:
    """PIDs whose command line names ``root`` (a Ray's daemons all name their temp folder), with descendants."""
    me = os.getpid()
    return with_descendants({pid for pid in _all_pids() if pid != me and str(root) in cmdline(pid)})


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` with its command line."""
    return {p: cmdline(p) for p in with_descendants({pid}) - {pid}}


def alive(pids: Iterable[int]) -> set[int]:
    """Those of ``pids`` still running (zombies waiting for their parent do not count)."""
    return {p for p in pids if (st := _stat(p)) is not None and st[0] != "Z"}


def kill_all(pids: set[int], grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``, exactly these processes."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace_s
        while (pids := alive(pids)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not pids:
            return


class LocalRay:
    """``with LocalRay(num_cpus=None) as address: ray.init(address=address)``: a one-node Ray for one run."""

    def __init__(self, num_cpus: Optional[int] = None, object_store_bytes: Optional[int] = None,
                 env: Optional[dict] = None) -> None:
        self.num_cpus, self.object_store_bytes = num_cpus, object_store_bytes
        self.env = env
        self.root: Optional[Path] = None
        self.proc: Optional[subprocess.Popen] = None
        self.address = ""

    def start(self) -> str:
        return retry_on_port_clash(self._start_once, self.stop, lambda: self.root.glob("*.log") if self.root else [])

    def _start_once(self) -> str:
        # Short and our own: Ray's socket paths under it must stay under 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="facerec-ray-", dir="/tmp" if os.path.isdir("/tmp") else None))
        ports = PortPicker()
        port = ports.port()
        args = ["--head", f"--port={port}", "--node-ip-address=127.0.0.1", *node_port_flags(head=True, ports=ports)]
        if self.num_cpus is not None:
            args.append(f"--num-cpus={self.num_cpus}")
        if self.object_store_bytes:
            args.append(f"--object-store-memory={self.object_store_bytes}")
        log = self.root / "ray-start.log"
        self.proc = start_node(args, self.root / "t", env=self.env, log=log)
        wait_listening(port, self.proc, log=log)
        self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        """Stop this Ray's processes (and only those) and remove its folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # ray start --block drains and stops what it started
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        if self.root is not None:
            kill_all(processes_under(self.root) | ({self.proc.pid} if self.proc else set()))
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        self.proc = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

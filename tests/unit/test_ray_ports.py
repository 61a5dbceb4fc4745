"""The ports a Ray of our own is started on: no two listeners of one cluster share a port (``ray start``
exits when they do, as it did once in CI), worker ranges stay out of the kernel's ephemeral range, and a
start that failed on a taken port is recognised for a retry."""
from __future__ import annotations

import re
import socket
from pathlib import Path

from facerec.workflows.ray_local import WORKER_SPAN, PortPicker, node_port_flags, port_clash


def _ports(flags: list[str]) -> list[int]:
    """Every port a node's flags name, the worker range expanded."""
    values = {f.split("=")[0]: int(f.split("=")[1]) for f in flags if re.match(r"--[a-z-]+-port=\d+$", f)}
    low, high = values.pop("--min-worker-port"), values.pop("--max-worker-port")
    return list(values.values()) + list(range(low, high + 1))


def test_two_nodes_of_one_picker_share_no_port():
    ports = PortPicker()
    head = ports.port()
    used = [head, *_ports(node_port_flags(head=True, ports=ports)), *_ports(node_port_flags(head=False, ports=ports))]
    assert len(used) == len(set(used)) == 1 + (8 + 64) + (6 + 64)  # --port; head; other node
    assert used and set(used) == ports.taken


def test_worker_ranges_stay_below_the_ephemeral_range_and_are_free():
    ports = PortPicker()
    first, last = ports.span(16)
    assert WORKER_SPAN[0] <= first and last < WORKER_SPAN[1] <= 32768
    with socket.socket() as s:  # a port handed out is still free to bind
        s.bind(("127.0.0.1", first))


def test_a_picker_never_hands_out_a_port_it_handed_out_before():
    ports = PortPicker()
    ports.taken.update(range(1, 65536))  # as if every port had been handed out: the kernel's picks all clash
    try:
        port = ports.port(tries=20)
    except OSError as exc:
        assert "no free port" in str(exc)
    else:
        raise AssertionError(f"port {port} was handed out twice")


def test_a_port_clash_in_the_log_is_recognised(tmp_path: Path):
    log = tmp_path / "node0.log"
    log.write_text("ValueError: Ray component worker_ports is trying to use a port number 50613 that is used by "
                   "other components. If you allocate ports, please make sure the same port is not used by "
                   "multiple components.\n")
    assert port_clash(log)
    log.write_text("ray.exceptions.RaySystemError: out of memory\n")
    assert not port_clash(log)
    assert not port_clash(tmp_path / "missing.log")


def test_a_start_is_retried_only_while_its_log_says_a_port_was_taken(tmp_path: Path):
    from facerec.workflows.ray_local import START_TRIES, retry_on_port_clash

    log, calls = tmp_path / "node0.log", {"start": 0, "stop": 0}

    def start(clashes: int, message: str):
        def run() -> str:
            calls["start"] += 1
            if calls["start"] <= clashes:
                log.write_text(message)
                raise RuntimeError("ray start exited with status 1")
            return "up"
        return run

    def stop() -> None:
        calls["stop"] += 1

    assert retry_on_port_clash(start(START_TRIES - 1, "a port number 50613 that is used by other components"),
                               stop, lambda: [log]) == "up"
    assert calls == {"start": START_TRIES, "stop": START_TRIES - 1}
    for clashes, message in ((START_TRIES, "address already in use: port 6379"), (1, "out of memory")):
        calls.update(start=0, stop=0)
        try:
            retry_on_port_clash(start(clashes, message), stop, lambda: [log])
        except RuntimeError:
            pass
        else:
            raise AssertionError("a start that kept failing was reported as up")
        assert calls == {"start": min(clashes, START_TRIES), "stop": min(clashes, START_TRIES)}, (message, calls)

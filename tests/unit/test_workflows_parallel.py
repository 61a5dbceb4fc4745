"""Worker processes of batch jobs die with their parent, however it dies."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from support.transforms import same_person_variants


def _children(pid: int) -> set[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_align_workers_die_with_their_parent(tmp_path: Path, grace_bgr, astronaut_bgr, sig) -> None:
    ds = tmp_path / "ds"
    for person, img in (("grace", grace_bgr), ("astro", astronaut_bgr)):
        (ds / person).mkdir(parents=True)
        for k in range(20):
            for name, var in same_person_variants(img).items():
                cv2.imwrite(str(ds / person / f"{k}_{name}.jpg"), var)
    workers: set[int] = set()
    proc = subprocess.Popen([sys.executable, "-m", "facerec.cli.main", "align", str(ds), str(tmp_path / "out"),
                             "-j", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            # the pool's workers: children running the multiprocessing spawn entry point
            workers = {c for c in _children(proc.pid)
                       if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()} if proc.poll() is None else set()
            if len(workers) >= 2 and any((tmp_path / "out").rglob("*.png")):
                break
            time.sleep(0.2)
        assert len(workers) >= 2 and proc.poll() is None, "the job never ran two workers"
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:  # a failing run must not leave them behind either
            if _alive(w):
                os.kill(w, signal.SIGKILL)

"""The inter-process file lock: cross-platform (no fcntl import in facerec) and exclusive."""
from __future__ import annotations

import ast
import multiprocessing as mp
import time
from pathlib import Path

import facerec
from facerec.io.locks import file_lock, lock_path


def test_no_module_imports_posix_only_fcntl() -> None:
    """``import facerec`` must work on Windows: no facerec module may import fcntl itself."""
    root = Path(facerec.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "fcntl" for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def _hold(path: str, seconds: float, started) -> None:
    with file_lock(path):
        started.set()
        time.sleep(seconds)


def test_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "thing")
    assert path.parent.name == ".locks" and path.name == "thing.lock"
    ctx = mp.get_context("spawn")
    started = ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(path), 1.0, started))
    proc.start()
    assert started.wait(30)
    t0 = time.monotonic()
    with file_lock(path):
        waited = time.monotonic() - t0
    proc.join(10)
    assert waited > 0.5, f"second holder got the lock after {waited:.2f}s while the first held it"

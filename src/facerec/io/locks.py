"""An inter-process lock on a file, for caches that several workers write (any OS).

Built on the ``filelock`` package (``flock`` on POSIX, ``LockFileEx`` on Windows), so ``import
facerec`` works on Windows too. Lock files live in a ``.locks`` folder beside what they guard,
so the cache folders themselves list only cache files. A lock on a path named by the caller
(e.g. ``/tmp/facerec-cpu.lock``, shared with the shell's ``flock``) is taken on that path.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from filelock import FileLock

LOCK_DIR = ".locks"


def lock_path(folder: os.PathLike | str, name: str) -> Path:
    """Where the lock guarding ``name`` in ``folder`` lives: ``folder/.locks/name.lock``."""
    locks = Path(folder) / LOCK_DIR
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"{name}.lock"


@contextlib.contextmanager
def file_lock(path: os.PathLike | str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block."""
    with FileLock(str(path)):
        yield

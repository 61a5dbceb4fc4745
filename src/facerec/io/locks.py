"""An inter-process lock on a file (``fcntl.flock``), for caches that several workers write."""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Iterator


@contextlib.contextmanager
def file_lock(path: os.PathLike | str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing, never truncated) for the ``with`` block."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

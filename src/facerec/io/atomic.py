"""Atomic file writes: a hidden temporary beside the target, renamed into place when complete.

Readers never see a half-written file and a killed writer leaves only a ``.NAME.XXXX.part``
temporary (see :func:`remove_stale_parts`). Files get the permissions a plain ``open()`` would
give them (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

PART_SUFFIX = ".part"


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back at once
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """``0o666 & ~umask``: what ``open(path, "w")`` creates."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: os.PathLike | str) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; renamed onto ``path`` when the block ends
    without error, deleted otherwise. The parent folder is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    tmp = Path(name)
    try:
        os.fchmod(fd, default_file_mode())
        os.close(fd)
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: os.PathLike | str, durable: bool = False) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` atomically when the block ends without error.

    ``durable``: flush and ``fsync`` before the rename, so a power cut leaves the old or the new file.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        yield fh
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def write_atomic(path: os.PathLike | str, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, durable) as fh:
        fh.write(data)


def write_json_atomic(path: os.PathLike | str, obj: object, **dumps_options) -> None:
    """Write ``obj`` as JSON (indented, UTF-8, newline-terminated unless told otherwise) atomically."""
    options = {"indent": 2, "ensure_ascii": False, **dumps_options}
    write_atomic(path, (json.dumps(obj, **options) + "\n").encode())


def remove_stale_parts(root: os.PathLike | str) -> int:
    """Delete temporaries a killed writer left under ``root`` (``.name.XXXX.part``); return how many."""
    root = Path(root)
    count = 0
    if root.is_dir():
        for tmp in root.rglob(f".*{PART_SUFFIX}"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                count += 1
    return count

"""Read a user-named file only when it is a regular file of bounded size.

``Path.read_bytes`` on ``/dev/zero`` grows until the kernel kills the process, and on a FIFO it waits
forever for a writer. Here the file is opened without blocking, checked with ``fstat`` to be a regular
file no larger than a cap, and read up to that cap, so neither can happen.
"""
from __future__ import annotations

import os
import stat
from typing import Callable, Optional

MAX_IMAGE_BYTES = int(os.environ.get("FACEREC_MAX_FILE_BYTES", 256 * 1024 * 1024))
"""Image files above this size are refused before they are read (a 64-megapixel PNG is under 200 MB)."""

MAX_TEXT_BYTES = 64 * 1024 * 1024
"""Text inputs (a pairs file) above this size are refused."""


class UnreadableFile(OSError):
    """The path is not a regular file, or is larger than the cap; ``str()`` is a short reason."""


def read_regular(path: os.PathLike | str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of ``path``; :class:`UnreadableFile` when it is a device, FIFO, socket or folder, or
    above ``max_bytes``; other :class:`OSError` (missing, no permission) as ``open`` raises them."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise UnreadableFile("is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile("not a regular file (a device, FIFO or socket)")
        if st.st_size > max_bytes:
            raise UnreadableFile(f"file of {st.st_size} bytes exceeds the limit of {max_bytes}")
        os.set_blocking(fd, True)
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise UnreadableFile(f"file grew beyond the limit of {max_bytes} bytes while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_or_fail(path: os.PathLike | str, fail: Callable[[str], Exception], max_bytes: int = MAX_IMAGE_BYTES, *,
                 missing: Optional[str] = None, cannot: str = "{}") -> bytes:
    """:func:`read_regular`, its failures raised as ``fail(reason)``: ``missing`` for a file that is not
    there (when given), the :class:`UnreadableFile` reason, else ``cannot`` filled with the system's."""
    try:
        return read_regular(path, max_bytes)
    except FileNotFoundError as exc:
        raise fail(missing if missing is not None else cannot.format(exc.strerror or exc)) from None
    except UnreadableFile as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(cannot.format(exc.strerror or exc)) from None

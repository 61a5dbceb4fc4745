"""Content hashes of files."""
from __future__ import annotations

import hashlib
import os


def file_digest(path: os.PathLike | str, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``sha256``, ``md5``, any :func:`hashlib.new` name), read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: os.PathLike | str) -> str:
    """Hex SHA-256 of a file."""
    return file_digest(path, "sha256")

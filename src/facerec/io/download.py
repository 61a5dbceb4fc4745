"""Download a file and verify it: the one HTTP fetch of facerec (model weights, datasets).

``download_verified`` tries each URL in turn, retries network errors (resuming a partial
``DEST.part`` with an HTTP Range request), and moves the part into place only when it matches the
pinned checksum (``"sha256:<hex>"`` or ``"md5:<hex>"``); a mismatching file is deleted, never kept.
"""
from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Sequence

from facerec.errors import ChecksumError, FacerecError
from facerec.io.hashing import file_digest
from facerec.types import Progress

CHUNK = 1 << 16
ATTEMPTS = 4
TIMEOUT = 60
USER_AGENT = "facerec"


def matches(path: Path, checksum: str) -> bool:
    """Whether ``path`` is a file with this ``"algorithm:hex"`` checksum."""
    algorithm, _, expected = checksum.partition(":")
    return path.is_file() and file_digest(path, algorithm) == expected.lower()


def fetch(url: str, part: Path, label: str = "", on_progress: Optional[Progress] = None,
          timeout: float = TIMEOUT) -> None:
    """Download ``url`` into ``part``, continuing from its current size when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with resp:
        if have and resp.status != 206:  # server ignored the range: start over
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if have else "wb") as out:
            done = have
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if on_progress:
                    on_progress(done, total, label)
        if total is not None and done < total:
            raise ConnectionError(f"connection closed after {done} of {total} bytes")


def download_verified(urls: Sequence[str], dest: Path, checksum: Optional[str], label: str = "",
                      on_progress: Optional[Progress] = None, attempts: int = ATTEMPTS,
                      timeout: float = TIMEOUT) -> Path:
    """``dest`` holding the first URL's file that matches ``checksum`` (kept if ``dest`` already does).

    ``checksum`` None: no pinned value (the caller verifies what it extracts). Raises
    :class:`ChecksumError` when a source served other bytes, :class:`FacerecError` when none served any.
    """
    label = label or dest.name
    if checksum and matches(dest, checksum):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    for url in urls:
        fetched = False
        for attempt in range(attempts):
            try:
                fetch(url, part, label, on_progress, timeout)
                fetched = True
                break
            except urllib.error.HTTPError as exc:
                errors.append(f"{url}: HTTP {exc.code}")
                if exc.code < 500:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                if attempt == attempts - 1:
                    errors.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
            if attempt < attempts - 1:
                time.sleep(0.2 * 2 ** attempt)
        if not fetched or not part.exists():
            continue
        if not checksum or matches(part, checksum):
            os.replace(part, dest)
            return dest
        algorithm, _, expected = checksum.partition(":")
        got = file_digest(part, algorithm)
        part.unlink()
        errors.append(f"{url}: {algorithm} mismatch (expected {expected[:12]}..., got {got[:12]}...)")
    if any("mismatch" in e for e in errors):
        raise ChecksumError(f"{label}: refused, checksum does not match the pinned value ({'; '.join(errors)})")
    raise FacerecError(f"{label}: download failed ({'; '.join(errors) or 'no source'})")

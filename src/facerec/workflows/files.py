"""Small file helpers for resumable batch jobs: atomic writes, stale temporaries, failure reports."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional

from facerec.errors import FacerecError

PART_SUFFIX = ".part"
REPORT_HEADER = "path\treason\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: object) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())


def remove_stale_parts(root: Path) -> int:
    """Delete temporaries a killed run left under ``root`` (``.name.XXXX.part``); return how many."""
    count = 0
    if root.is_dir():
        for tmp in root.rglob(f".*{PART_SUFFIX}"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                count += 1
    return count


def reason_of(exc: BaseException, path: str) -> str:
    """The reason part of an error message, without the leading ``path: ``."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, FacerecError):
        msg = f"{type(exc).__name__}: {msg}"
    return msg.removeprefix(f"{path}: ")


class FailureLog:
    """A ``path<TAB>reason`` report: appended (and flushed) as failures happen, so a killed run
    keeps it, then rewritten sorted at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[tuple[str, str]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: Optional[object] = open(path, "w", encoding="utf-8")
        self._fh.write(REPORT_HEADER)  # type: ignore[attr-defined]
        self._fh.flush()  # type: ignore[attr-defined]

    def add(self, path: str, reason: str) -> None:
        reason = " ".join(reason.split())
        self.entries.append((path, reason))
        if self._fh is not None:
            self._fh.write(f"{_clean(path)}\t{reason}\n")  # type: ignore[attr-defined]
            self._fh.flush()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Rewrite the report sorted by path (atomically)."""
        if self._fh is not None:
            self._fh.close()  # type: ignore[attr-defined]
            self._fh = None
        self.entries.sort()
        write_atomic(self.path, (REPORT_HEADER + "".join(f"{_clean(p)}\t{r}\n" for p, r in self.entries)).encode())


def _clean(path: str) -> str:
    return path.replace("\t", " ").replace("\n", " ")


def read_failure_report(path: Path) -> list[tuple[str, str]]:
    """The entries of a report written by :class:`FailureLog`."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines[1:] if line]  # type: ignore[misc]


"""Failure reports of batch jobs: why each bad file failed, kept even when the run is killed."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from facerec.errors import FacerecError
from facerec.io.atomic import write_atomic
from facerec.io.text import safe_text

REPORT_HEADER = "path\treason\n"


def reason_of(exc: BaseException, path: str) -> str:
    """The reason part of an error message, without the leading ``path: ``."""
    msg = safe_text(" ".join(str(exc).split()) or type(exc).__name__)
    if not isinstance(exc, FacerecError):
        msg = f"{type(exc).__name__}: {msg}"
    return msg.removeprefix(f"{safe_text(path)}: ").removeprefix(f"{path}: ")


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
        path, reason = _entry(path, reason)
        self.entries.append((path, reason))
        if self._fh is not None:
            self._fh.write(_row(path, reason))  # type: ignore[attr-defined]
            self._fh.flush()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Rewrite the report sorted by path (atomically)."""
        if self._fh is not None:
            self._fh.close()  # type: ignore[attr-defined]
            self._fh = None
        write_failure_report(self.path, self.entries)


def write_failure_report(path: Path, entries: list[tuple[str, str]]) -> None:
    """Write a ``path<TAB>reason`` report, sorted by path, atomically."""
    rows = sorted(_entry(p, r) for p, r in entries)
    write_atomic(path, (REPORT_HEADER + "".join(_row(p, r) for p, r in rows)).encode())


def report_path_for(output: Path) -> Path:
    """Where a batch job writing ``output`` (a file) keeps its failure report: ``OUTPUT.failures.tsv``."""
    return output.with_name(output.name + ".failures.tsv")


def _entry(path: str, reason: str) -> tuple[str, str]:
    """A failure as the report keeps it: printable text, the reason on one line."""
    return safe_text(path), safe_text(" ".join(reason.split()))


def _row(path: str, reason: str) -> str:
    """One report line of an :func:`_entry` (tabs and newlines in the path become spaces)."""
    clean = path.replace("\t", " ").replace("\n", " ")
    return f"{clean}\t{reason}\n"


def read_failure_report(path: Path) -> list[tuple[str, str]]:
    """The entries of a report written by :class:`FailureLog`."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines[1:] if line]  # type: ignore[misc]


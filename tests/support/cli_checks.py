"""Checks of what a ``facerec`` command printed when it refused or failed."""
from __future__ import annotations


def assert_usage_error(code: int, err: str, *words: str) -> None:
    """Exit 2 and one ``error:`` line (naming each of ``words``), never a traceback."""
    assert code == 2 and "Traceback" not in err, (code, err[-2000:])
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for w in words:
        assert w in errors[0], (w, err)

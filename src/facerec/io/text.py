"""Text that is safe to store, print and encode: file names that are not UTF-8, and terminal escapes.

On Linux a file name is bytes; Python hands a non-UTF-8 name over as a ``str`` holding lone
surrogates (``surrogateescape``), which cannot be encoded to UTF-8 (SQLite, JSON files, hashes)
and which OpenCV's path functions mishandle. Open files with the path as given; everywhere a path
becomes data or a message, use :func:`safe_text`, which shows each undecodable byte as ``\\xNN``.
"""
from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(value: object) -> str:
    """``value`` as a str that encodes to UTF-8: undecodable file-name bytes become ``\\xNN``,
    other lone surrogates ``\\udNNN``."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that never were bytes of a file name
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_data(obj: object) -> object:
    """A copy of a JSON-able structure with every string (keys too) passed through :func:`safe_text`."""
    if isinstance(obj, str):
        return safe_text(obj)
    if isinstance(obj, dict):
        return {safe_text(k) if isinstance(k, str) else k: safe_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [safe_data(v) for v in obj]
    return obj


def is_valid_text(text: str) -> bool:
    """True when ``text`` encodes to UTF-8 (holds no lone surrogate)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def terminal_safe(value: object) -> str:
    """:func:`safe_text` with control characters (escape sequences, bidi overrides) shown as
    ``\\xNN``/``\\uNNNN``, so a name or path printed on a terminal cannot drive it."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), safe_text(value))

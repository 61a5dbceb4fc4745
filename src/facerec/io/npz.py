"""Reading the ``.npz`` files facerec writes: never unpickled, one clear error for anything else."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from facerec.errors import FacerecError
from facerec.io.text import safe_text

T = TypeVar("T")


def read_npz(path: os.PathLike | str, kind: str, parse: Callable[[np.lib.npyio.NpzFile], T],
             missing: str = "file") -> T:
    """``parse(arrays)`` of the ``.npz`` at ``path`` (``allow_pickle=False``).

    A missing file raises ``FacerecError("PATH: no such MISSING")``; a file that cannot be read or
    parsed (not an npz, a missing array, bad JSON...) ``FacerecError("PATH: not a KIND (Error)")``.
    """
    path = Path(path)
    name = safe_text(path)
    if not path.is_file():
        raise FacerecError(f"{name}: no such {missing}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return parse(data)
    except FacerecError:
        raise
    except Exception as exc:  # noqa: BLE001 (any decoding failure means: not one of ours)
        raise FacerecError(f"{name}: not a {kind} ({type(exc).__name__})") from None

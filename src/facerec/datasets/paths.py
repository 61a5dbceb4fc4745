"""Where benchmark datasets are on this machine: one lookup for the CLI, the tests and the benchmarks.

``$FACEREC_DATA`` wins; otherwise the first folder holding ``lfw/`` among ``./data`` (where
``facerec datasets download lfw`` puts it), ``../shared/data`` and the ``shared/data`` folder
beside this source checkout. Protocol files (``pairs.txt``, ``pairsDevTrain.txt``,
``pairsDevTest.txt``) are found next to the image folder, beside it, or in ``lfw_protocol/``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from facerec.errors import FacerecError

_CHECKOUT = Path(__file__).resolve().parents[3]


def data_dir_candidates() -> list[Path]:
    """The folders :func:`default_data_dir` looks at, in order."""
    env = os.environ.get("FACEREC_DATA")
    if env:
        return [Path(env).expanduser()]
    return [Path("data"), Path("../shared/data"), _CHECKOUT.parent / "shared" / "data"]


def default_data_dir() -> Path:
    """``$FACEREC_DATA``, else the first candidate that holds ``lfw/``, else ``./data``."""
    candidates = data_dir_candidates()
    for cand in candidates:
        if (cand / "lfw").is_dir():
            return cand
    return candidates[0]


def lfw_dir(data_dir: Optional[Path] = None) -> Path:
    """The LFW image folder (``Name/Name_0001.jpg``)."""
    return (data_dir or default_data_dir()) / "lfw"


def lfw_protocol_file(name: str = "pairs.txt", lfw: Optional[Path] = None, must_exist: bool = True) -> Path:
    """A protocol file of the LFW image folder ``lfw``: next to it, beside it or in ``lfw_protocol/``
    (where it would be in ``lfw_protocol/`` when absent and not ``must_exist``)."""
    lfw = lfw or lfw_dir()
    cands = (lfw / name, lfw.parent / name, lfw.parent / "lfw_protocol" / name)
    for cand in cands:
        if cand.is_file():
            return cand
    if not must_exist:
        return cands[-1]
    raise FacerecError(f"no {name} next to {lfw}; pass --pairs FILE (or set FACEREC_DATA)")

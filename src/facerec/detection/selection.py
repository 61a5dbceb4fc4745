"""Which face of an image to use: one policy, one vocabulary.

A pick is ``"largest"`` (the face with the largest box), ``"center"`` (the face whose box centre
is nearest the image centre: the subject of a portrait crop such as an LFW photo) or a face
number ``N`` (0 is the largest, 1 the next largest, ...: the order :meth:`FaceAnalyzer.detect`
returns). The CLI spells it ``--pick largest|center|N`` everywhere.
"""
from __future__ import annotations

from typing import Sequence, TypeVar, Union

import numpy as np

from facerec.errors import FacerecError, NoFaceError
from facerec.types import Detection

PICKS = ("largest", "center")
Pick = Union[str, int]
DEFAULT_PICK = "largest"
_ALIASES = {"central": "center", "centre": "center"}
"""Older spellings still understood (``evaluate --select central``)."""

D = TypeVar("D", bound=Detection)


def parse_pick(value: Pick) -> Pick:
    """``"largest"``, ``"center"`` or a face number, from a string or an int; a :class:`FacerecError` otherwise."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise FacerecError(f"unknown face pick {value!r}; face numbers start at 0 (the largest)")
        return int(value)
    text = str(value).strip().lower()
    text = _ALIASES.get(text, text)
    if text in PICKS:
        return text
    if text.isdigit():
        return int(text)
    raise FacerecError(f"unknown face pick {value!r}; choose one of: {', '.join(PICKS)}, "
                       f"or a face number (0 = the largest)")


def pick_index(boxes: np.ndarray, shape: tuple[int, ...], pick: Pick = DEFAULT_PICK) -> int:
    """Index of the chosen face among ``boxes`` (``(n, 4)``, largest first) of an image of ``shape`` (h, w, ...).

    Raises :class:`NoFaceError` for an empty list or a face number beyond it.
    """
    pick = parse_pick(pick)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    n = len(boxes)
    if isinstance(pick, int):
        if pick >= n:
            raise NoFaceError(f"has {n} face(s), no face #{pick}")
        return pick
    if n == 0:
        raise NoFaceError("no face found")
    if pick == "largest":
        areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
        return int(np.argmax(areas))
    h, w = shape[:2]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    return int(np.argmin(np.hypot(centres[:, 0] - w / 2.0, centres[:, 1] - h / 2.0)))


def pick_detection(detections: Sequence[D], shape: tuple[int, ...], pick: Pick = DEFAULT_PICK) -> D:
    """The chosen one of ``detections`` (largest first), see :func:`pick_index`."""
    boxes = np.array([d.bbox for d in detections], dtype=np.float32).reshape(len(detections), 4)
    return detections[pick_index(boxes, shape, pick)]

"""Video inputs read with OpenCV: a file, a camera index (``0``) or a stream URL (RTSP/HTTP)."""
from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from facerec.errors import FacerecError
from facerec.io.images import MAX_PIXELS

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (a missing camera prints several) for a block, and FFmpeg's
    (read once, when OpenCV first starts FFmpeg)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    logging = getattr(cv2, "utils", None) and getattr(cv2.utils, "logging", None)
    if logging is None:  # pragma: no cover
        yield
        return
    old = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(old)


@dataclass
class VideoSource:
    """An opened input: frames with their time in seconds (the file's clock, or the wall clock
    for a camera or stream)."""

    name: str
    capture: cv2.VideoCapture
    live: bool
    fps: float
    """Frames per second the source declares (0 when unknown)."""
    total: int
    """Frame count of a file (0 for a camera or stream)."""
    first: Optional[np.ndarray] = None
    """The frame :func:`open_source` read to check the input, handed out first by :meth:`frames`
    (seeking back instead fails on one-frame files, still images and unseekable streams)."""

    @property
    def size(self) -> tuple[int, int]:
        if self.first is not None:
            return self.first.shape[1], self.first.shape[0]
        return (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, seconds, BGR frame)`` until the input ends; a frame above the pixel limit
        ends it with a :class:`FacerecError`."""
        start = time.monotonic()
        index = 0
        fps = self.fps if self.fps > 0 else 25.0
        while True:
            if self.first is not None:
                ok, frame, self.first = True, self.first, None
            else:
                ok, frame = self.capture.read()
            if not ok or frame is None:
                return
            _check_pixels(self.name, frame.shape[1], frame.shape[0])
            t = time.monotonic() - start if self.live else index / fps
            yield index, t, frame
            index += 1

    def close(self) -> None:
        self.capture.release()


def _check_pixels(name: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise FacerecError(f"{name}: video frames of {width}x{height} pixels exceed the limit of {MAX_PIXELS}")


def _capture(target: int | str, failure: str) -> cv2.VideoCapture:
    """An opened capture of ``target``, or :class:`FacerecError` saying ``failure``."""
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        raise FacerecError(failure)
    return cap


def open_source(spec: str, label: Optional[str] = None) -> VideoSource:
    """Open a file path, a camera index or a URL; one clear :class:`FacerecError` when it fails
    (frames above the image pixel limit, or no frame at all, included). ``label`` names the input
    in messages and reports instead of ``spec`` (an upload's temporary file)."""
    spec = str(spec).strip()
    if not spec:
        raise FacerecError("no video input given")
    name = label or spec
    with _quiet_opencv():
        if spec.isdigit():
            if len(spec) > 4:  # OpenCV takes an int32 (a larger one was an OverflowError traceback)
                raise FacerecError(f"camera {spec[:24]}: no such camera (camera indexes are small numbers)")
            cap = _capture(int(spec), f"camera {spec} could not be opened (no such camera, or it is busy)")
            live, name = True, label or f"camera {spec}"
        elif _URL.match(spec):
            cap, live = _capture(spec, f"{name}: the stream could not be opened"), True
        else:
            path = Path(spec)
            if not path.is_file():
                raise FacerecError(f"{name}: no such video file")
            cap, live = _capture(str(path), f"{name}: not a video OpenCV can read"), False
        try:
            _check_pixels(name, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
            ok, first = cap.read()
            if not ok or first is None:
                raise FacerecError(f"{name}: no frame could be read" + (
                    " (a stream whose index is at its end needs a server that answers range requests)"
                    if live and not spec.isdigit() else " (not a video OpenCV can read)"))
            _check_pixels(name, first.shape[1], first.shape[0])
        except BaseException:
            cap.release()
            raise
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 0.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if live and not spec.isdigit() and count > 0 and fps > 0:
        live = False  # a file served over HTTP: its own clock and length, not a live stream's
    total = 0 if live else max(1, count)
    return VideoSource(name=name, capture=cap, live=live, fps=fps, total=total, first=first)


def open_writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An OpenCV writer for the annotated video (.mp4: mp4v, .avi: MJPG)."""
    path = Path(path)
    codec = {".mp4": "mp4v", ".m4v": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}.get(path.suffix.lower())
    if codec is None:
        raise FacerecError(f"{path}: the annotated video must end in .mp4, .avi or .mkv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_opencv():
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), max(1.0, fps), size)
    if not writer.isOpened():
        raise FacerecError(f"{path}: cannot write a video there")
    return writer

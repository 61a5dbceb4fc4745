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

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, seconds, BGR frame)`` until the input ends."""
        start = time.monotonic()
        index = 0
        fps = self.fps if self.fps > 0 else 25.0
        while True:
            ok, frame = self.capture.read()
            if not ok or frame is None:
                return
            t = time.monotonic() - start if self.live else index / fps
            yield index, t, frame
            index += 1

    def close(self) -> None:
        self.capture.release()


def open_source(spec: str) -> VideoSource:
    """Open a file path, a camera index or a URL; one clear :class:`FacerecError` when it fails."""
    spec = str(spec).strip()
    if not spec:
        raise FacerecError("no video input given")
    with _quiet_opencv():
        if spec.isdigit():
            cap = cv2.VideoCapture(int(spec))
            if not cap.isOpened():
                cap.release()
                raise FacerecError(f"camera {spec} could not be opened (no such camera, or it is busy)")
            live, name = True, f"camera {spec}"
        elif _URL.match(spec):
            cap = cv2.VideoCapture(spec)
            if not cap.isOpened():
                cap.release()
                raise FacerecError(f"{spec}: the stream could not be opened")
            live, name = True, spec
        else:
            path = Path(spec)
            if not path.is_file():
                raise FacerecError(f"{spec}: no such video file")
            cap = cv2.VideoCapture(str(path))
            ok = cap.isOpened() and cap.grab()
            if not ok:
                cap.release()
                raise FacerecError(f"{spec}: not a video OpenCV can read")
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            live, name = False, str(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 0.0
    total = 0 if live else max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    return VideoSource(name=name, capture=cap, live=live, fps=fps, total=total)


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

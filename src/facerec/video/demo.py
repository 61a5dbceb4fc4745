"""A video composed from still photos moving and scaling across a canvas: for tests, benchmarks
and demos where no recorded video with known faces is at hand."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from facerec.video.source import open_writer


@dataclass(frozen=True)
class Motion:
    """Where one photo goes: top-left corner and scale (of the photo's width) at start and end."""

    start: tuple[float, float]
    end: tuple[float, float]
    scale_start: float
    scale_end: float
    first: float = 0.0
    """Fraction of the video before the photo appears."""
    last: float = 1.0
    """Fraction of the video after which it is gone."""

    def at(self, t: float, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """``(x, y, w, h)`` at time fraction ``t`` (None when not shown)."""
        if not self.first <= t <= self.last:
            return None
        u = (t - self.first) / max(self.last - self.first, 1e-9)
        s = self.scale_start + (self.scale_end - self.scale_start) * u
        x = self.start[0] + (self.end[0] - self.start[0]) * u
        y = self.start[1] + (self.end[1] - self.start[1]) * u
        h, w = shape
        return int(round(x)), int(round(y)), max(1, int(round(w * s))), max(1, int(round(h * s)))


def compose_video(path: Path, photos: Sequence[np.ndarray], motions: Sequence[Motion], frames: int = 45,
                  fps: float = 15.0, size: tuple[int, int] = (640, 360)) -> list[list[tuple[int, int, int, int] | None]]:
    """Write ``frames`` frames of the photos moving on a grey canvas; returns each frame's
    rectangles, one per photo (None where a photo is not shown)."""
    width, height = size
    writer = open_writer(Path(path), fps, size)
    rects: list[list[tuple[int, int, int, int] | None]] = []
    try:
        for i in range(frames):
            t = i / max(frames - 1, 1)
            canvas = np.full((height, width, 3), 96, np.uint8)
            row = []
            for photo, motion in zip(photos, motions):
                rect = motion.at(t, photo.shape[:2])
                row.append(rect)
                if rect is None:
                    continue
                x, y, w, h = rect
                scaled = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
                x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
                if x1 > x0 and y1 > y0:
                    canvas[y0:y1, x0:x1] = scaled[y0 - y:y1 - y, x0 - x:x1 - x]
            writer.write(canvas)
            rects.append(row)
    finally:
        writer.release()
    return rects

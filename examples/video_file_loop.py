"""A video file loop with the Python API: detect and embed the faces of every N-th frame.

    python examples/video_file_loop.py clip.mp4 [--every 5]

Prints, per analysed frame, its time and the faces found; each face's embedding is matched against
the faces of the first analysed frame that had any, to show the same person being followed. For
tracking, identities from a gallery and an annotated output video, use ``facerec video``.
"""
from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from facerec import FaceAnalyzer


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--every", type=int, default=5, help="analyse one frame in N")
    args = parser.parse_args(argv)
    capture = cv2.VideoCapture(args.video)
    if not capture.isOpened():
        print(f"error: {args.video}: cannot open the video", file=sys.stderr)
        return 2
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    analyzer = FaceAnalyzer()
    reference: np.ndarray | None = None
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % args.every == 0:
                faces = analyzer.faces(frame)
                if reference is None and faces:
                    reference = np.stack([f.embedding for f in faces])
                line = []
                for face in faces:
                    sims = reference @ face.embedding if reference is not None else np.zeros(1)
                    line.append(f"face {int(np.argmax(sims))} ({float(np.max(sims)):.2f})")
                print(f"{index / fps:7.2f}s  {len(faces)} face(s)  {'  '.join(line)}")
            index += 1
    finally:
        capture.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

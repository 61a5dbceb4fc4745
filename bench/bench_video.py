"""Speed of ``facerec video``: frames/s and real-time factor for several detection settings.

The clip is composed (``facerec.video.demo``) from three LFW people's first photos moving and
scaling across a 1280x720 canvas at 25 frames/s; the gallery holds their photos 2-4, so the bench
also checks that every track gets the right name. Each setting runs the whole pipeline
(decode, detect every N-th frame, track, embed 5 faces per track, vote, annotate nothing); the
reference in the same run is decoding alone.

    flock /tmp/facerec-cpu.lock python bench/bench_video.py      # -> results/video.md
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
LFW = ROOT.parent / "shared/data/lfw"
OUT = ROOT / "results/video.md"
PEOPLE = ["Colin_Powell", "Tony_Blair", "Gerhard_Schroeder"]
SETTINGS = [(1, "scrfd:320"), (3, "scrfd:320"), (6, "scrfd:320"), (3, "scrfd:640")]


def make_clip(folder: Path, frames: int):
    import cv2

    from facerec.video.demo import Motion, compose_video

    photos = [cv2.imread(str(LFW / p / f"{p}_0001.jpg")) for p in PEOPLE]
    motions = [Motion((40, 100), (300, 250), 1.2, 1.6), Motion((900, 60), (700, 300), 1.5, 1.1),
               Motion((480, 380), (520, 100), 1.0, 1.3, first=0.2, last=0.9)]
    path = folder / "clip.mp4"
    compose_video(path, photos, motions, frames=frames, fps=25.0, size=(1280, 720))
    return path


def decode_only(path: Path) -> tuple[int, float]:
    from facerec.video import open_source

    src = open_source(str(path))
    t0 = time.perf_counter()
    n = sum(1 for _ in src.frames())
    src.close()
    return n, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if not LFW.is_dir():
        print(f"needs {LFW}", file=sys.stderr)
        return 2
    from facerec.analyzer import FaceAnalyzer
    from facerec.gallery import Gallery
    from facerec.video import VideoOptions, VideoProcessor, open_source

    rows = []
    with tempfile.TemporaryDirectory(prefix="facerec-bench-video-") as tmp:
        folder = Path(tmp)
        clip = make_clip(folder, args.frames)
        n, dec = decode_only(clip)
        video_s = n / 25.0
        for every, detector in SETTINGS:
            fa = FaceAnalyzer(detector=detector)
            with Gallery(folder / f"g-{every}-{detector.replace(':', '_')}.db", fa) as g:
                for p in PEOPLE:
                    g.enroll(p, [LFW / p / f"{p}_000{i}.jpg" for i in (2, 3, 4)])
                src = open_source(str(clip))
                report = VideoProcessor(fa, g, VideoOptions(every=every)).run(src)
                src.close()
            named = sorted(t["person"] for t in report.tracks)
            rows.append((every, detector, report, named))
            print(f"every={every} {detector}: {report.fps:.1f} frames/s, RTF {report.realtime_factor:.2f}, "
                  f"tracks {named}", file=sys.stderr, flush=True)
    lines = ["# Video: frames/s and real-time factor", "",
             f"Command: `flock /tmp/facerec-cpu.lock python bench/bench_video.py` ({time.strftime('%Y-%m-%d')}, "
             f"{os.cpu_count()} cores shared with other jobs, default embedder, onnxruntime default threads).", "",
             f"Clip: {n} frames of 1280x720 at 25 frames/s ({video_s:.0f} s) composed from the first LFW photo of "
             f"{', '.join(PEOPLE)} moving and scaling (faces about 110-170 px); the gallery holds their photos 2-4. "
             "Real-time factor = video seconds per wall second (above 1: faster than real time).", "",
             "| detect every | detector | frames/s | real-time factor | x decode-only time | detections | tracks -> names |",
             "|---:|---|---:|---:|---:|---:|---|",
             f"| (decode only) | - | {n / dec:.1f} | {video_s / dec:.2f} | 1.0 | - | - |"]
    for every, detector, r, named in rows:
        lines.append(f"| {every} | {detector} | {r.fps:.1f} | {r.realtime_factor:.2f} | {r.wall_seconds / dec:.1f} | "
                     f"{r.detected_frames} | {len(named)}: {', '.join(named)} |")
    lines += ["", "Detecting on every frame costs most; detecting every 3rd frame and tracking in between (Kalman "
              "prediction) nearly doubles the speed with the same names. Beyond that the fixed part dominates: each "
              "track is embedded 5 times (`--samples`) whatever N is, with the default two-model ensemble, so "
              "lowering `--samples` is the next knob. The detector input size trades recall of small faces for "
              "speed (640 costs 1.5x the time of 320 here). The `unknown` tracks are the partly visible second face "
              "at the left edge of Tony Blair's photo (detector score about 0.56), detected on and off: the more "
              "often detection runs, the more short tracks it splits into."]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

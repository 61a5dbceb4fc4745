"""``facerec video``: a timeline of who appears when in a video file, camera or stream."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from facerec.cli.common import (ProfileOpt, BackendOpt, DeviceOpt, DetectorOpt, MinFaceOpt, MinScoreOpt, ModelOpt,
                                OfflineOpt, console, make_analyzer, min_quality_option, pipeline_spec)
from facerec.cli.validate import similarity
from facerec.errors import FacerecError
from facerec.openset import DEFAULT_FPIR
from facerec.io.text import safe_data


def video(ctx: typer.Context, source: str = typer.Argument(..., metavar="INPUT", help="A video file, a camera index (0) or a stream URL."),
          db: Optional[str] = typer.Option(None, "--db", help="Gallery to name faces from; without one, tracks are "
                                                              "clustered into person-1, person-2, ..."),
          every: int = typer.Option(3, "--every", min=1, help="Detect on every N-th frame (track in between)."),
          samples: int = typer.Option(5, "--samples", min=1, help="Embeddings per track for the identity vote."),
          min_quality: Optional[float] = min_quality_option(),
          threshold: Optional[float] = typer.Option(None, "--threshold", "-t", callback=similarity,
                                                    help="Similarity threshold [default: the gallery's "
                                                         "identification threshold for --fpir at its size]."),
          fpir: float = typer.Option(DEFAULT_FPIR, "--fpir", min=1e-9, max=0.999999,
                                     help="Share of strangers a face vote may name (with --db)."),
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the annotated video here (.mp4/.avi)."),
          timeline: Optional[Path] = typer.Option(None, "--timeline", help="Write the JSON Lines timeline here "
                                                                          "instead of stdout."),
          json_out: bool = typer.Option(False, "--json", help="JSON Lines on stdout, one object per track as it "
                                                              "ends (also with --timeline; the summary stays on "
                                                              "stderr)."),
          display: Optional[bool] = typer.Option(None, "--display/--no-display",
                                                 help="Show a live window [default: for a camera or stream, "
                                                      "where OpenCV has a GUI]."),
          max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after this many frames."),
          model: str = ModelOpt, detector: str = DetectorOpt, profile: Optional[str] = ProfileOpt,
          min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
          offline: bool = OfflineOpt,
          backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Track faces, name each track by vote against a gallery (or cluster them), print a timeline.

    One JSON line per track as it ends, every line with the same keys: track, person, similarity,
    cluster, votes, samples, first/last time (s) and frame, frames, detections, box, quality, skipped.
    Ctrl-C stops cleanly: every track so far is written and the annotated video closed.
    """
    from facerec.quality import check_min_quality
    from facerec.video import VideoOptions, VideoProcessor, open_source, open_writer

    options = VideoOptions(every=every, samples=samples, min_quality=check_min_quality(min_quality),
                           threshold=threshold, max_frames=max_frames)
    if db is not None:
        from facerec.gallery.milvus_store import gallery_location

        db = gallery_location(db)  # milvus:///file.db and milvus://host are galleries too
        if isinstance(db, Path) and not db.is_file():
            raise FacerecError(f"{db}: no such gallery")
    spec = pipeline_spec(ctx)
    src = open_source(source)
    gallery = None
    stream = None
    try:
        if db is not None:
            from facerec.gallery import Gallery

            # the gallery's recorded model and flip; the detector and the threshold given here
            gallery = Gallery.open(db, spec.with_(threshold=threshold), given=("detector",), fpir=fpir)
            analyzer = gallery.analyzer
        else:
            analyzer = make_analyzer(spec)
        writer = open_writer(out, src.fps or 25.0, src.size) if out is not None else None
        stream = open(timeline, "w", encoding="utf-8") if timeline is not None else sys.stdout
        streams = [stream] + ([sys.stdout] if json_out and stream is not sys.stdout else [])

        def write_line(line: dict) -> None:
            text = json.dumps(safe_data(line), ensure_ascii=False) + "\n"
            for s in streams:
                s.write(text)
                s.flush()

        show = _window() if (display if display is not None else src.live) else None
        report = VideoProcessor(analyzer, gallery, options).run(src, on_track=write_line, writer=writer,
                                                                 on_frame=show)
    finally:
        src.close()
        if gallery is not None:
            gallery.close()
        if stream is not None and stream is not sys.stdout:
            stream.close()
    r = report.to_dict()
    named = sum(1 for t in report.tracks if t["person"] != "unknown") if gallery is not None else 0
    console.print(f"{r['frames']} frame(s), {r['video_seconds']:.1f} s of video in {r['wall_seconds']:.1f} s: "
                  f"{r['fps']:.1f} frames/s, real-time factor {r['realtime_factor']:.2f}; "
                  f"{r['tracks']} track(s)" + (f", {named} named" if gallery is not None else "") + (f" -> {out}" if out else ""), highlight=False)
    skipped = [t for t in report.tracks if t["skipped"]]
    for t in skipped:
        console.print(f"  track {t['track']}: {t['skipped']}", highlight=False, markup=False)
    if report.interrupted:
        console.print("stopped by Ctrl-C; the timeline and the video are complete up to there")
        raise typer.Exit(130)


def _window():
    """A frame callback showing a window (False when the user presses q), or None where OpenCV
    has no GUI (opencv-python-headless)."""
    import cv2

    try:
        cv2.namedWindow("facerec", cv2.WINDOW_NORMAL)
    except cv2.error:
        console.print("no display available (OpenCV without GUI); continuing without a window")
        return None

    def show(frame) -> bool:
        cv2.imshow("facerec", frame)
        return (cv2.waitKey(1) & 0xFF) != ord("q")

    return show


def register(app: typer.Typer) -> None:
    app.command("video")(video)

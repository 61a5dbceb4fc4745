"""``facerec detect|embed|verify``: the single-image commands."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np
import typer

from facerec.cli.common import (add_commands, ProfileOpt, MinFaceOpt, MinScoreOpt, parse_fallback, BackendOpt, DeviceOpt, AddressOpt, DetectorOpt, EngineOpt, FlipOpt, JsonOpt,
                                ModelOpt, OfflineOpt,
                                aligned_zoom, batch_engine, console, finite, list_failures, make_analyzer,
                                min_quality_option, pipeline_spec, print_json, print_verification,
                                progress_bar, say)
from facerec.io.text import safe_text, terminal_safe
from facerec.errors import FacerecError


def detect(ctx: typer.Context, images: List[Path] = typer.Argument(..., help="Image files."),
           draw: Optional[Path] = typer.Option(None, "--draw", help="Write the image with boxes and landmarks here "
                                                                  "(with several images: a folder)."),
           largest: bool = typer.Option(False, "--largest", help="Only the largest face of each image."),
           detector: str = DetectorOpt, profile: Optional[str] = ProfileOpt, min_score: Optional[float] = MinScoreOpt,
           min_face: int = MinFaceOpt,
           offline: bool = OfflineOpt, json_out: bool = JsonOpt,
           backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Find every face (or the largest): box, score and 5 landmarks. --json: a list, one entry per image."""
    from facerec.detection.factory import build_detector
    from facerec.io.images import load_image
    from facerec.models.store import ModelStore
    from facerec.quality.score import detection_dicts

    spec = pipeline_spec(ctx)
    det = build_detector(spec.detector, ModelStore(offline=spec.offline), backend=spec.backend, device=spec.device,
                         min_score=spec.min_score, min_face=spec.min_face)
    results = []
    for path in images:
        img = load_image(path)
        faces = sorted(det.detect(img), key=lambda d: -d.area)[: 1 if largest else None]
        results.append({"image": safe_text(path), "faces": detection_dicts(img, faces)})
        if draw is not None:
            out = draw if len(images) == 1 else draw / f"{path.stem}_faces.jpg"
            write_image(out, draw_faces(img, faces))
        if not json_out:
            console.print(f"{terminal_safe(path)}: {len(faces)} face(s)", markup=False, highlight=False)
            for i, f in enumerate(faces):
                x1, y1, x2, y2 = f.bbox
                console.print(f"  #{i} box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}) score={f.score:.3f}")
    if json_out:
        print_json(results)  # always a list, one entry per image, however many images


def write_image(path: Path, img: np.ndarray) -> None:
    """Encode ``img`` by the file's suffix (JPEG when unknown) and write it with Python's file I/O:
    OpenCV's own path functions crash on names that are not UTF-8."""
    from facerec.io.atomic import write_atomic

    ext = path.suffix.lower() if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif",
                                                          ".tiff") else ".jpg"
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise FacerecError(f"{safe_text(path)}: could not encode the image")
    write_atomic(path, buf.tobytes())


def draw_faces(img: np.ndarray, faces, labels: Optional[List[str]] = None) -> np.ndarray:
    """A copy of ``img`` with boxes, landmarks and optional labels drawn."""
    out = img.copy()
    thick = max(1, round(max(img.shape[:2]) / 400))
    for i, f in enumerate(faces):
        x1, y1, x2, y2 = [int(round(v)) for v in f.bbox]
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 200, 0), thick)
        if f.landmarks is not None:
            for x, y in f.landmarks:
                cv2.circle(out, (int(round(x)), int(round(y))), thick + 1, (0, 0, 255), -1)
        text = labels[i] if labels else f"{f.score:.2f}"
        cv2.putText(out, text, (x1, max(0, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, (0, 200, 0), thick)
    return out


def embed(ctx: typer.Context, paths: List[Path] = typer.Argument(..., help="Images or folders (folders recurse), or one "
                                                       "folder-per-person dataset."),
          out: Path = typer.Option(..., "--out", "-o", help="Output file: .npz, or .parquet (needs pyarrow)."),
          model: str = ModelOpt, detector: str = DetectorOpt, flip: bool = FlipOpt, profile: Optional[str] = ProfileOpt,
          offline: bool = OfflineOpt,
          fallback_mode: str = typer.Option("none", "--fallback", help="'center': embed a centred crop when no face "
                                            "is found (as align --fallback)."),
          fallback_center: bool = typer.Option(False, "--fallback-center", hidden=True, help="Old spelling of "
                                               "--fallback center."),
          labels: Optional[bool] = typer.Option(None, "--labels/--no-labels",
                                                help="Label rows by folder name [default: when PATH is one "
                                                     "folder-per-person dataset]."),
          aligned: bool = typer.Option(False, "--aligned", help="Inputs are crops written by 'facerec align' "
                                                                "(no detection)."),
          jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                             help="Worker processes, one thread each "
                                                  "[default: all cores, for 64+ images]."),
          shard_size: int = typer.Option(1000, "--shard-size", min=1, help="Images per resumable shard."),
          min_quality: Optional[float] = min_quality_option(),
          min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
          engine: str = EngineOpt, address: Optional[str] = AddressOpt,
          backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt, json_out: bool = JsonOpt) -> None:
    """Embed the largest face of every image; interrupted runs resume; failures are listed at the end."""
    from facerec.workflows.embed_dataset import EmbedOptions, collect_items, embed_items

    items = collect_items(paths, labels)
    if not items:
        raise FacerecError("no images found in the given paths")
    if aligned and (min_quality or min_score is not None or min_face):
        raise FacerecError("--min-quality, --min-score and --min-face need detection; they do not apply to "
                           "--aligned crops")
    fallback = fallback_center or parse_fallback(fallback_mode)
    options = EmbedOptions(pipeline_spec(ctx), fallback=fallback, aligned=aligned,
                           align_zoom=aligned_zoom(paths) if aligned else 1.0, min_quality=min_quality or None)
    with batch_engine(engine, address) as eng, progress_bar("embedding") as bar:
        report = embed_items(items, out, options=options, jobs=jobs, shard_size=shard_size, progress=bar,
                             engine=eng)
    table = report.table
    if json_out:
        print_json({"out": str(out), "rows": len(table), "dim": int(table.vectors.shape[1]) if len(table) else None,
                    "model": table.model if len(table) else None,
                    "people": len(set(table.labels)) if table.labels else None, "resumed": report.resumed,
                    "failures": [{"path": p, "reason": r} for p, r in report.failures]})
    if report.resumed:
        say(f"resumed: {report.resumed} image(s) were done by an earlier run")
    if len(table):
        who = f" of {len(set(table.labels))} people" if table.labels else ""
        say(f"wrote {len(table)} embedding(s){who} of dimension {table.vectors.shape[1]} to {out}")
    list_failures(report.failures, report.report_path)
    if not len(table):
        raise FacerecError(f"all {len(items)} image(s) failed, nothing written")


def verify(ctx: typer.Context, image_a: Path = typer.Argument(..., help="First image."), image_b: Path = typer.Argument(..., help="Second image."),
           model: str = ModelOpt, detector: str = DetectorOpt, flip: bool = FlipOpt, profile: Optional[str] = ProfileOpt,
          offline: bool = OfflineOpt,
           threshold: Optional[float] = typer.Option(None, "--threshold", "-t", callback=finite,
                                                      help="Override the model's threshold."),
           min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
           json_out: bool = JsonOpt, backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Are the largest faces of two images the same person? Exit code 0 whatever the answer."""
    fa = make_analyzer(pipeline_spec(ctx, threshold=threshold))
    print_verification(fa.verify(image_a, image_b), json_out)


def register(app: typer.Typer) -> None:
    add_commands(app, detect, embed, verify)

"""``facerec cluster``: group the faces of unlabelled photos into persons."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from facerec.cli.common import (ProfileOpt, MinFaceOpt, MinScoreOpt, BackendOpt, DeviceOpt, AddressOpt, EngineOpt, JobsOpt, JsonOpt, OfflineOpt,
                                batch_engine, console, finite, pipeline_spec,
                                print_json, progress, report_failures)
from facerec.errors import FacerecError


def cluster(ctx: typer.Context, images: List[Path] = typer.Argument(..., help="Images or folders of unlabelled photos."),
            out: Path = typer.Option(..., "--out", "-o", help="Output folder (must be new or empty)."),
            method: str = typer.Option("chinese-whispers", "--method", help="chinese-whispers, dbscan or hdbscan."),
            threshold: Optional[float] = typer.Option(None, "--threshold", "-t", callback=finite,
                                                      help="Cosine threshold (default: the embedder's calibrated one "
                                                           "plus --margin)."),
            margin: float = typer.Option(0.2, "--margin", callback=finite, help="Added to the embedder's threshold when --threshold "
                                                               "is not given (grouping needs a stricter cut than pairs)."),
            model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedder."),
            detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
            profile: Optional[str] = ProfileOpt,
            min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
            offline: bool = OfflineOpt, json_out: bool = JsonOpt, jobs: Optional[int] = JobsOpt,
            engine: str = EngineOpt, address: Optional[str] = AddressOpt,
            backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Group the faces of unlabelled photos into persons: one folder per person, singletons apart, and a CSV."""
    from facerec.analyzer import FaceAnalyzer
    from facerec.clustering import METHODS, cluster_threshold
    from facerec.clustering.images import cluster_folder
    from facerec.io.files import expand_paths

    if method not in METHODS:
        raise FacerecError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FacerecError(f"{out}: output folder exists and is not empty")
    files = expand_paths(images)
    if not files:
        raise FacerecError("no images found in the given paths")
    # one spec for this process and every worker: the profile's flip reaches both (it once reached workers only)
    spec = pipeline_spec(ctx)
    fa = FaceAnalyzer.from_spec(spec)
    thr = threshold if threshold is not None else cluster_threshold(fa.threshold, margin)
    with batch_engine(engine, address) as eng, progress() as bar:
        task = bar.add_task("embedding", total=len(files))
        summary, failures = cluster_folder(files, fa, out, method, thr, on_step=lambda: bar.advance(task),
                                           jobs=jobs, engine=eng, pipeline={"spec": spec})
    summary = {**summary, "method": method, "threshold": round(thr, 4), "out": str(out), "failed": len(failures)}
    if json_out:
        print_json(summary)
    else:
        console.print(f"{summary['faces']} face(s): {summary['clusters']} person(s), {summary['singletons']} singleton(s) "
                      f"-> {out}", highlight=False)
    report_failures(failures)


def register(app: typer.Typer) -> None:
    app.command("cluster")(cluster)

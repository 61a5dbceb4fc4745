"""``facerec gallery ...``, ``facerec cluster`` and ``facerec serve``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from facerec.cli.common import JsonOpt, OfflineOpt, console, min_quality_option, print_json, progress, report_failures
from facerec.quality.gate import DEFAULT_ENROLL_MIN_QUALITY
from facerec.errors import FacerecError

gallery_app = typer.Typer(help="A gallery of known persons: enroll, identify, verify, manage.",
                          no_args_is_help=True)


class _Opts:
    db: Path
    model: Optional[str] = None
    detector: Optional[str] = None
    flip: Optional[bool] = None
    threshold: Optional[float] = None
    offline: bool = False


_opts = _Opts()


@gallery_app.callback()
def _gallery(db: Path = typer.Option(..., "--db", help="Gallery database file (SQLite; created when missing)."),
             model: Optional[str] = typer.Option(None, "--model", "-m",
                                                 help="Embedder for a new gallery (an existing one keeps its own)."),
             detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
             flip: Optional[bool] = typer.Option(None, "--flip/--no-flip", help="Flip TTA for a new gallery."),
             threshold: Optional[float] = typer.Option(None, "--threshold", "-t",
                                                       help="Cosine threshold (default: the embedder's calibrated one)."),
             offline: bool = OfflineOpt) -> None:
    """Every subcommand works on the gallery in --db."""
    _opts.db, _opts.model, _opts.detector, _opts.flip = db, model, detector, flip
    _opts.threshold, _opts.offline = threshold, offline


def _open(load_models: bool = True):
    from facerec.gallery import Gallery

    return Gallery.open(_opts.db, model=_opts.model, detector=_opts.detector, flip=_opts.flip,
                        threshold=_opts.threshold, offline=True if _opts.offline else None, load_models=load_models)


def _existing(load_models: bool = False):
    if not _opts.db.is_file():
        raise FacerecError(f"{_opts.db}: no such gallery")
    return _open(load_models)


@gallery_app.command("enroll")
def enroll(name: str = typer.Argument(..., help="The person's name (created when new)."),
           images: List[Path] = typer.Argument(..., help="Images (or folders) of this person."),
           pick: str = typer.Option("largest", "--pick", help="Which face of each image: largest, center (nearest "
                                    "the image centre: portrait datasets such as LFW) or a face number N (0 = largest)."),
           face: Optional[int] = typer.Option(None, "--face", hidden=True, help="Old spelling of --pick N."),
           min_quality: float = min_quality_option(DEFAULT_ENROLL_MIN_QUALITY)) -> None:
    """Enroll a person from one or more images (the largest face of each)."""
    from facerec.io.files import expand_paths

    files = expand_paths(images)
    if not files:
        raise FacerecError("no images found in the given paths")
    with _open() as g:
        res = g.enroll(name, files, pick=pick if face is None else face, min_quality=min_quality)
        console.print(f"enrolled {len(res.face_ids)} face(s) for {res.person.name!r} "
                      f"({res.person.faces} in total)", highlight=False)
        report_failures(res.failures)


@gallery_app.command("enroll-dataset")
def enroll_dataset(root: Path = typer.Argument(..., help="Folder with one sub-folder of images per person."),
                   workers: int = typer.Option(max(1, min(4, os.cpu_count() or 1)), "--workers", "-w",
                                               help="Worker processes (1 runs in this process)."),
                   max_per_person: Optional[int] = typer.Option(None, "--max-per-person",
                                                                help="Enroll at most this many images per person."),
                   pick: str = typer.Option("largest", "--pick", help="Which face of each image: largest, center "
                                            "(nearest the image centre, for LFW-like crops) or a face number N."),
                   min_quality: float = min_quality_option(DEFAULT_ENROLL_MIN_QUALITY)) -> None:
    """Enroll a folder-per-person dataset: parallel, resumable (images already enrolled are skipped)."""
    from facerec.gallery.gallery import image_digest
    from facerec.gallery.pool import embed_largest_faces
    from facerec.gallery.store import FaceRecord
    from facerec.io.files import dataset_items
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.detection.selection import parse_pick

    pick = parse_pick(pick)
    if not root.is_dir():
        raise FacerecError(f"{root}: not a folder")
    items = dataset_items(root)
    if max_per_person:
        seen: dict[str, int] = {}
        items = [(p, n) for p, n in items if seen.__setitem__(n, seen.get(n, 0) + 1) or seen[n] <= max_per_person]
    if not items:
        raise FacerecError(f"{root}: no images in per-person sub-folders")
    g = _open()
    try:
        done = g.store.enrolled_images()
        todo = []
        for path, person in items:
            digest = image_digest(path)[0]
            if (person, digest) not in done:
                todo.append((path, (person, digest)))
        skipped = len(items) - len(todo)
        if skipped:
            console.print(f"{skipped} image(s) already enrolled, skipped")
        meta = g.store.meta()
        failures: list[tuple[str, str]] = []
        added = 0
        with progress() as bar:
            task = bar.add_task("enrolling", total=len(todo))
            for res in embed_largest_faces(todo, model=meta["embedder_name"], detector=meta.get("detector", DEFAULT_DETECTOR),
                                           flip=meta.get("flip") == "1", workers=min(workers, max(1, len(todo))),
                                           analyzer=g.analyzer, offline=True if _opts.offline else None,
                                           pick=pick, min_quality=min_quality):
                person, digest = res.key  # type: ignore[misc]
                if res.error is not None:
                    failures.append((res.path, res.error))
                else:
                    g.add_records(person, [FaceRecord(vector=res.vector, image_sha256=digest, image_path=res.path,
                                                      bbox=res.bbox, det_score=res.score)])
                    added += 1
                    if added % 500 == 0:
                        g.flush()
                bar.advance(task)
        persons, faces = g.store.count()
        console.print(f"enrolled {added} face(s); gallery now has {persons} person(s), {faces} face(s)")
        report_failures(failures)
    finally:
        g.close()


@gallery_app.command("identify")
def identify(images: List[Path] = typer.Argument(..., help="Images (or folders) to identify."),
             k: int = typer.Option(1, "--top", "-k", help="Candidates per face."),
             json_out: bool = JsonOpt) -> None:
    """Name every face of each image (``unknown`` below the threshold).

    With --json: one JSON list with, per image, ``{"image", "faces": [{"bbox", "name", "similarity", ...}]}``.
    """
    from facerec.io.files import expand_paths

    files = expand_paths(images)
    if not files:
        raise FacerecError("no images found in the given paths")
    out, failures = [], []
    with _existing(load_models=True) as g:
        for path in files:
            try:
                faces = g.identify(path, k=k)
            except FacerecError as exc:
                failures.append((str(path), str(exc).removeprefix(f"{path}: ")))
                out.append({"image": str(path), "error": failures[-1][1], "faces": []})
                continue
            out.append({"image": str(path), "faces": [f.to_dict() for f in faces]})
            if not json_out:
                console.print(f"{path}: {len(faces)} face(s)", highlight=False)
                for f in faces:
                    x1, y1, x2, y2 = f.bbox
                    console.print(f"  {f.name}  similarity={f.similarity:.3f}  box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f})",
                                  highlight=False)
    if json_out:
        print_json(out)
    report_failures(failures)
    if failures and len(failures) == len(files):
        raise typer.Exit(2)


@gallery_app.command("verify")
def verify(name: str = typer.Argument(..., help="An enrolled person."), image: Path = typer.Argument(..., help="Image."),
           json_out: bool = JsonOpt) -> None:
    """Is the largest face of IMAGE this person? Exit code 0 whatever the answer."""
    with _existing(load_models=True) as g:
        res = g.verify(name, image)
    if json_out:
        print_json(res)
        return
    verdict = "[green]same person[/green]" if res["same"] else "[red]not this person[/red]"
    console.print(f"{verdict}  similarity={res['similarity']:.4f}  threshold={res['threshold']:.4f}")


@gallery_app.command("list")
def list_persons(json_out: bool = JsonOpt) -> None:
    """Every person with their number of faces."""
    with _existing() as g:
        persons = g.persons()
        stats = g.stats()
    if json_out:
        print_json({"model": stats["model"], "persons": [p.to_dict() for p in persons]})
        return
    for p in persons:
        typer.echo(f"{p.faces:6d}  {p.name}")
    console.print(f"{stats['persons']} person(s), {stats['faces']} face(s), model {stats['model']}")


@gallery_app.command("rename")
def rename(old: str = typer.Argument(...), new: str = typer.Argument(...)) -> None:
    """Rename a person."""
    with _existing() as g:
        p = g.rename(old, new)
    console.print(f"renamed {old!r} to {p.name!r}", highlight=False)


@gallery_app.command("merge")
def merge(source: str = typer.Argument(..., help="Person whose faces move (then removed)."),
          target: str = typer.Argument(..., help="Person who receives them.")) -> None:
    """Merge SOURCE into TARGET."""
    with _existing() as g:
        p = g.merge(source, target)
    console.print(f"merged {source!r} into {p.name!r} ({p.faces} face(s))", highlight=False)


@gallery_app.command("delete")
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a person and every vector of theirs."""
    with _existing() as g:
        n = g.delete(name)
    console.print(f"deleted {name!r} and {n} face(s)", highlight=False)


@gallery_app.command("export")
def export(out: Path = typer.Argument(..., help="Output .npz (arrays + JSON, no pickle).")) -> None:
    """Write every person and face vector to a file."""
    with _existing() as g:
        n = g.export(out)
    console.print(f"exported {n} face(s) to {out}")


@gallery_app.command("import")
def import_(src: Path = typer.Argument(..., help="A file written by 'gallery export'.")) -> None:
    """Add the persons and faces of an export (same embedder only; duplicates skipped)."""
    with _open(load_models=False) as g:
        added, skipped = g.import_(src)
    console.print(f"imported {added} face(s), {skipped} already present")


@gallery_app.command("rebuild-index")
def rebuild_index() -> None:
    """Rebuild the search index from the database."""
    with _existing() as g:
        g.rebuild_index()
        console.print(f"index rebuilt: {len(g.index_ids())} face(s)")


def cluster(images: List[Path] = typer.Argument(..., help="Images or folders of unlabelled photos."),
            out: Path = typer.Option(..., "--out", "-o", help="Output folder (must be new or empty)."),
            method: str = typer.Option("chinese-whispers", "--method", help="chinese-whispers, dbscan or hdbscan."),
            threshold: Optional[float] = typer.Option(None, "--threshold", "-t",
                                                      help="Cosine threshold (default: the embedder's calibrated one "
                                                           "plus --margin)."),
            margin: float = typer.Option(0.2, "--margin", help="Added to the embedder's threshold when --threshold "
                                                               "is not given (grouping needs a stricter cut than pairs)."),
            model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedder."),
            detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
            offline: bool = OfflineOpt, json_out: bool = JsonOpt) -> None:
    """Group the faces of unlabelled photos into persons: one folder per person, singletons apart, and a CSV."""
    from facerec.cli.common import make_analyzer
    from facerec.clustering import METHODS
    from facerec.clustering.images import cluster_folder
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.io.files import expand_paths
    from facerec.recognition.factory import DEFAULT_EMBEDDER

    if method not in METHODS:
        raise FacerecError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FacerecError(f"{out}: output folder exists and is not empty")
    files = expand_paths(images)
    if not files:
        raise FacerecError("no images found in the given paths")
    from facerec.clustering import cluster_threshold

    fa = make_analyzer(model or DEFAULT_EMBEDDER, detector or DEFAULT_DETECTOR, offline=offline)
    thr = threshold if threshold is not None else cluster_threshold(fa.threshold, margin)
    with progress() as bar:
        task = bar.add_task("embedding", total=len(files))
        summary, failures = cluster_folder(files, fa, out, method, thr, on_step=lambda: bar.advance(task))
    summary = {**summary, "method": method, "threshold": round(thr, 4), "out": str(out), "failed": len(failures)}
    if json_out:
        print_json(summary)
    else:
        console.print(f"{summary['faces']} face(s): {summary['clusters']} person(s), {summary['singletons']} singleton(s) "
                      f"-> {out}", highlight=False)
    report_failures(failures)


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
          port: int = typer.Option(8000, "--port", help="Port."),
          db: Path = typer.Option(Path("gallery.db"), "--db", help="Gallery database file."),
          model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedder for a new gallery."),
          detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
          api_key: List[str] = typer.Option([], "--api-key", help="Accepted API key (repeatable; also FACEREC_API_KEYS, "
                                                                  "comma-separated). Required off loopback."),
          workers: int = typer.Option(2, "--workers", help="Inference threads, each with its own models."),
          max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Request size limit."),
          offline: bool = OfflineOpt) -> None:
    """Run the REST API and web page (FastAPI + uvicorn)."""
    try:
        import uvicorn

        from facerec.service.app import ServiceConfig, create_app
    except ImportError as exc:
        raise FacerecError(f"the service needs extra packages: pip install 'facerec[service]' ({exc.name} missing)") from None
    keys = [k for k in api_key if k] + [k.strip() for k in os.environ.get("FACEREC_API_KEYS", "").split(",") if k.strip()]
    cfg = ServiceConfig(db=db, model=model, detector=detector, api_keys=keys, host=host, workers=workers,
                        max_bytes=int(max_upload_mb * 1024 * 1024), offline=True if offline else None)
    cfg.check_exposure()
    app = create_app(cfg)
    console.print(f"serving on http://{host}:{port}/  (API docs: /docs)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.add_typer(gallery_app, name="gallery")
    app.command("cluster")(cluster)
    app.command("serve")(serve)

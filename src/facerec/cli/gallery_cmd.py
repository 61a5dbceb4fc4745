"""``facerec gallery ...``: enroll, identify, verify and manage the persons of a gallery."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

import typer

from facerec.cli.common import (ProfileOpt, MinFaceOpt, MinScoreOpt, BackendOpt, DeviceOpt, AddressOpt, EngineOpt, JsonOpt, OfflineOpt, batch_engine,
                                console, finite,
                                min_quality_option, print_json, print_verification, progress,
                                report_failures, say, WorkersAlias)
from facerec.openset import DEFAULT_FPIR, validate_fpir
from facerec.quality.gate import DEFAULT_ENROLL_MIN_QUALITY
from facerec.cli.validate import within
from facerec.errors import FacerecError
from facerec.io.text import safe_text, terminal_safe

T = TypeVar("T")
gallery_app = typer.Typer(help="A gallery of known persons: enroll, identify, verify, manage.",
                          no_args_is_help=True)


class _Opts:
    db: Optional[Path | str] = None
    model: Optional[str] = None
    detector: Optional[str] = None
    flip: Optional[bool] = None
    threshold: Optional[float] = None
    fpir: Optional[float] = None
    offline: bool = False
    backend: Optional[str] = None
    device: Optional[str] = None
    min_score: Optional[float] = None
    min_face: int = 0


_opts = _Opts()


def _fpir_ok(value: Optional[float]) -> Optional[float]:
    try:
        return validate_fpir(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@gallery_app.callback()
def _gallery(db: Optional[str] = typer.Option(None, "--db", envvar="FACEREC_DB",
                                             help="Gallery: an SQLite file (created when missing), or "
                                     "milvus:///path/file.db (Milvus Lite), milvus://host:19530 or milvus://host:19530/NAME or "
                                     "http(s)://host:port for a Milvus server (pip install 'facerec[milvus]') "
                                     "[required; also FACEREC_DB]."),
             model: Optional[str] = typer.Option(None, "--model", "-m",
                                                 help="Embedder for a new gallery (an existing one keeps its own)."),
             detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
             profile: Optional[str] = ProfileOpt,
             flip: Optional[bool] = typer.Option(None, "--flip/--no-flip", help="Flip TTA for a new gallery."),
             threshold: Optional[float] = typer.Option(None, "--threshold", "-t", callback=finite,
                                                       help="Cosine threshold for identify and verify [default: "
                                                            "identify: from --fpir and the gallery's size; verify: the "
                                                            "embedder's calibrated 1:1 one]."),
             fpir: float = typer.Option(DEFAULT_FPIR, "--fpir", callback=_fpir_ok,
                                        help="Share of strangers identify may name: its threshold rises with the "
                                             "number of enrolled persons (--threshold wins)."),
             min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
             offline: bool = OfflineOpt,
             backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Every subcommand works on the gallery in --db."""
    from facerec.gallery.milvus_store import gallery_location

    _opts.db = None if db is None else gallery_location(db)
    _opts.model, _opts.detector, _opts.flip = model, detector, flip
    _opts.threshold, _opts.offline, _opts.backend, _opts.device = threshold, offline, backend, device
    _opts.fpir = fpir
    _opts.min_score, _opts.min_face = min_score, min_face


def _db() -> Path | str:
    """The gallery file (checked here, not by the option, so that 'gallery CMD --help' needs no --db)."""
    if _opts.db is None:
        raise FacerecError("gallery needs --db FILE (or FACEREC_DB): the gallery database to work on")
    return _opts.db


def _open(load_models: bool = True):
    from facerec.gallery import Gallery
    from facerec.models.pipeline import MODEL_FIELDS, PipelineSpec

    fields = {key: getattr(_opts, key) for key in ("model", "detector", "flip", "threshold", "backend", "device",
                                                   "min_score", "min_face")}
    spec = PipelineSpec.from_profile(None, **fields, offline=True if _opts.offline else None)
    given = [key for key in MODEL_FIELDS if fields[key] is not None]  # the others: the gallery's record
    return Gallery.open(_db(), spec, given=given, load_models=load_models, fpir=_opts.fpir)


def _existing(load_models: bool = False):
    db = _db()
    if isinstance(db, Path) and not db.is_file():
        raise FacerecError(f"{_opts.db}: no such gallery")
    return _open(load_models)


@gallery_app.command("enroll")
def enroll(name: str = typer.Argument(..., help="The person's name (created when new)."),
           images: List[Path] = typer.Argument(..., help="Images (or folders) of this person."),
           pick: Optional[str] = typer.Option(None, "--pick", help="Which face of a photo with several: largest, "
                                              "center (nearest the image centre) or a face number N (0 = largest) "
                                              "[default: such a photo is refused, naming its faces' boxes]."),
           face: Optional[int] = typer.Option(None, "--face", hidden=True, help="Old spelling of --pick N."),
           min_quality: float = min_quality_option(DEFAULT_ENROLL_MIN_QUALITY), json_out: bool = JsonOpt) -> None:
    """Enroll a person from one or more images (the one face of each, or the one --pick says)."""
    from facerec.io.files import expand_paths

    files = expand_paths(images)
    if not files:
        raise FacerecError("no images found in the given paths")
    with _open() as g:
        res = g.enroll(name, files, pick=pick if face is None else face, min_quality=min_quality)
        if json_out:
            print_json(res.to_dict())
        console.print(f"enrolled {len(res.face_ids)} face(s) for {res.person.name!r} "
                      f"({res.person.faces} in total)", highlight=False, markup=False)
        _warn_scale(g)
        report_failures(res.failures)


@gallery_app.command("enroll-dataset")
def enroll_dataset(root: Path = typer.Argument(..., help="Folder with one sub-folder of images per person."),
                   jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                                      help="Worker processes (1 runs in this process) [default: "
                                                           "all cores, at most 4; --engine ray: every CPU of the "
                                                           "cluster]."),
                   max_per_person: Optional[int] = typer.Option(None, "--max-per-person",
                                                                help="Enroll at most this many images per person."),
                   pick: str = typer.Option("auto", "--pick", help="Which face of a photo with several: auto (the "
                                            "one most like the person's other photos; with none, the one nearest "
                                            "the centre), largest, center or a face number N."),
                   min_quality: float = min_quality_option(DEFAULT_ENROLL_MIN_QUALITY),
                   engine: str = EngineOpt, address: Optional[str] = AddressOpt, json_out: bool = JsonOpt,
                   workers_alias: Optional[int] = WorkersAlias) -> None:
    """Enroll a folder-per-person dataset: parallel, resumable (images already enrolled are skipped).

    With --engine ray and a Milvus server (--db milvus://HOST:PORT/NAME) the Ray actors store the faces
    themselves, in batches; with an SQLite or Milvus Lite file (one machine's file) they only embed and
    this process stores."""
    from facerec.detection.selection import parse_pick
    from facerec.gallery.dataset import AUTO, enroll_dataset as enroll_items
    from facerec.io.files import dataset_items

    pick = pick if pick == AUTO else parse_pick(pick)
    if not root.is_dir():
        raise FacerecError(f"{root}: not a folder")
    items = dataset_items(root)
    if max_per_person:
        seen: dict[str, int] = {}
        items = [(p, n) for p, n in items if seen.__setitem__(n, seen.get(n, 0) + 1) or seen[n] <= max_per_person]
    if not items:
        raise FacerecError(f"{root}: no images in per-person sub-folders")
    with batch_engine(engine, address) as eng, _open() as g, progress() as bar:
        task = bar.add_task("enrolling", total=None)

        def start(todo: int, skipped: int) -> None:
            if skipped:
                console.print(f"{skipped} image(s) already enrolled, skipped")
            bar.update(task, total=todo)

        workers = jobs or workers_alias or (eng.cluster_cpus() if eng else max(1, min(4, os.cpu_count() or 1)))
        res = enroll_items(g, items, workers=workers, pick=pick, min_quality=min_quality,
                           offline=True if _opts.offline else None,
                           on_start=start, on_step=lambda: bar.advance(task), engine=eng)
        persons, faces = g.store.count()
        rule = g.open_set(persons)
    if json_out:
        print_json({"added": res.added, "skipped": res.skipped, "persons": persons, "faces": faces,
                    "identify": rule.to_dict(),
                    "multi_face": [{"image": p, "resolved": how} for p, how in res.multi_face],
                    "failures": [{"image": p, "error": e} for p, e in res.failures],
                    "written_by_ray_nodes": res.written_by})
    console.print(f"enrolled {res.added} face(s); gallery now has {persons} person(s), {faces} face(s)")
    if res.written_by:
        say(f"ray: {sum(res.written_by.values())} face(s) stored by the actors on {len(res.written_by)} node(s)")
    console.print(f"identify threshold now {_describe(rule)}", highlight=False, markup=False, soft_wrap=True)
    if rule.warning:
        say(f"warning: {rule.warning}")
    if res.multi_face:
        say(f"{len(res.multi_face)} photo(s) with several faces:")
        for path, how in res.multi_face:
            say(f"  {path}: {how}")
    report_failures(res.failures)


@gallery_app.command("identify")
def identify(images: List[Path] = typer.Argument(..., help="Images (or folders) to identify."),
             k: int = typer.Option(1, "--top", "-k", callback=within(1, 1000), help="Candidates per face (1 to 1000)."),
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
        if not json_out:
            console.print(f"threshold {_describe(g.open_set() if _opts.threshold is None else None)}",
                          highlight=False, markup=False, soft_wrap=True)
        for path in files:
            try:
                faces = g.identify(path, k=k)
            except FacerecError as exc:
                failures.append((safe_text(path), str(exc).removeprefix(f"{safe_text(path)}: ")))
                out.append({"image": safe_text(path), "error": failures[-1][1], "faces": []})
                continue
            out.append({"image": safe_text(path), "faces": [f.to_dict() for f in faces]})
            if not json_out:
                console.print(f"{terminal_safe(path)}: {len(faces)} face(s)", highlight=False, markup=False)
                for f in faces:
                    x1, y1, x2, y2 = f.bbox
                    console.print(f"  {terminal_safe(f.name)}  similarity={f.similarity:.3f}  box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f})",
                                  highlight=False, markup=False)
    if json_out:
        print_json(out)
    report_failures(failures)
    if failures and len(failures) == len(files):
        raise FacerecError(f"all {len(files)} image(s) failed")


@gallery_app.command("verify")
def verify(name: str = typer.Argument(..., help="An enrolled person."), image: Path = typer.Argument(..., help="Image."),
           json_out: bool = JsonOpt) -> None:
    """Is the largest face of IMAGE this person? Exit code 0 whatever the answer."""
    with _existing(load_models=True) as g:
        res = g.verify(name, image)
    print_verification(res, json_out, rejected="not this person")


@gallery_app.command("info")
def info(json_out: bool = JsonOpt) -> None:
    """The gallery's size, model, index, and the identification threshold its size and --fpir give."""
    with _existing() as g:
        stats = g.stats()
        meta = g.store.meta()
        rule = g.open_set(stats["persons"]) if stats["threshold"] is not None else None
    verify_threshold = stats.pop("threshold")
    stats = {**stats, "detector": meta.get("detector"), "verify_threshold": verify_threshold}
    if json_out:
        print_json(stats)
        return
    for key in ("persons", "faces", "model", "detector", "dim", "index"):
        console.print(f"{key:18s} {stats[key]}", highlight=False, markup=False)
    console.print(f"{'verify threshold':18s} {stats['verify_threshold']} (1:1)", highlight=False, markup=False)
    if rule is not None:
        console.print(f"{'identify':18s} {_describe(rule)}", highlight=False, markup=False, soft_wrap=True)
        if rule.warning:
            say(f"warning: {rule.warning}")


def _describe(rule) -> str:
    """One line: the identification threshold and where it came from."""
    if rule is None:
        return f"{_opts.threshold:.4f} (given with --threshold)"
    if rule.source == "fpir":
        return (f"{rule.threshold:.4f} (FPIR target {rule.fpir:g} at {rule.persons} person(s); "
                f"expected FNIR about {rule.expected_fnir:.1%})")
    if rule.source == "explicit":
        return f"{rule.threshold:.4f} (given with --threshold)"
    return f"{rule.threshold:.4f} (1:1 threshold: {rule.note})"


def _warn_scale(g) -> None:
    """Say so when the gallery is too large for its FPIR target at a tolerable miss rate."""
    rule = g.open_set()
    if rule.warning:
        say(f"warning: {rule.warning}")


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
        typer.echo(f"{p.faces:6d}  {terminal_safe(p.name)}")
    console.print(f"{stats['persons']} person(s), {stats['faces']} face(s), model {stats['model']}")


def _change(json_out: bool, change: Callable[[Any], T], answer: Callable[[T], dict], line: Callable[[T], str],
            plain: bool = True) -> None:
    """Apply ``change`` to the existing gallery; print its ``answer`` (--json) and its ``line`` (``plain``: as is)."""
    with _existing() as g:
        result = change(g)
    if json_out:
        print_json(answer(result))
    console.print(line(result), **({"highlight": False, "markup": False} if plain else {}))


@gallery_app.command("rename")
def rename(old: str = typer.Argument(...), new: str = typer.Argument(...), json_out: bool = JsonOpt) -> None:
    """Rename a person."""
    _change(json_out, lambda g: g.rename(old, new), lambda p: {"person": p.to_dict()},
            lambda p: f"renamed {old!r} to {p.name!r}")


@gallery_app.command("merge")
def merge(source: str = typer.Argument(..., help="Person whose faces move (then removed)."),
          target: str = typer.Argument(..., help="Person who receives them."), json_out: bool = JsonOpt) -> None:
    """Merge SOURCE into TARGET."""
    _change(json_out, lambda g: g.merge(source, target), lambda p: {"person": p.to_dict()},
            lambda p: f"merged {source!r} into {p.name!r} ({p.faces} face(s))")


@gallery_app.command("delete")
def delete(name: str = typer.Argument(...), json_out: bool = JsonOpt) -> None:
    """Delete a person and every vector of theirs."""
    _change(json_out, lambda g: g.delete(name), lambda n: {"deleted": name, "faces_removed": n},
            lambda n: f"deleted {name!r} and {n} face(s)")


@gallery_app.command("export")
def export(out: Path = typer.Argument(..., help="Output .npz (arrays + JSON, no pickle)."),
           json_out: bool = JsonOpt) -> None:
    """Write every person and face vector to a file."""
    _change(json_out, lambda g: g.export(out), lambda n: {"out": str(out), "faces": n},
            lambda n: f"exported {n} face(s) to {out}", plain=False)


@gallery_app.command("import")
def import_(src: Path = typer.Argument(..., help="A file written by 'gallery export'."),
            json_out: bool = JsonOpt) -> None:
    """Add the persons and faces of an export (same embedder only; duplicates skipped). A fine-tuned
    gallery's head folder is not in the export: give --model 'BASE>HEAD_DIR' here or on later commands."""
    with _open(load_models=_opts.model is not None) as g:
        added, skipped = g.import_(src)
    if json_out:
        print_json({"added": added, "skipped": skipped})
    console.print(f"imported {added} face(s), {skipped} already present")


@gallery_app.command("rebuild-index")
def rebuild_index(json_out: bool = JsonOpt) -> None:
    """Rebuild the search index from the database."""
    with _existing() as g:
        g.rebuild_index()
        n = len(g.index_ids())
    if json_out:
        print_json({"faces": n})
    console.print(f"index rebuilt: {n} face(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(gallery_app, name="gallery")

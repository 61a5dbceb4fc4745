"""``facerec align|train|classify|plot``: the FaceNet tutorial's workflow on whole datasets."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import List, Optional

import typer

from facerec.cli.common import (add_commands, ProfileOpt, MinFaceOpt, MinScoreOpt, parse_fallback, BackendOpt, DeviceOpt, AddressOpt, DetectorOpt, EngineOpt, FlipOpt, JobsOpt, JsonOpt,
                                ModelOpt, OfflineOpt,
                                batch_engine, console, finite, list_failures, make_analyzer, min_quality_option,
                                pipeline_spec, print_json, progress_bar, say)
from facerec.io.text import safe_text
from facerec.cli.validate import within
from facerec.errors import FacerecError


# -- align -------------------------------------------------------------------------------------------
def align(ctx: typer.Context, dataset: Path = typer.Argument(..., help="Folder of images (e.g. Name/Name_0001.jpg)."),
          out: Path = typer.Argument(..., help="Output folder (same layout, .png crops)."),
          jobs: Optional[int] = JobsOpt,
          size: int = typer.Option(112, "--size", help="Crop size in pixels (square)."),
          zoom: float = typer.Option(1.0, "--zoom", callback=within(0.0, 10.0, lo_open=True), help="Below 1 leaves more margin around the face."),
          detector: str = DetectorOpt, profile: Optional[str] = ProfileOpt,
          fallback: str = typer.Option("none", "--fallback",
                                       help="'center': write a centred crop when no face is found."),
          min_quality: Optional[float] = min_quality_option(),
          min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
          offline: bool = OfflineOpt, json_out: bool = JsonOpt,
          engine: str = EngineOpt, address: Optional[str] = AddressOpt,
          backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Align the largest face of every image; resumable, with a failure report."""
    from facerec.recognition.factory import DEFAULT_EMBEDDER
    from facerec.workflows.align_dataset import AlignSettings, align_dataset

    settings = AlignSettings(size=size, zoom=zoom, fallback=parse_fallback(fallback), min_quality=min_quality or None)
    spec = pipeline_spec(ctx, model=DEFAULT_EMBEDDER)  # aligning detects only: the default embedder, as ever
    with batch_engine(engine, address) as eng, progress_bar("aligning") as bar:
        report = align_dataset(dataset, out, spec, settings=settings, jobs=jobs, progress=bar, engine=eng)
    if json_out:
        print_json(report.to_dict())
    else:
        extra = f", {len(report.fallbacks)} centre-crop fallback(s)" if report.fallbacks else ""
        say(f"aligned {report.aligned}, already done {report.skipped}, failed {len(report.failures)}"
            f"{extra} -> {out}")
        list_failures(report.failures, report.report_path)
    if report.failures and report.aligned + report.skipped == 0:
        raise FacerecError(f"all {len(report.failures)} image(s) failed (report: {report.report_path})")


# -- train -------------------------------------------------------------------------------------------
def train(ctx: typer.Context, data: Path = typer.Argument(..., help="A folder-per-person dataset (raw or aligned) or an embeddings file."),
          out: Path = typer.Option(..., "--out", "-o", help="Where to save the classifier (.npz)."),
          classifier: str = typer.Option("svm", "--classifier", "-c", help="svm, logreg, knn or centroid."),
          min_images: int = typer.Option(2, "--min-images-per-class", min=1, help="Skip people with fewer images."),
          test_ratio: float = typer.Option(0.3, "--test-ratio", help="Share of each person's images held out."),
          seed: int = typer.Option(0, "--seed", help="Seed of the split."),
          model: str = ModelOpt, detector: str = DetectorOpt, flip: bool = FlipOpt, profile: Optional[str] = ProfileOpt,
          min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
          offline: bool = OfflineOpt,
          jobs: Optional[int] = JobsOpt,
          save_embeddings: Optional[Path] = typer.Option(None, "--save-embeddings",
                                                         help="Keep the dataset's embeddings in this file."),
          json_out: bool = JsonOpt, backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Train a classifier naming the people of a dataset; report test accuracy."""
    from facerec.classification import make_classifier, train_classifier

    if out.suffix != ".npz":
        raise FacerecError(f"{out}: a classifier is saved as .npz")
    if not 0.0 <= test_ratio < 1.0:
        raise FacerecError(f"--test-ratio must be at least 0 and below 1, got {test_ratio}")
    make_classifier(classifier)  # fail fast on a bad name
    table = _labelled_embeddings(data, pipeline_spec(ctx), jobs, min_images, save_embeddings)
    result = train_classifier(table, classifier, min_images, test_ratio, seed,
                              min_similarity=_embedder_threshold(table.model, offline))
    result.model.save(out)
    summary = result.to_dict() | {"out": str(out)}
    if json_out:
        print_json(summary)
        return
    say(f"{result.model.kind} on {result.model.embedder}: {summary['classes']} people, "
                  f"{result.train_images} training / {result.test_images} test images -> {out}")
    if result.evaluation is not None:
        ev = result.evaluation
        say(f"test top-1 accuracy {ev.accuracy:.4f}   top-5 {ev.top5:.4f}")
        _print_worst(ev.per_class)
    say(f"open set: 'unknown' below probability {result.model.min_probability:.3f} (chosen on the test images) "
        f"or similarity {result.model.min_similarity:.3f} (the embedder's threshold)")


def _embedder_threshold(embedder_id: str, offline: bool) -> float:
    """The calibrated verification threshold of the embedder that made ``embedder_id`` vectors."""
    from facerec.models.store import ModelStore
    from facerec.recognition.factory import build_embedder, parse_embedder_id

    name, flip = parse_embedder_id(embedder_id)
    return float(build_embedder(name, ModelStore(offline=True if offline else None), flip=flip).threshold)


def _print_worst(rows: list[dict], n: int = 10) -> None:
    from rich.table import Table

    worst = [r for r in rows if r["f1"] < 1.0][:n]
    if not worst:
        say("every class perfect on the test set")
        return
    table = Table(title=f"worst {len(worst)} classes", title_justify="left")
    for col in ("person", "precision", "recall", "test images"):
        table.add_column(col, justify="left" if col == "person" else "right")
    for r in worst:
        table.add_row(r["name"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", str(r["support"]))
    console.print(table)  # rich table


def _labelled_embeddings(data: Path, spec, jobs: Optional[int], min_images: int, keep: Optional[Path]):
    """Embeddings with labels: loaded from a file, or computed from a dataset folder (aligned
    crops when it holds 'facerec align' settings), skipping people with too few images."""
    from collections import Counter

    from facerec.io.embeddings import load_embeddings
    from facerec.workflows.embed_dataset import collect_items, embed_items

    if data.is_file():
        return load_embeddings(data)
    if not data.is_dir():
        raise FacerecError(f"{data}: no such file or folder")
    items = collect_items([data], labels=True)
    counts = Counter(label for _, label in items)
    items = [(p, label) for p, label in items if counts[label] >= min_images]
    if not items:
        raise FacerecError(f"{data}: no person has {min_images} or more images")
    options = _embed_options(spec, data)
    with contextlib.ExitStack() as stack:
        target = keep
        if target is None:
            target = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="facerec-"))) / "embeddings.npz"
        with progress_bar("embedding") as bar:
            report = embed_items(items, target, options=options, jobs=jobs, progress=bar)
        list_failures(report.failures, None)
        return report.table


def _embed_options(spec, folder: Path):
    """How to embed a dataset folder: its 'facerec align' crops as they are, else detecting faces."""
    from facerec.workflows.align_dataset import read_settings
    from facerec.workflows.embed_dataset import EmbedOptions

    settings = read_settings(folder)
    return EmbedOptions(spec, aligned=settings is not None,
                        align_zoom=float(settings.get("zoom", 1.0)) if settings else 1.0)


# -- classify ----------------------------------------------------------------------------------------
def classify(ctx: typer.Context, model_file: Path = typer.Argument(..., metavar="MODEL", help="A classifier from 'facerec train'."),
             images: List[Path] = typer.Argument(..., help="Images or folders; one labelled dataset folder "
                                                          "also reports accuracy."),
             min_probability: Optional[float] = typer.Option(
                 None, "--min-probability", callback=finite, help="Below this probability: 'unknown' [default: the floor "
                                                 "'train' chose on held-out faces]."),
             threshold: Optional[float] = typer.Option(None, "--threshold", "-t", callback=finite, hidden=True,
                                                       help="Old name of --min-probability."),
             min_similarity: Optional[float] = typer.Option(
                 None, "--min-similarity", callback=finite, help="Below this cosine similarity to the person's mean face: 'unknown' "
                                                "[default: the embedder's calibrated verification threshold]."),
             closed_set: bool = typer.Option(False, "--closed-set", help="Always answer a known name (no floors "
                                             "unless given): only for faces known to be of trained people."),
             detector: str = DetectorOpt, profile: Optional[str] = ProfileOpt, offline: bool = OfflineOpt,
             min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
             jobs: Optional[int] = JobsOpt,
             json_out: bool = JsonOpt, backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt) -> None:
    """Name every face, or 'unknown' when it resembles no trained person closely enough (open set)."""
    from facerec.classification import FaceClassifier
    from facerec.recognition.factory import parse_embedder_id
    from facerec.workflows.embed_dataset import looks_like_dataset

    clf = FaceClassifier.load(model_file)
    name, flip = parse_embedder_id(clf.embedder)
    spec = pipeline_spec(ctx, model=name, flip=flip)  # the classifier's embedding space
    min_prob = threshold if min_probability is None else min_probability  # --threshold: its old name
    if closed_set:
        min_prob = min_prob or 0.0
        min_sim = -1.0 if min_similarity is None else min_similarity
    else:
        min_prob = clf.min_probability if min_prob is None else min_prob
        min_sim = min_similarity if min_similarity is not None else (
            clf.min_similarity if clf.min_similarity is not None else _embedder_threshold(clf.embedder, offline))
    if len(images) == 1 and looks_like_dataset(images[0]):
        _classify_dataset(clf, images[0], min_prob, min_sim, spec, jobs, json_out)
        return
    _classify_images(clf, images, min_prob, min_sim, spec, json_out)


def _classify_images(clf, images: List[Path], min_prob: float, min_sim: float, spec, json_out: bool) -> None:
    from facerec.io.files import expand_paths

    fa = make_analyzer(spec)
    clf.require_model(fa.model)
    files = expand_paths(images)
    if not files:
        raise FacerecError("no images found in the given paths")
    results, failures = [], []
    for path in files:
        try:
            faces = fa.faces(path)
        except FacerecError as exc:
            if len(files) == 1:
                raise
            failures.append((safe_text(path), str(exc).removeprefix(f"{safe_text(path)}: ")))
            continue
        preds = clf.predict([f.embedding for f in faces], fa.model, min_prob, min_sim) if faces else []
        results.append({"image": safe_text(path), "faces": [f.to_dict() | p.to_dict() for f, p in zip(faces, preds)]})
        if not json_out:
            if not faces:
                say(f"{path}: no face found")
            for i, (f, p) in enumerate(zip(faces, preds)):
                x1, y1, x2, y2 = (int(round(v)) for v in f.bbox)
                who = p.name if p.name != "unknown" else f"unknown (closest: {p.best})"
                say(f"{path} #{i} ({x1},{y1},{x2},{y2}): {who}  p={p.probability:.3f} "
                              f"sim={p.similarity:.3f}")
    if json_out:
        print_json({"model": str(clf.embedder), "min_probability": min_prob, "min_similarity": min_sim, "results": results,
                    "failures": [{"path": p, "reason": r} for p, r in failures]})
    else:
        list_failures(failures, None)
    if failures and not results:
        raise FacerecError(f"all {len(failures)} image(s) failed")


def _classify_dataset(clf, folder: Path, min_prob: float, min_sim: float, spec, jobs: Optional[int],
                      json_out: bool) -> None:
    from facerec.classification import evaluate_classifier
    from facerec.workflows.embed_dataset import collect_items, embed_items

    options = _embed_options(spec, folder)
    items = collect_items([folder], labels=True)
    with tempfile.TemporaryDirectory(prefix="facerec-") as tmp:
        with progress_bar("embedding") as bar:
            report = embed_items(items, Path(tmp) / "e.npz", options=options, jobs=jobs, progress=bar)
    table = report.table
    if not len(table):
        list_failures(report.failures, None)
        raise FacerecError(f"{folder}: no face could be embedded")
    clf.require_model(table.model)
    ev = evaluate_classifier(clf, table.vectors, table.labels or [], table.model, min_prob, min_sim)
    known = sum(1 for label in table.labels or [] if label in set(clf.classes))
    if json_out:
        print_json({"accuracy": ev.accuracy, "top5_accuracy": ev.top5, "images": ev.images, "known_images": known,
                    "failed": len(report.failures), "per_class": ev.per_class,
                    "failures": [{"path": p, "reason": r} for p, r in report.failures]})
        return
    say(f"accuracy {ev.accuracy:.4f}  top-5 {ev.top5:.4f} on {ev.images} images "
                  f"({known} of people the model knows)")
    _print_worst(ev.per_class)
    list_failures(report.failures, None)


# -- plot --------------------------------------------------------------------------------------------
def plot(embeddings: Path = typer.Argument(..., help="A labelled embeddings file (facerec embed DATASET)."),
         out: Path = typer.Option(..., "--out", "-o", help="FILE.html (interactive, plotly) or FILE.png (matplotlib)."),
         method: str = typer.Option("pca", "--method", help="pca, tsne or umap (umap needs umap-learn)."),
         top: int = typer.Option(10, "--top", min=1, help="Plot the N people with the most images."),
         seed: int = typer.Option(0, "--seed", help="Seed for t-SNE/UMAP."),
         head: Optional[Path] = typer.Option(None, "--head", help="A head from 'facerec finetune' for these "
                                                                  "embeddings' model: before and after, side by side."),
         json_out: bool = JsonOpt) -> None:
    """The tutorial's 3-D scatter of embeddings, coloured by identity."""
    from facerec.io.embeddings import load_embeddings
    from facerec.plotting import plot_embeddings

    table = load_embeddings(embeddings)
    after = None
    if head is not None:
        from facerec.recognition.finetuned import head_view

        after = head_view(head, table)
    info = plot_embeddings(table, out, method, top, seed, after=after)
    if json_out:
        print_json({**info, "method": method, "out": str(out)})
    say(f"plotted {info['points']} faces of {info['identities']} people ({method}) -> {out}")


def register(app: typer.Typer) -> None:
    add_commands(app, align, train, classify, plot)

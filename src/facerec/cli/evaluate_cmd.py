"""``facerec evaluate lfw|pairs`` (verification accuracy) and ``facerec datasets download lfw``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import typer

from facerec.cli.common import (BackendOpt, DeviceOpt, MinFaceOpt, MinScoreOpt, AddressOpt, EngineOpt, JsonOpt, OfflineOpt,
                                WorkersAlias, console, pipeline_spec, with_options, print_json, progress, report_failures, say)
from facerec.errors import FacerecError
from facerec.models.pipeline import PipelineSpec

evaluate_app = typer.Typer(help="Verification accuracy: the LFW View 2 protocol, or your own pairs.",
                           no_args_is_help=True)
datasets_app = typer.Typer(help="Download benchmark datasets.", no_args_is_help=True)

ProfileOpt = typer.Option("default", "--profile", "-p", help="Named pipeline (model, detector, flip) to start from.")
ModelOverride = typer.Option(None, "--model", "-m", help="Embedder or ensemble 'a+b' / 'a:0.6+b:0.4' "
                             "(default: the profile's).")
DetectorOverride = typer.Option(None, "--detector", "-d", help="yunet, scrfd, scrfd:320, dlib_hog "
                                "(default: the profile's).")
FlipOverride = typer.Option(None, "--flip/--no-flip", help="Horizontal-flip augmentation (default: the profile's).")
WorkersOpt = typer.Option(0, "--jobs", "-j", min=0,
                          help="Worker processes, each single-threaded (0: one per CPU, at most 8, or with --engine ray one per CPU of the cluster; 1: this process).")
CacheDirOpt = typer.Option(None, "--cache-dir", help="Embedding cache folder (default ~/.cache/facerec/embeddings).")
NoCacheOpt = typer.Option(False, "--no-cache", help="Compute everything again; read and write no cache.")
RocOpt = typer.Option(None, "--roc", help="Write the ROC curve to this PNG (needs matplotlib).")
SelectAlias = typer.Option(None, "--select", hidden=True, help="Old name of --pick.")


def _pick_help(default: str) -> str:
    return f"Face used per image: largest, center (nearest the image centre) or a face number N (default {default})."


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and ``datasets`` to the main app."""
    app.add_typer(evaluate_app, name="evaluate")
    app.add_typer(datasets_app, name="datasets")


@dataclass
class EvalSettings:
    """How one ``evaluate`` run embeds (the profile's pipeline with the user's overrides) and reports."""

    spec: PipelineSpec
    pick: str
    workers: int = 0
    cache_dir: Optional[Path] = None
    no_cache: bool = False
    as_json: bool = False
    roc: Optional[Path] = None
    engine: str = "local"
    address: Optional[str] = None

    @classmethod
    def from_command(cls, ctx: typer.Context) -> "EvalSettings":
        """The settings of an ``evaluate`` command from its parsed options."""
        p = ctx.params
        return cls(pipeline_spec(ctx), pick=p["select"] or p["pick"], workers=p["workers"] or p["workers_alias"] or 0,
                   cache_dir=p["cache_dir"], no_cache=p["no_cache"], as_json=p["as_json"], roc=p["roc"],
                   engine=p["engine"], address=p["address"])


def _find_pairs(lfw: Path) -> Path:
    from facerec.datasets.paths import lfw_protocol_file

    return lfw_protocol_file("pairs.txt", lfw)


def _run(pairs, root: Path, opts: EvalSettings, title: str, extra: dict) -> None:
    """Score ``pairs`` of images under ``root`` with ``opts`` and print (or write) the report."""
    import os

    from facerec.evaluation.lfw import evaluate_with
    from facerec.plotting.roc import save_roc_png
    from facerec.evaluation.runner import EmbeddingRunner
    from facerec.workflows.ray_engine import make_engine

    eng = make_engine(opts.engine, opts.address)  # Ray starts only if the cache lacks something
    workers = opts.workers or (0 if eng else min(8, os.cpu_count() or 1))
    runner = EmbeddingRunner(opts.spec, pick=opts.pick, cache_dir=opts.cache_dir, use_cache=not opts.no_cache,
                             workers=workers, engine=eng)
    with progress() as bar:
        task = bar.add_task("embedding", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        rep, ev, _ = evaluate_with(runner, pairs, root, on_progress=tick)
    if eng is not None and eng.rows_per_node:
        say(eng.summary())
    rep.update(extra, backend=runner.backend)
    if opts.spec.min_score is not None or opts.spec.min_face:
        rep.update(min_score=opts.spec.min_score, min_face=opts.spec.min_face)
    if opts.roc is not None:
        save_roc_png(opts.roc, {f"{rep['model']} ({rep['accuracy_mean']:.2%})": (ev.roc_fpr, ev.roc_tpr)}, title)
        rep["roc_png"] = str(opts.roc)
    if opts.as_json:
        print_json(rep)
    else:
        _print_report(rep, title)
    if rep["failed_images"]:
        report_failures(sorted(rep["failed_images"].items()))


def _print_report(rep: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    table = Table(title=f"{title}: per fold")
    for col in ("fold", "pairs", "threshold", "accuracy", "VAL@FAR=1e-3", "FAR"):
        table.add_column(col, justify="right")
    for f in rep["folds"]:
        table.add_row(str(f["fold"] + 1), str(f["pairs"]), f"{f['threshold']:.4f}", f"{f['accuracy']:.2%}",
                      f"{f['val']:.2%}", f"{f['far']:.4f}")
    out.print(table)
    out.print(f"model {rep['model']}  detector {rep['detector']}  flip {rep['flip']}  face {rep['pick']}")
    out.print(f"accuracy {rep['accuracy_mean']:.2%} ± {rep['accuracy_std']:.2%}   AUC {rep['auc']:.5f}   "
              f"EER {rep['eer']:.2%}")
    out.print(f"VAL@FAR=1e-3 {rep['val_far_1e-3']:.2%} ± {rep['val_far_1e-3_std']:.2%} (FAR {rep['far_mean']:.5f})   "
              f"TAR@FAR=1e-2 {rep['tar_far_1e-2']:.2%}   TAR@FAR=1e-3 {rep['tar_far_1e-3']:.2%}")
    out.print(f"threshold (mean over folds) {rep['threshold_mean']:.4f}   pairs {rep['pairs']}   "
              f"images {rep['images']}   no face {rep['no_face_count']}")
    for p in rep["no_face_images"]:
        out.print(f"  no face: {p}", markup=False, highlight=False)
    if rep["skipped_pairs"]:
        out.print(f"[yellow]{rep['skipped_pairs']} pair(s) skipped: unreadable images[/yellow]")


def _run_options(pick_default: str, pick_note: str) -> Callable[..., None]:
    """The options of both evaluate commands (read by :meth:`EvalSettings.from_command`); ``--pick``'s default."""
    def options(
        profile: str = ProfileOpt, model: Optional[str] = ModelOverride, detector: Optional[str] = DetectorOverride,
        flip: Optional[bool] = FlipOverride,
        min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
        pick: str = typer.Option(pick_default, "--pick", help=_pick_help(pick_note)),
        select: Optional[str] = SelectAlias,
        workers: int = WorkersOpt, workers_alias: Optional[int] = WorkersAlias, cache_dir: Optional[Path] = CacheDirOpt,
        no_cache: bool = NoCacheOpt, roc: Optional[Path] = RocOpt, offline: bool = OfflineOpt, as_json: bool = JsonOpt,
        engine: str = EngineOpt, address: Optional[str] = AddressOpt,
        backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt,
    ) -> None:
        """Declares the options only."""

    return options


@evaluate_app.command("lfw")
@with_options(_run_options("center", "center: the LFW subject"))
def evaluate_lfw(
    ctx: typer.Context,
    lfw: Optional[Path] = typer.Option(None, "--lfw", help="The LFW image folder (Name/Name_0001.jpg) "
                                       "[default: lfw/ in $FACEREC_DATA, ./data or ../shared/data]."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="pairs.txt (default: next to --lfw)."),
) -> None:
    """The LFW View 2 protocol: 10 folds, threshold chosen on the other 9, accuracy ± std, AUC, EER, VAL@FAR."""
    from facerec.datasets.paths import lfw_dir
    from facerec.evaluation.pairs import read_pairs

    lfw = lfw or lfw_dir()
    if not lfw.is_dir():
        raise FacerecError(f"{lfw}: no such folder")
    pairs_file = pairs or _find_pairs(lfw)
    opts = EvalSettings.from_command(ctx)
    _run(read_pairs(pairs_file), lfw, opts, f"LFW {pairs_file.name}",
         {"pairs_file": str(pairs_file), "profile": ctx.params["profile"]})


@evaluate_app.command("pairs")
@with_options(_run_options("largest", "largest"))
def evaluate_pairs(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="Folder of images (folder per person when pairs are generated)."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="Pairs file; default: generate pairs from the folders."),
    per_fold: int = typer.Option(300, "--per-fold", min=1, help="Matched (and as many mismatched) pairs per fold."),
    folds: int = typer.Option(10, "--folds", min=2, help="Folds of disjoint people when generating."),
    seed: int = typer.Option(0, "--seed", help="Seed for generated pairs."),
    save_pairs: Optional[Path] = typer.Option(None, "--save-pairs", help="Write the generated pairs here."),
) -> None:
    """Verification accuracy on your own data: a pairs file, or pairs generated from a folder per person."""
    from facerec.evaluation.pairs import generate_pairs, read_pairs, write_pairs

    if not dataset.is_dir():
        raise FacerecError(f"{dataset}: no such folder")
    if pairs is not None:
        plist, source = read_pairs(pairs), str(pairs)
    else:
        plist = generate_pairs(dataset, per_fold=per_fold, n_folds=folds, seed=seed)
        source = f"generated (seed {seed}, {len({p.fold for p in plist})} folds)"
        if save_pairs is not None:
            write_pairs(save_pairs, plist)
    opts = EvalSettings.from_command(ctx)
    _run(plist, dataset, opts, dataset.name, {"pairs_file": source, "profile": ctx.params["profile"]})


@datasets_app.command("download")
def download(
    name: str = typer.Argument(..., help="Dataset name: lfw."),
    directory: Path = typer.Option(Path("data"), "--dir", help="Where to put it (creates DIR/lfw and the pairs files)."),
    variant: str = typer.Option("deepfunneled", "--variant", help="deepfunneled, funneled or original."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Mirror serving the same file names."),
    as_json: bool = JsonOpt,
) -> None:
    """Fetch a dataset with checksums verified, resuming partial downloads, extracted to what evaluate reads."""
    from facerec.datasets.download import download_lfw

    if name.lower() != "lfw":
        raise FacerecError(f"unknown dataset {name!r}; available: lfw")
    with progress() as bar:
        tasks: dict[str, int] = {}

        def tick(done: int, total: Optional[int], label: str = "") -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        result = download_lfw(directory, variant=variant, base_url=base_url, on_progress=tick)
    if as_json:
        print_json(result)
    else:
        console.print(f"LFW ({variant}) ready: images in {result['images']}, pairs in {result['pairs']}")

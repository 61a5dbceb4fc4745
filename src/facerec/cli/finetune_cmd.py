"""``facerec finetune``: train a triplet-loss head on a folder-per-person dataset (``finetune`` extra)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from facerec.cli.common import BackendOpt, DetectorOpt, DeviceOpt, JsonOpt, OfflineOpt, console, pipeline_spec, print_json
from facerec.errors import FacerecError


def finetune(ctx: typer.Context, data: Path = typer.Argument(..., help="A folder-per-person dataset, or a labelled embeddings file "
                                                   "('facerec embed DATASET') made by the base model."),
             out: Path = typer.Option(..., "--out", "-o", help="Folder for the head: head.onnx + card.json."),
             model: str = typer.Option("arcface_mbf", "--model", "-m", help="Base embedder (one registry model)."),
             detector: str = DetectorOpt,
             flip: bool = typer.Option(False, "--flip/--no-flip", help="Flip augmentation of the base embeddings."),
             offline: bool = OfflineOpt,
             jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes for embedding."),
             dim: int = typer.Option(0, "--dim", min=0, help="Output dimension (0: the base model's; "
                                                             "results/finetune.md: the only setting that helped)."),
             hidden: int = typer.Option(512, "--hidden", min=1, help="Width of the residual branch."),
             margin: float = typer.Option(0.2, "--margin", min=0.0, help="Triplet margin (squared L2 on unit vectors)."),
             people: int = typer.Option(32, "--people", min=2, help="P: people per batch."),
             images: int = typer.Option(4, "--images", min=2, help="K: images per person per batch."),
             epochs: int = typer.Option(60, "--epochs", min=1, help="Most epochs."),
             patience: int = typer.Option(8, "--patience", min=1, help="Stop after this many epochs without a "
                                                                       "better validation accuracy."),
             lr: float = typer.Option(3e-4, "--lr", min=0.0, help="AdamW learning rate."),
             val_fraction: float = typer.Option(0.15, "--val-fraction", min=0.0, max=0.9,
                                                help="Share of the people held out for validation (0: validate "
                                                     "on the training people)."),
             seed: int = typer.Option(0, "--seed", help="Seed of the split, the batches and the initial weights."),
             keep_worse: bool = typer.Option(False, "--keep-worse", help="Exit 0 even when the head does not beat "
                                                                         "the base model on the validation people."),
             json_out: bool = JsonOpt, backend: Optional[str] = BackendOpt,
             device: Optional[str] = DeviceOpt) -> None:
    """Fine-tune an embedder on your faces: a small head trained with the triplet loss (FaceNet).

    Use the result as --model 'BASE>OUT' (quoted) in verify, embed, gallery, evaluate and serve.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        raise FacerecError("facerec finetune needs PyTorch: pip install 'facerec[finetune]'") from None
    from facerec.finetune.train import TrainConfig
    from facerec.finetune.workflow import check_base_model, finetune_table

    check_base_model(model)
    if out.exists() and not out.is_dir():
        raise FacerecError(f"{out}: exists and is not a folder")
    config = TrainConfig(dim=dim, hidden=hidden, margin=margin, people_per_batch=people, images_per_person=images,
                         epochs=epochs, patience=patience, lr=lr, val_fraction=val_fraction, seed=seed)
    table = _base_embeddings(data, pipeline_spec(ctx), jobs, val_fraction)
    with _epoch_bar(epochs) as on_epoch:
        result, card = finetune_table(table, model, out, config, source=str(data.resolve()), on_epoch=on_epoch)
    name = f"{model}>{out}"
    worse = result.val_accuracy <= result.val_accuracy_before
    if json_out:
        print_json({"out": str(out), "model": name, "card": card, "beats_base": not worse})
    else:
        _summary(card, result, out, name)
    if worse and not keep_worse:
        raise FacerecError(f"the head does not beat the base model on the validation people (accuracy "
                           f"{result.val_accuracy_before:.4f} -> {result.val_accuracy:.4f}): better not used; it is "
                           f"in {out} for inspection (--keep-worse accepts it)")


def _summary(card: dict, result, out: Path, name: str) -> None:
    console.print(f"head {card['head_sha256'][:12]} -> {out}: {card['dim']}-d, best epoch {result.best_epoch}, "
                  f"validation accuracy {result.val_accuracy_before:.4f} (base) -> {result.val_accuracy:.4f}, "
                  f"threshold {result.threshold:.4f}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"use it as: --model '{name}'", markup=False, highlight=False, soft_wrap=True)


def _base_embeddings(data: Path, spec, jobs: Optional[int], val_fraction: float):
    """Labelled base embeddings: the given file, or the dataset's, computed once and cached."""
    from collections import Counter

    from facerec.cli.dataset_cmd import _labelled_embeddings
    from facerec.finetune.train import validation_people
    from facerec.finetune.workflow import base_cache_path
    from facerec.io.embeddings import load_embeddings
    from facerec.workflows.align_dataset import read_settings
    from facerec.workflows.embed_dataset import collect_items

    cached = None
    if data.is_dir():
        items = collect_items([data], labels=True)
        counts = Counter(label for _, label in items)
        validation_people(sum(n >= 2 for n in counts.values()), val_fraction)  # fail before embedding anything
        cached = base_cache_path(items, {"model": spec.model, "detector": spec.detector, "flip": spec.flip,
                                         "aligned": read_settings(data)})
        if cached.is_file():
            console.print(f"base embeddings from the cache: {cached}", markup=False, highlight=False, soft_wrap=True)
            return load_embeddings(cached)
    return _labelled_embeddings(data, spec, jobs, 1, cached)


def _epoch_bar(epochs: int):
    """A Rich bar over epochs showing the training loss and the validation accuracy."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar():
        progress = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[stats]}"), console=console)
        task = progress.add_task("training", total=epochs, stats="")
        with progress:
            def on_epoch(s) -> None:
                progress.update(task, completed=s.epoch, stats=f"loss {s.loss:.4f}  val loss {s.val_loss:.4f}  "
                                                                f"val acc {s.val_accuracy:.4f}")
                if s.epoch:
                    progress.console.print(f"epoch {s.epoch:3d}  loss {s.loss:.4f}  val loss {s.val_loss:.4f}  "
                                           f"val acc {s.val_accuracy:.4f}", markup=False, highlight=False)
            yield on_epoch
            progress.update(task, total=progress.tasks[0].completed)

    return bar()


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)

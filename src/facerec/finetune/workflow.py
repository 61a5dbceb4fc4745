"""``facerec finetune``: labelled base embeddings -> trained head -> ``head.onnx`` + ``card.json``.

The base embeddings of a dataset folder are computed once by the usual batch path
(``facerec.workflows.embed_dataset``) and kept under ``~/.cache/facerec/finetune``, keyed by the
model settings and every file's path, size and modification time: a second run with other
hyper-parameters or another seed trains straight away.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from facerec.errors import FacerecError, ModelError
from facerec.finetune.export import export_head
from facerec.finetune.train import EpochStats, TrainConfig, TrainResult, train_head
from facerec.io.embeddings import EmbeddingTable


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/facerec/finetune`` (``~/.cache/...``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facerec" / "finetune"


def base_cache_path(items: list[tuple[str, Optional[str]]], settings: dict) -> Path:
    """Where the base embeddings of these labelled files, made with these settings, are kept."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path, label in items:
        st = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return cache_dir() / f"{digest.hexdigest()[:24]}.npz"


def check_base_model(model: str) -> str:
    """The base must be one registry embedder (no ensemble, no head); returns its weights' SHA-256."""
    from facerec.models.reference import MemberRef, parse_model
    from facerec.models.registry import get_spec

    ref = parse_model(model)
    if ref.members != (MemberRef(ref.members[0].name),) or ref.flip:
        raise ModelError(f"--model {model!r}: fine-tune one registry embedder (e.g. arcface_mbf), "
                         "not an ensemble or a fine-tuned model")
    spec = get_spec(model)
    if spec.task != "embedder" or spec.raw:
        raise ModelError(f"{model!r} is not an embedder")
    return spec.sha256


def finetune_table(table: EmbeddingTable, model: str, out: Path, config: Optional[TrainConfig] = None,
                   source: str = "", on_epoch: Optional[Callable[[EpochStats], None]] = None) -> tuple[TrainResult, dict]:
    """Train a head on the labelled base embeddings in ``table`` and export it to ``out``."""
    from facerec.models.reference import parse_model

    config = config or TrainConfig()
    base_sha = check_base_model(model)
    made = parse_model(table.model)
    made_by, flip = made.name, made.flip
    if made_by != model:
        raise FacerecError(f"these embeddings were made by {table.model!r}, not {model!r}")
    if table.labels is None:
        raise FacerecError("fine-tuning needs labelled embeddings: a folder-per-person dataset")
    result = train_head(table.vectors, table.labels, config, on_epoch)
    import torch

    from facerec.version import __version__

    card = {
        "base_model": model, "base_sha256": base_sha, "base_flip": flip,
        "input_dim": int(table.vectors.shape[1]), "dim": int(result.head.project.weight.shape[0]),
        "architecture": f"y = P x + W2 relu(W1 x + b1) + b2, hidden {config.hidden}; cosine of L2-normalised y",
        "loss": f"triplet, squared L2 on unit vectors, margin {config.margin}, online semi-hard mining, "
                f"batches of {config.people_per_batch} people x {config.images_per_person} images",
        "config": config.__dict__.copy(), "seed": config.seed,
        "data": {"source": source, "embeddings_model": table.model},
        "threshold": round(result.threshold, 6),
        "threshold_note": "best same/different accuracy on pairs of the validation people" if config.val_fraction > 0
        else "best same/different accuracy on pairs of the training people (no validation split)",
        "training": result.summary(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "facerec_version": __version__, "torch_version": torch.__version__,
    }
    export_head(result.head, out, card, sample=np.asarray(table.vectors[:64]))
    return result, json.loads((Path(out) / "card.json").read_text())

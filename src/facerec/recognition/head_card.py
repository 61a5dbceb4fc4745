"""A trained head on disk: ``head.onnx`` and ``card.json`` (what it is, how it was trained, its SHA-256).

Reading and checking a card needs no PyTorch. The card names the base model (and the SHA-256 of
its weights) so a head is never run on top of another model, and records the SHA-256 of
``head.onnx``, checked on every load, so a swapped or damaged file is refused.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from facerec.errors import ModelError
from facerec.io.hashing import sha256_file

CARD_FORMAT = "facerec-head/1"
HEAD_FILE = "head.onnx"
CARD_FILE = "card.json"
MAX_FILE_BYTES = 256 * 2**20
"""A head and its card are a few MB; larger files are refused before they are hashed or parsed."""


@dataclass(frozen=True)
class HeadCard:
    """The parts of a card that running a head needs (the whole JSON is in ``raw``)."""

    folder: Path
    base_model: str
    base_sha256: str
    input_dim: int
    dim: int
    threshold: float
    head_sha256: str
    raw: dict

    @property
    def head_path(self) -> Path:
        return self.folder / HEAD_FILE

    @property
    def short_id(self) -> str:
        """What the embedder id carries: the first 12 hex digits of the head's SHA-256."""
        return f"ft-{self.head_sha256[:12]}"


def read_card(folder: Path) -> HeadCard:
    """Read ``folder/card.json`` and check ``head.onnx`` against its SHA-256 (:class:`ModelError` if not)."""
    folder = Path(folder)
    card_path, head_path = folder / CARD_FILE, folder / HEAD_FILE
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such head folder (expected {HEAD_FILE} and {CARD_FILE} written by 'facerec finetune')")
    if not card_path.is_file() or not head_path.is_file():
        raise ModelError(f"{folder}: not a fine-tuned head (needs {HEAD_FILE} and {CARD_FILE})")
    for path in (card_path, head_path):
        if not path.resolve().is_file() or path.stat().st_size > MAX_FILE_BYTES:
            raise ModelError(f"{path}: not a regular file of at most {MAX_FILE_BYTES // 2**20} MB")
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"a JSON {type(raw).__name__}, not an object")
        if raw.get("format") != CARD_FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, expected {CARD_FORMAT!r}")
        card = HeadCard(folder=folder, base_model=str(raw["base_model"]), base_sha256=str(raw.get("base_sha256", "")),
                        input_dim=int(raw["input_dim"]), dim=int(raw["dim"]), threshold=float(raw["threshold"]),
                        head_sha256=str(raw["head_sha256"]), raw=raw)
        if not 0 < card.input_dim <= 65536 or not 0 < card.dim <= 65536:
            raise ValueError(f"input_dim {card.input_dim} and dim {card.dim} must be positive")
        if not math.isfinite(card.threshold) or not -1.0 <= card.threshold <= 1.0:
            raise ValueError(f"threshold {card.threshold} is not a similarity in [-1, 1]")
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:
        raise ModelError(f"{card_path}: not a valid head card ({str(exc)[:200]})") from None
    actual = sha256_file(head_path)
    if actual != card.head_sha256:
        raise ModelError(f"{head_path}: SHA-256 {actual[:12]}... does not match its card ({card.head_sha256[:12]}...); "
                         "the head was changed or damaged")
    return card

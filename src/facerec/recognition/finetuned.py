"""A fine-tuned model as an embedder: ``BASE>HEAD_DIR`` runs the base model, then the ONNX head (the head runner).

``arcface_mbf>my_head/`` (quote it in a shell: ``>`` redirects) is accepted wherever a model name
is: alone, or as an ensemble member (``arcface_mbf>my_head/:0.5+sface:0.5``). Its id,
``arcface_mbf>ft-<first 12 hex of the head's SHA-256>``, names the vector space, so a gallery
made with one head refuses vectors of another. No PyTorch here: the head runs in onnxruntime.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.errors import IncompatibleEmbeddingsError, ModelError
from facerec.inference import open_session
from facerec.models.reference import HEAD_SEPARATOR, MemberRef, ModelRef, parse_model
from facerec.recognition.base import Embedder, l2_normalize
from facerec.recognition.head_card import HeadCard, read_card


class Head:
    """A trained head on its own: its card and an onnxruntime session (one CPU thread: a few small products)."""

    def __init__(self, folder: Path) -> None:
        self.card: HeadCard = read_card(folder)
        try:
            self.session = open_session(self.card.head_path, backend="onnxruntime", threads=1)
            probe = self.session.run(np.zeros((1, self.card.input_dim), np.float32))[0]
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime raises its own types for a file that is not a model
            raise ModelError(f"{self.card.head_path}: not a head model onnxruntime can run "
                             f"({type(exc).__name__})") from None
        if probe.shape != (1, self.card.dim):
            raise ModelError(f"{self.card.head_path}: gives {probe.shape} for one {self.card.input_dim}-d input, "
                             f"its card says {self.card.dim}-d vectors")

    def project(self, base_vectors: np.ndarray) -> np.ndarray:
        """Head output for base-model unit vectors, L2-normalised: (n, dim)."""
        x = np.ascontiguousarray(base_vectors, np.float32).reshape(-1, self.card.input_dim)
        if not len(x):
            return np.zeros((0, self.card.dim), np.float32)
        return l2_normalize(self.session.run(x)[0])


class FinetunedEmbedder(Embedder):
    """The base embedder's unit vectors, projected by a trained head and re-normalised."""

    def __init__(self, base: Embedder, head: Head, threshold: Optional[float] = None) -> None:
        """``threshold``: overrides the head's calibrated one (its card's)."""
        card = head.card
        if card.base_model != base.name:
            raise ModelError(f"{card.folder}: this head was trained on {card.base_model!r}, not {base.name!r}")
        base_sha = base.spec.sha256 if base.spec is not None else ""
        if card.base_sha256 and base_sha and card.base_sha256 != base_sha:
            raise ModelError(f"{card.folder}: trained on other {base.name} weights (SHA-256 {card.base_sha256[:12]}...)")
        if card.input_dim != base.dim:
            raise ModelError(f"{card.folder}: head takes {card.input_dim}-d vectors, {base.name} gives {base.dim}")
        self.base, self.head, self.card = base, head, card
        self.spec, self.input_size, self.flip = base.spec, base.input_size, base.flip
        self.name = f"{base.name}{HEAD_SEPARATOR}{card.short_id}"
        self.dim = card.dim
        self.threshold_override = card.threshold if threshold is None else threshold

    def project(self, base_vectors: np.ndarray) -> np.ndarray:
        """Head output for base-model unit vectors, L2-normalised: (n, dim)."""
        return self.head.project(base_vectors)

    def _forward(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return self.project(self.base.embed(crops))

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return self.project(self.base.embed(list(crops)))

    def embed_faces(self, image: np.ndarray, landmarks: Sequence[np.ndarray]) -> np.ndarray:
        return self.project(self.base.embed_faces(image, landmarks))


def build_finetuned(base: Embedder, folder: Path, threshold: Optional[float] = None) -> FinetunedEmbedder:
    """The embedder for ``BASE>HEAD_DIR``: the head in ``folder`` on top of ``base``."""
    return FinetunedEmbedder(base, Head(folder), threshold)


def head_view(folder: Path, table) -> tuple[str, np.ndarray]:
    """``(embedder id, vectors)``: a table of base-model embeddings seen through the head in ``folder``."""
    head = Head(folder)
    made_by = parse_model(table.model)
    if made_by.name != head.card.base_model:
        raise IncompatibleEmbeddingsError(f"{folder}: the head takes {head.card.base_model} embeddings, "
                                          f"these were made by {table.model!r}")
    seen = ModelRef((MemberRef(head.card.base_model, head.card.short_id),), made_by.flip)
    return str(seen), head.project(table.vectors)

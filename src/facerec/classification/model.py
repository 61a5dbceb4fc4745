"""A trained face classifier: class names, the embedder it was trained on, the classifier's arrays.

Saved as one ``.npz`` of plain arrays plus a JSON header (no pickle; loaded with
``allow_pickle=False``). It refuses embeddings from any other embedder.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.classification.classifiers import CLASSIFIERS, Classifier, class_centroids
from facerec.decisions import UNKNOWN, Prediction
from facerec.errors import FacerecError, IncompatibleEmbeddingsError
from facerec.io.text import safe_text
from facerec.io.npz import read_npz

FORMAT = "facerec-classifier"
VERSION = 1


@dataclass
class FaceClassifier:
    """A classifier plus what it needs to be used safely: class names, embedder id, centroids."""

    classifier: Classifier
    classes: list[str]
    embedder: str
    dim: int
    centroids: np.ndarray
    info: dict = field(default_factory=dict)
    min_probability: float = 0.0
    """Open set: below this top-1 probability the answer is ``unknown`` (chosen on held-out data by training)."""
    min_similarity: Optional[float] = None
    """Open set: below this cosine similarity to the person's centroid, ``unknown`` (the embedder's
    calibrated verification threshold; None: the caller's analyzer supplies it)."""

    @classmethod
    def fit(cls, classifier: Classifier, vectors: np.ndarray, labels: Sequence[str], embedder: str) -> "FaceClassifier":
        """Train ``classifier`` on ``vectors`` labelled by name."""
        names = sorted(set(labels))
        if len(names) < 2:
            raise FacerecError(f"need at least two people to train a classifier, got {len(names)}")
        x = np.asarray(vectors, np.float32)
        classifier.fit(x, np.asarray(list(labels), dtype=str))
        classes = [str(c) for c in classifier.classes_]
        y = np.searchsorted(classifier.classes_, np.asarray(list(labels), dtype=str))
        centroids = class_centroids(x, y, len(classes)).astype(np.float32)
        return cls(classifier, classes, embedder, int(x.shape[1]), centroids)

    @property
    def kind(self) -> str:
        return self.classifier.kind

    def require_model(self, model: str, dim: Optional[int] = None) -> None:
        """Refuse vectors from another embedder (or of another dimension)."""
        if model != self.embedder:
            raise IncompatibleEmbeddingsError(
                f"this classifier was trained on {self.embedder!r} embeddings, not {model!r}")
        if dim is not None and dim != self.dim:
            raise IncompatibleEmbeddingsError(f"this classifier takes {self.dim}-D embeddings, not {dim}-D")

    def predict_proba(self, vectors: np.ndarray, model: str) -> np.ndarray:
        """(n, C) probabilities for vectors made by ``model`` (checked)."""
        x = np.atleast_2d(np.asarray(vectors, np.float32))
        self.require_model(model, x.shape[1])
        return self.classifier.predict_proba(x)

    def predict(self, vectors: np.ndarray, model: str, min_probability: Optional[float] = None,
                min_similarity: Optional[float] = None, top: int = 3, open_set: bool = False, *,
                threshold: Optional[float] = None) -> list[Prediction]:
        """Name every vector, or ``unknown`` when its probability is below ``min_probability`` or its
        similarity to that person's centroid is below ``min_similarity``.

        With ``open_set`` the floors not given default to the model's own (:attr:`min_probability`,
        :attr:`min_similarity`); without it, to none (closed set: always a name). ``threshold``: the
        old name of ``min_probability``.
        """
        min_probability = threshold if min_probability is None else min_probability
        if min_probability is None:
            min_probability = self.min_probability if open_set else 0.0
        if min_similarity is None:
            min_similarity = self.min_similarity if open_set and self.min_similarity is not None else -1.0
        x = np.atleast_2d(np.asarray(vectors, np.float32))
        proba = self.predict_proba(x, model)
        sims = x @ self.centroids.T
        out = []
        for row, sim in zip(proba, sims):
            order = np.argsort(-row)[:max(1, top)]
            k = int(order[0])
            p, s = float(row[k]), float(sim[k])
            accepted = p >= min_probability and s >= min_similarity
            out.append(Prediction(name=self.classes[k] if accepted else UNKNOWN, similarity=s, threshold=min_similarity,
                                  decision=accepted, probability=p, best=self.classes[k],
                                  top=[(self.classes[int(j)], float(row[j])) for j in order],
                                  min_probability=min_probability))
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: os.PathLike | str) -> Path:
        """Write the model atomically as ``.npz`` (arrays + JSON header)."""
        from facerec.io.atomic import write_atomic

        path = Path(path)
        if path.suffix != ".npz":
            raise FacerecError(f"{path}: a classifier is saved as .npz")
        header = {"format": FORMAT, "version": VERSION, "kind": self.kind, "params": self.classifier.params(),
                  "embedder": self.embedder, "dim": self.dim, "info": self.info,
                  "open_set": {"min_probability": self.min_probability, "min_similarity": self.min_similarity}}
        arrays = {f"clf_{k}": np.asarray(v) for k, v in self.classifier.arrays().items()}
        buf = io.BytesIO()
        np.savez_compressed(buf, header=np.array(json.dumps(header)), classes=np.array(self.classes, dtype=str),
                            centroids=self.centroids, **arrays)
        write_atomic(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path: os.PathLike | str) -> "FaceClassifier":
        """Read a model written by :meth:`save` (never unpickles)."""
        path = Path(path)
        header, classes, centroids, arrays = read_npz(path, "facerec classifier", lambda data: (
            json.loads(str(data["header"])), [str(c) for c in data["classes"]], data["centroids"].astype(np.float32),
            {k[4:]: data[k] for k in data.files if k.startswith("clf_")}), missing="classifier file")
        name = safe_text(path)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise FacerecError(f"{name}: not a facerec classifier")
        version = header.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise FacerecError(f"{name}: classifier format version {version!r} is not valid")
        if version > VERSION:
            raise FacerecError(f"{name}: classifier format {version} is newer than this facerec")
        kind = header.get("kind")
        if not isinstance(kind, str) or kind not in CLASSIFIERS:
            raise FacerecError(f"{name}: unknown classifier kind {safe_text(repr(kind))}")
        try:
            return cls._checked(header, classes, centroids, arrays)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise FacerecError(f"{name}: inconsistent classifier file ({safe_text(exc) or type(exc).__name__})") from None

    @classmethod
    def _checked(cls, header: dict, classes: list[str], centroids: np.ndarray, arrays: dict) -> "FaceClassifier":
        """Build from a file's parts, checking that they fit together (one ValueError otherwise)."""
        embedder, dim, params, info = header.get("embedder"), header.get("dim"), header.get("params", {}), header.get("info", {})
        if not isinstance(embedder, str) or not embedder:
            raise ValueError("no embedder id")
        if not isinstance(dim, int) or isinstance(dim, bool) or not 0 < dim <= 65536:
            raise ValueError(f"dim must be a positive integer, not {dim!r}")
        if not isinstance(params, dict) or not isinstance(info, dict):
            raise ValueError("params and info must be objects")
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise ValueError("needs two or more distinct class names")
        if centroids.shape != (len(classes), dim) or not np.isfinite(centroids).all():
            raise ValueError(f"centroids of shape {centroids.shape}, expected {(len(classes), dim)}")
        clf = CLASSIFIERS[header["kind"]].from_arrays(arrays, params, np.array(classes, dtype=str))
        probe = np.vstack([centroids[:2], np.zeros((1, dim), np.float32)])
        proba = np.asarray(clf.predict_proba(probe))
        if proba.shape != (3, len(classes)) or not np.isfinite(proba).all():
            raise ValueError(f"the classifier's arrays do not fit {len(classes)} classes of dimension {dim}")
        open_set = header.get("open_set") or {}
        min_prob, min_sim = open_set.get("min_probability", 0.0), open_set.get("min_similarity")
        if not isinstance(min_prob, (int, float)) or not isinstance(min_sim, (int, float, type(None))):
            raise ValueError("open_set floors must be numbers")
        return cls(clf, classes, embedder, dim, centroids, info, float(min_prob),
                   None if min_sim is None else float(min_sim))

"""Train a classifier on labelled embeddings: filter small classes, split per class, fit, evaluate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from facerec.classification.classifiers import make_classifier
from facerec.classification.evaluate import ClassifierReport, evaluate_classifier
from facerec.classification.model import FaceClassifier
from facerec.classification.split import classes_with_min, stratified_split
from facerec.errors import FacerecError
from facerec.io.embeddings import EmbeddingTable


@dataclass
class TrainResult:
    """The trained model and its test-set figures (``evaluation`` is None without a test set)."""

    model: FaceClassifier
    evaluation: Optional[ClassifierReport]
    train_images: int
    test_images: int

    def to_dict(self) -> dict:
        ev = self.evaluation
        return {"classifier": self.model.kind, "embedder": self.model.embedder, "classes": len(self.model.classes),
                "train_images": self.train_images, "test_images": self.test_images,
                "test_accuracy": ev.accuracy if ev else None, "top5_accuracy": ev.top5 if ev else None,
                "per_class": ev.per_class if ev else []}


KNOWN_REJECT = 0.01
"""Share of correctly named held-out faces the probability floor may turn into ``unknown``."""


def probability_floor(model: FaceClassifier, vectors: np.ndarray, labels: list[str], embedder: str,
                      known_reject: float = KNOWN_REJECT) -> float:
    """The open-set probability floor: the ``known_reject`` quantile of the top-1 probabilities of the
    held-out faces the model names correctly.

    With fewer than ``1 / known_reject`` such faces that tail cannot be estimated, so the floor is
    moved toward chance (1 / classes) in proportion to how few there are (0 faces: chance itself).
    """
    chance = 1.0 / len(model.classes)
    preds = model.predict(vectors, embedder, top=1)
    right = np.array([p.probability for p, truth in zip(preds, labels) if p.name == truth])
    if not len(right):
        return chance
    trust = min(1.0, len(right) * known_reject)
    return float(chance + (np.quantile(right, known_reject) - chance) * trust)


def train_classifier(table: EmbeddingTable, kind: str = "svm", min_images_per_class: int = 2,
                     test_ratio: float = 0.3, seed: int = 0, min_similarity: Optional[float] = None) -> TrainResult:
    """Keep people with at least ``min_images_per_class`` vectors, hold out ``test_ratio`` of each
    person's vectors (seeded), train ``kind`` on the rest and score it on the held-out ones.

    The held-out faces also set the model's open-set probability floor (:func:`probability_floor`);
    ``min_similarity`` (the embedder's calibrated threshold) is stored as its similarity floor.
    """
    if table.labels is None:
        raise FacerecError("these embeddings have no labels: embed a folder-per-person dataset")
    if not 0.0 <= test_ratio < 1.0:
        raise FacerecError(f"--test-ratio must be at least 0 and below 1, got {test_ratio}")
    keep = set(classes_with_min(table.labels, max(1, min_images_per_class)))
    if len(keep) < 2:
        raise FacerecError(f"fewer than two people have at least {min_images_per_class} images")
    rows = np.array([i for i, name in enumerate(table.labels) if name in keep], np.int64)
    labels = [table.labels[i] for i in rows]
    vectors = table.vectors[rows]
    train, test = stratified_split(labels, test_ratio, seed)
    classifier = make_classifier(kind)
    if hasattr(classifier, "random_state"):
        classifier.set_params(random_state=seed)
    model = FaceClassifier.fit(classifier, vectors[train], [labels[i] for i in train], table.model)
    test_labels = [labels[i] for i in test]
    ev = evaluate_classifier(model, vectors[test], test_labels, table.model) if len(test) else None
    model.min_similarity = min_similarity
    if len(test):
        model.min_probability = probability_floor(model, vectors[test], test_labels, table.model)
    result = TrainResult(model, ev, len(train), len(test))
    model.info = {"min_images_per_class": min_images_per_class, "test_ratio": test_ratio, "seed": seed,
                  "train_images": len(train), "test_images": len(test),
                  "test_accuracy": ev.accuracy if ev else None,
                  "known_reject": KNOWN_REJECT if len(test) else None}
    return result

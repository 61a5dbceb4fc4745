"""Test-set figures: top-1 and top-5 accuracy, per-class precision and recall (worst first)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from facerec.classification.model import FaceClassifier
from facerec.decisions import UNKNOWN


@dataclass
class ClassifierReport:
    """How a classifier did on labelled vectors."""

    accuracy: float
    top5: float
    images: int
    per_class: list[dict] = field(default_factory=list)
    """``{"name", "precision", "recall", "support"}``, worst (lowest F1, then recall) first."""

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "top5_accuracy": self.top5, "images": self.images,
                "per_class": self.per_class}


def per_class_report(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> list[dict]:
    """Precision and recall of every class (``unknown`` predictions count as misses), worst first."""
    from sklearn.metrics import precision_recall_fscore_support

    classes = list(classes)
    p, r, f, s = precision_recall_fscore_support(list(truth), list(predicted), labels=classes, zero_division=0)
    rows = [{"name": c, "precision": round(float(pi), 4), "recall": round(float(ri), 4), "f1": round(float(fi), 4),
             "support": int(si)} for c, pi, ri, fi, si in zip(classes, p, r, f, s) if si > 0 or pi > 0]
    return sorted(rows, key=lambda d: (d["f1"], d["recall"], d["name"]))


def evaluate_classifier(model: FaceClassifier, vectors: np.ndarray, labels: Sequence[str], embedder: str,
             min_probability: float = 0.0, min_similarity: float = -1.0) -> ClassifierReport:
    """Score ``model`` on labelled vectors (labels outside the model's classes count as errors)."""
    labels = list(labels)
    if not labels:
        return ClassifierReport(float("nan"), float("nan"), 0)
    proba = model.predict_proba(vectors, embedder)
    preds = model.predict(vectors, embedder, min_probability=min_probability, min_similarity=min_similarity, top=1)
    names = [p.name for p in preds]
    lookup = {c: i for i, c in enumerate(model.classes)}
    truth_idx = np.array([lookup.get(t, -1) for t in labels])
    k = min(5, proba.shape[1])
    top5 = np.argsort(-proba, axis=1)[:, :k]
    hit5 = (top5 == truth_idx[:, None]).any(axis=1)
    accuracy = float(np.mean([n == t for n, t in zip(names, labels)]))
    classes = list(model.classes) + ([UNKNOWN] if UNKNOWN in names and UNKNOWN not in lookup else [])
    return ClassifierReport(accuracy, float(hit5.mean()), len(labels), per_class_report(labels, names, classes))

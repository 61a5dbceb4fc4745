"""Classifiers over face embeddings, each savable as plain arrays + JSON parameters.

``svm``: the FaceNet tutorial's linear SVM with probabilities (one-vs-rest LinearSVC, Platt
sigmoids fitted on out-of-fold decision values); ``logreg``: multinomial logistic regression;
``knn``: k nearest neighbours (cosine); ``centroid``: nearest class centroid (cosine) with a
softmax temperature. Prediction runs from the stored arrays (NumPy), so loading never unpickles.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Type

import numpy as np

from facerec.errors import FacerecError


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class Classifier(ABC):
    """Maps (n, d) unit embeddings to (n, C) class probabilities; classes are 0..C-1."""

    kind: ClassVar[str]
    n_classes: int = 0

    @abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int = 0) -> "Classifier":
        """Train on vectors ``x`` with class indices ``y``."""

    @abstractmethod
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, C) probabilities, each row summing to 1."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Everything needed for prediction, as arrays."""

    def params(self) -> dict:
        """JSON-able hyper-parameters."""
        return {}

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], params: dict, n_classes: int) -> "Classifier":
        """Rebuild from :meth:`arrays` and :meth:`params`."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)


class LinearSVM(Classifier):
    """One-vs-rest linear SVM (``LinearSVC``) with per-class Platt sigmoids, normalised across classes."""

    kind = "svm"

    def __init__(self, c: float = 1.0) -> None:
        self.c = float(c)

    def fit(self, x, y, n_classes, seed=0):
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.svm import LinearSVC

        if n_classes < 2:
            raise FacerecError("a classifier needs at least two classes")
        self.n_classes = n_classes
        svc = LinearSVC(C=self.c, random_state=seed).fit(x, y)
        self.w, self.b = _ovr(svc.coef_, svc.intercept_, n_classes)
        folds = min(3, int(np.bincount(y, minlength=n_classes).min()))
        if folds >= 2:  # decision values the model did not see in training, as Platt recommends
            cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
            scores = cross_val_predict(LinearSVC(C=self.c, random_state=seed), x, y, cv=cv, method="decision_function")
            scores = _ovr_scores(scores, n_classes)
        else:
            scores = x @ self.w.T + self.b
        self.platt = np.array([_fit_platt(scores[:, k], y == k) for k in range(n_classes)], np.float64)
        return self

    def decision(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float64) @ self.w.T + self.b

    def predict_proba(self, x):
        p = _sigmoid(self.platt[:, 0] * self.decision(x) + self.platt[:, 1])
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)

    def arrays(self):
        return {"coef": self.w, "intercept": self.b, "platt": self.platt}

    def params(self):
        return {"C": self.c}

    @classmethod
    def from_arrays(cls, arrays, params, n_classes):
        obj = cls(params.get("C", 1.0))
        obj.n_classes = n_classes
        obj.w, obj.b, obj.platt = (np.asarray(arrays[k], np.float64) for k in ("coef", "intercept", "platt"))
        return obj


def _ovr(coef: np.ndarray, intercept: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary estimators keep one row (for class 1): expand to one row per class."""
    coef, intercept = np.asarray(coef, np.float64), np.asarray(intercept, np.float64)
    if n_classes == 2 and coef.shape[0] == 1:
        return np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return coef, intercept


def _ovr_scores(scores: np.ndarray, n_classes: int) -> np.ndarray:
    if scores.ndim == 1:
        return np.stack([-scores, scores], axis=1)
    return scores


def _fit_platt(score: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid ``p = 1 / (1 + exp(-(a s + b)))`` with his smoothed targets (1998)."""
    from scipy.optimize import minimize

    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    t = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    s = score.astype(np.float64)

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * s + ab[1]
        p = _sigmoid(z)
        nll = float(np.sum(np.logaddexp(0, z) - t * z))
        g = p - t
        return nll, np.array([np.dot(g, s), g.sum()])

    res = minimize(loss, np.array([1.0, np.log((n_neg + 1.0) / (n_pos + 1.0)) * -1.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


class LogReg(Classifier):
    """Multinomial logistic regression (``LogisticRegression``, lbfgs)."""

    kind = "logreg"

    def __init__(self, c: float = 10.0) -> None:
        self.c = float(c)

    def fit(self, x, y, n_classes, seed=0):
        from sklearn.linear_model import LogisticRegression

        if n_classes < 2:
            raise FacerecError("a classifier needs at least two classes")
        self.n_classes = n_classes
        lr = LogisticRegression(C=self.c, max_iter=2000, random_state=seed).fit(x, y)
        w, b = np.asarray(lr.coef_, np.float64), np.asarray(lr.intercept_, np.float64)
        if n_classes == 2 and w.shape[0] == 1:  # softmax([-z/2, z/2]) == sigmoid(z)
            w, b = np.vstack([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
        self.w, self.b = w, b
        return self

    def predict_proba(self, x):
        return _softmax(np.asarray(x, np.float64) @ self.w.T + self.b)

    def arrays(self):
        return {"coef": self.w, "intercept": self.b}

    def params(self):
        return {"C": self.c}

    @classmethod
    def from_arrays(cls, arrays, params, n_classes):
        obj = cls(params.get("C", 10.0))
        obj.n_classes = n_classes
        obj.w, obj.b = np.asarray(arrays["coef"], np.float64), np.asarray(arrays["intercept"], np.float64)
        return obj


class KNN(Classifier):
    """k nearest training vectors by cosine similarity; votes weighted by similarity."""

    kind = "knn"

    def __init__(self, k: int = 5) -> None:
        self.k = int(k)

    def fit(self, x, y, n_classes, seed=0):
        self.n_classes = n_classes
        self.x, self.y = _unit(x), np.asarray(y, np.int64)
        return self

    def predict_proba(self, x):
        sims = _unit(x) @ self.x.T
        k = min(self.k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(sims), self.n_classes))
        rows = np.arange(len(sims))[:, None]
        np.add.at(votes, (np.broadcast_to(rows, top.shape), self.y[top]), np.maximum(sims[rows, top], 1e-6))
        return votes / votes.sum(axis=1, keepdims=True)

    def arrays(self):
        return {"vectors": self.x, "labels": self.y}

    def params(self):
        return {"k": self.k}

    @classmethod
    def from_arrays(cls, arrays, params, n_classes):
        obj = cls(params.get("k", 5))
        obj.n_classes = n_classes
        obj.x, obj.y = np.asarray(arrays["vectors"], np.float32), np.asarray(arrays["labels"], np.int64)
        return obj


class Centroid(Classifier):
    """Nearest class centroid by cosine; probabilities are a softmax of scaled similarities, the scale
    fitted on the training vectors."""

    kind = "centroid"

    def fit(self, x, y, n_classes, seed=0):
        from scipy.optimize import minimize_scalar

        self.n_classes = n_classes
        x = _unit(x)
        self.centroids = class_centroids(x, y, n_classes)
        sims = x @ self.centroids.T

        def nll(scale: float) -> float:
            z = scale * sims
            z = z - z.max(axis=1, keepdims=True)
            return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())

        self.scale = float(minimize_scalar(nll, bounds=(1.0, 200.0), method="bounded").x)
        return self

    def predict_proba(self, x):
        return _softmax(self.scale * (_unit(x).astype(np.float64) @ self.centroids.T))

    def arrays(self):
        return {"centroids": self.centroids}

    def params(self):
        return {"scale": self.scale}

    @classmethod
    def from_arrays(cls, arrays, params, n_classes):
        obj = cls()
        obj.n_classes = n_classes
        obj.centroids, obj.scale = np.asarray(arrays["centroids"], np.float64), float(params["scale"])
        return obj


def class_centroids(x: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, d) unit mean vector of every class."""
    sums = np.zeros((n_classes, x.shape[1]), np.float64)
    np.add.at(sums, y, _unit(x))
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


CLASSIFIERS: dict[str, Type[Classifier]] = {c.kind: c for c in (LinearSVM, LogReg, KNN, Centroid)}


def make_classifier(kind: str) -> Classifier:
    try:
        return CLASSIFIERS[kind]()
    except KeyError:
        raise FacerecError(f"unknown classifier {kind!r}; choose one of: {', '.join(CLASSIFIERS)}") from None

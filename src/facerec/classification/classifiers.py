"""Classifiers over face embeddings, each savable as plain arrays + JSON parameters.

``svm``: the FaceNet tutorial's linear SVM with probabilities (one-vs-rest LinearSVC, Platt
sigmoids fitted on out-of-fold decision values); ``logreg``: multinomial logistic regression;
``knn``: k nearest neighbours (cosine); ``centroid``: nearest class centroid (cosine) with a
softmax temperature. Prediction runs from the stored arrays (NumPy), so loading never unpickles.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Optional, Type

import numpy as np

from facerec.errors import FacerecError
from facerec.recognition.base import l2_normalize


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


class Classifier(ABC):
    """Maps (n, d) unit embeddings to (n, C) class probabilities, scikit-learn style.

    Hyperparameters (and ``random_state``) are set in ``__init__``; :meth:`fit` learns the classes
    from ``y`` (``classes_``, sorted, any labels) and sets the learned state, whose names end in
    an underscore. :meth:`arrays` / :meth:`from_arrays` save and restore it without pickle.
    """

    kind: ClassVar[str]
    classes_: np.ndarray
    state: ClassVar[dict[str, tuple[str, type]]]
    """The learned arrays as saved: name -> (attribute, dtype)."""
    settings: ClassVar[dict[str, tuple[str, Optional[Callable[[Any], Any]]]]] = {}
    """The saved parameters: name -> (attribute, conversion on load): the ``__init__`` hyperparameters,
    or learned numbers (attributes ending in ``_``: required on load)."""

    def fit(self, X: np.ndarray, y) -> "Classifier":
        """Learn the classes of ``y`` and train on vectors ``X``."""
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise FacerecError("a classifier needs at least two classes")
        self._fit(np.asarray(X, np.float32), codes.astype(np.int64), len(self.classes_))
        return self

    @abstractmethod
    def _fit(self, x: np.ndarray, y: np.ndarray, n_classes: int) -> None:
        """Train on vectors ``x`` with class indices ``y`` in ``0..n_classes-1``."""

    @property
    def n_classes_(self) -> int:
        return len(self.classes_)

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, C) probabilities in the order of ``classes_``, each row summing to 1."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most likely class of every row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def arrays(self) -> dict[str, np.ndarray]:
        """The learned state needed for prediction, as arrays."""
        return {key: getattr(self, attr) for key, (attr, _) in self.state.items()}

    def params(self) -> dict:
        """JSON-able hyperparameters (the ``__init__`` arguments) and learned numbers."""
        return {key: getattr(self, attr) for key, (attr, _) in self.settings.items()}

    def set_params(self, **params) -> "Classifier":
        """Change hyperparameters before :meth:`fit` (unknown names are an error)."""
        for name, value in params.items():
            if name.startswith("_") or name.endswith("_") or not hasattr(self, name):
                raise FacerecError(f"{self.kind} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], params: dict, classes: np.ndarray) -> "Classifier":
        """Rebuild a fitted classifier from :meth:`arrays`, :meth:`params` and its classes."""
        obj = cls()
        for key, (attr, convert) in cls.settings.items():
            if key in params or attr.endswith("_"):  # a hyperparameter not saved keeps its default
                setattr(obj, attr, params[key] if convert is None else convert(params[key]))
        obj.classes_ = np.asarray(classes)
        for key, (attr, dtype) in cls.state.items():
            setattr(obj, attr, np.asarray(arrays[key], dtype))
        return obj


class LinearSVM(Classifier):
    """One-vs-rest linear SVM (``LinearSVC``) with per-class Platt sigmoids, normalised across classes."""

    kind = "svm"
    state = {"coef": ("coef_", np.float64), "intercept": ("intercept_", np.float64), "platt": ("platt_", np.float64)}
    settings = {"C": ("C", float), "random_state": ("random_state", None)}

    def __init__(self, C: float = 1.0, random_state: int = 0) -> None:
        self.C = float(C)
        self.random_state = random_state

    def _fit(self, x, y, n_classes):
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.svm import LinearSVC

        svc = LinearSVC(C=self.C, random_state=self.random_state).fit(x, y)
        self.coef_, self.intercept_ = _ovr(svc.coef_, svc.intercept_, n_classes)
        folds = min(3, int(np.bincount(y, minlength=n_classes).min()))
        if folds >= 2:  # decision values the model did not see in training, as Platt recommends
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            scores = cross_val_predict(LinearSVC(C=self.C, random_state=self.random_state), x, y, cv=cv,
                                       method="decision_function")
            scores = _ovr_scores(scores, n_classes)
        else:
            scores = x @ self.coef_.T + self.intercept_
        self.platt_ = np.array([_fit_platt(scores[:, k], y == k) for k in range(n_classes)], np.float64)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, np.float64) @ self.coef_.T + self.intercept_

    def predict_proba(self, X):
        p = _sigmoid(self.platt_[:, 0] * self.decision_function(X) + self.platt_[:, 1])
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)



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
    state = {"coef": ("coef_", np.float64), "intercept": ("intercept_", np.float64)}
    settings = {"C": ("C", float), "max_iter": ("max_iter", int), "random_state": ("random_state", None)}

    def __init__(self, C: float = 10.0, max_iter: int = 2000, random_state: int = 0) -> None:
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.random_state = random_state

    def _fit(self, x, y, n_classes):
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state).fit(x, y)
        w, b = np.asarray(lr.coef_, np.float64), np.asarray(lr.intercept_, np.float64)
        if n_classes == 2 and w.shape[0] == 1:  # softmax([-z/2, z/2]) == sigmoid(z)
            w, b = np.vstack([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
        self.coef_, self.intercept_ = w, b

    def predict_proba(self, X):
        return _softmax(np.asarray(X, np.float64) @ self.coef_.T + self.intercept_)



class KNN(Classifier):
    """k nearest training vectors by cosine similarity; votes weighted by similarity."""

    kind = "knn"
    state = {"vectors": ("fit_X_", np.float32), "labels": ("fit_y_", np.int64)}
    settings = {"k": ("n_neighbors", int)}

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = int(n_neighbors)

    def _fit(self, x, y, n_classes):
        self.fit_X_, self.fit_y_ = l2_normalize(x), np.asarray(y, np.int64)

    def predict_proba(self, X):
        sims = l2_normalize(X) @ self.fit_X_.T
        k = min(self.n_neighbors, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(sims), self.n_classes_))
        rows = np.arange(len(sims))[:, None]
        np.add.at(votes, (np.broadcast_to(rows, top.shape), self.fit_y_[top]), np.maximum(sims[rows, top], 1e-6))
        return votes / votes.sum(axis=1, keepdims=True)



class Centroid(Classifier):
    """Nearest class centroid by cosine; probabilities are a softmax of scaled similarities, the scale
    (``scale_``) fitted on the training vectors."""

    kind = "centroid"
    state = {"centroids": ("centroids_", np.float64)}
    settings = {"scale": ("scale_", float)}  # learned, kept in the JSON header

    def _fit(self, x, y, n_classes):
        from scipy.optimize import minimize_scalar

        x = l2_normalize(x)
        self.centroids_ = class_centroids(x, y, n_classes)
        sims = x @ self.centroids_.T

        def nll(scale: float) -> float:
            z = scale * sims
            z = z - z.max(axis=1, keepdims=True)
            return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())

        self.scale_ = float(minimize_scalar(nll, bounds=(1.0, 200.0), method="bounded").x)

    def predict_proba(self, X):
        return _softmax(self.scale_ * (l2_normalize(X).astype(np.float64) @ self.centroids_.T))



def class_centroids(x: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, d) unit mean vector of every class."""
    sums = np.zeros((n_classes, x.shape[1]), np.float64)
    np.add.at(sums, y, l2_normalize(x))
    return l2_normalize(sums, dtype=np.float64)


CLASSIFIERS: dict[str, Type[Classifier]] = {c.kind: c for c in (LinearSVM, LogReg, KNN, Centroid)}


def make_classifier(kind: str, **params) -> Classifier:
    """A new, unfitted classifier of ``kind`` with these hyperparameters."""
    try:
        return CLASSIFIERS[kind](**params)
    except KeyError:
        raise FacerecError(f"unknown classifier {kind!r}; choose one of: {', '.join(CLASSIFIERS)}") from None

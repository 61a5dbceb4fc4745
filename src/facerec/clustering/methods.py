"""One entry point for every clustering method, all thresholded by the embedder's cosine threshold."""
from __future__ import annotations

import inspect

import numpy as np

from facerec.clustering.whispers import chinese_whispers
from facerec.errors import FacerecError

METHODS = ("chinese-whispers", "dbscan", "hdbscan")

CLUSTER_MARGIN = 0.2
"""Added to the embedder's calibrated (pair verification) threshold for clustering: grouping chains
pairs transitively, so it needs a stricter cut (see results/cluster.md for the sweep)."""


def cluster_threshold(verify_threshold: float, margin: float = CLUSTER_MARGIN) -> float:
    """The clustering threshold tied to an embedder's calibrated verification threshold."""
    return float(verify_threshold) + float(margin)


def cluster_vectors(vectors: np.ndarray, method: str = "chinese-whispers", threshold: float = 0.3,
                    min_size: int = 2) -> np.ndarray:
    """Labels per row of unit vectors; -1 marks faces left alone (clusters smaller than ``min_size``).

    ``threshold`` is a cosine similarity: two faces at or above it may share a cluster
    (DBSCAN's ``eps`` is ``1 - threshold`` in cosine distance; HDBSCAN clusters lose members with no
    cluster-mate that close). Use :func:`cluster_threshold` to derive it from an embedder's threshold.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise FacerecError("clustering needs a 2-D array of vectors")
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    if method == "chinese-whispers":
        labels = chinese_whispers(x, threshold)
    elif method == "dbscan":
        from sklearn.cluster import DBSCAN

        labels = DBSCAN(eps=max(1e-6, 1.0 - threshold), min_samples=min_size, metric="cosine",
                        algorithm="brute").fit_predict(x)
    elif method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        if len(x) < 2:
            return np.full(len(x), -1, dtype=np.int64)
        kwargs = {"copy": True} if "copy" in inspect.signature(HDBSCAN).parameters else {}
        # Euclidean on unit vectors orders pairs as cosine does; the threshold is applied afterwards.
        labels = HDBSCAN(min_cluster_size=max(2, min_size), min_samples=1, metric="euclidean",
                         **kwargs).fit_predict(x)
        labels = _require_link(x, np.asarray(labels, dtype=np.int64), threshold)
    else:
        raise FacerecError(f"unknown clustering method {method!r}; choose one of: {', '.join(METHODS)}")
    return _drop_small(np.asarray(labels, dtype=np.int64), min_size)


def _require_link(x: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Members with no cluster-mate at or above ``threshold`` leave their cluster (HDBSCAN ignores it)."""
    out = labels.copy()
    for lab in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == lab)
        sims = x[idx] @ x[idx].T
        np.fill_diagonal(sims, -np.inf)
        out[idx[sims.max(axis=1) < threshold]] = -1
    return out


def _drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Relabel clusters 0..k-1 by decreasing size; clusters under ``min_size`` become -1."""
    out = np.full(len(labels), -1, dtype=np.int64)
    valid = labels >= 0
    if not valid.any():
        return out
    uniq, counts = np.unique(labels[valid], return_counts=True)
    order = sorted(zip(-counts, uniq))
    new = 0
    for neg, lab in order:
        if -neg >= min_size:
            out[labels == lab] = new
            new += 1
    return out

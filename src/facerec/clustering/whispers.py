"""Chinese whispers (Biemann 2006) on the graph of faces whose cosine similarity reaches a threshold."""
from __future__ import annotations

import numpy as np


def similarity_graph(vectors: np.ndarray, threshold: float, block: int = 2048) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per node: (neighbour indices, edge weights = similarities >= threshold), self excluded."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, n, block):
        sims = x[start:start + block] @ x.T
        for row, i in zip(sims, range(start, min(n, start + block))):
            row[i] = -np.inf
            nb = np.flatnonzero(row >= threshold)
            out.append((nb, row[nb].astype(np.float64)))
    return out


def chinese_whispers(vectors: np.ndarray, threshold: float, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """Cluster labels 0..k-1 (every node gets one; isolated nodes are their own cluster).

    Each round visits nodes in random order and gives each the label with the largest summed
    edge weight among its neighbours; stops early when no label changes.
    """
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = similarity_graph(vectors, threshold)
    labels = np.arange(n)
    rng = np.random.default_rng(seed)
    for _ in range(iterations):
        changed = 0
        for i in rng.permutation(n):
            nb, w = graph[i]
            if nb.size == 0:
                continue
            lab = labels[nb]
            uniq, inv = np.unique(lab, return_inverse=True)
            score = np.bincount(inv, weights=w)
            best = uniq[int(np.argmax(score))]
            if best != labels[i]:
                labels[i] = best
                changed += 1
        if changed == 0:
            break
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)

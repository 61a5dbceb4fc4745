"""FaceNet's batches: P people x K images each, so every batch holds positives and negatives."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


def people_index(labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Row indices of each label, labels in sorted order."""
    names, codes = np.unique(np.asarray(labels), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(name): order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}


def pk_batches(labels: Sequence[str], p: int, k: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch of batches: every person with two or more images once, ``p`` people per batch,
    up to ``k`` of their images each (drawn without replacement). Deterministic given ``rng``."""
    if p < 2 or k < 2:
        raise ValueError("batches need p >= 2 people and k >= 2 images each")
    groups = [rows for rows in people_index(labels).values() if len(rows) >= 2]
    order = rng.permutation(len(groups))
    for start in range(0, len(order) - 1, p):
        chosen = order[start:start + p]
        if len(chosen) < 2:  # a lone person has no negatives
            break
        yield np.concatenate([rng.choice(groups[g], size=min(k, len(groups[g])), replace=False) for g in chosen])

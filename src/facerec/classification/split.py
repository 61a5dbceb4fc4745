"""Per-class filtering and a seeded, stratified train/test split."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np


def classes_with_min(labels: Sequence[str], min_images: int) -> list[str]:
    """Sorted names of the classes with at least ``min_images`` samples."""
    counts = Counter(labels)
    return sorted(name for name, n in counts.items() if n >= min_images)


def stratified_split(labels: Sequence[str], test_ratio: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: in every class, ``round(n * test_ratio)`` samples (at least one when
    ``test_ratio > 0``, and never all of them) go to the test set, chosen with ``seed``."""
    if not 0.0 <= test_ratio < 1.0:
        raise ValueError("test_ratio must be in [0, 1)")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train, test = [], []
    for name in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == name)
        idx = idx[rng.permutation(len(idx))]
        n_test = 0
        if test_ratio > 0 and len(idx) >= 2:
            n_test = min(len(idx) - 1, max(1, int(round(len(idx) * test_ratio))))
        test.extend(idx[:n_test].tolist())
        train.extend(idx[n_test:].tolist())
    return np.array(sorted(train), np.int64), np.array(sorted(test), np.int64)

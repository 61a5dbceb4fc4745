"""Clustering quality against true identities: pairwise precision/recall/F1 and BCubed."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _singletons_apart(pred: np.ndarray) -> np.ndarray:
    """Noise (-1) becomes one cluster per item, so it never pairs with anything."""
    pred = np.asarray(pred).copy()
    noise = pred < 0
    pred[noise] = pred.max(initial=0) + 1 + np.arange(int(noise.sum()))
    return pred


def _pairs(labels: np.ndarray) -> int:
    _, counts = np.unique(labels, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _codes(pred: Sequence[int], truth: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster codes (noise apart), identity codes and one code per (cluster, identity) pair."""
    pred = _singletons_apart(np.asarray(pred))
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    return pred, t, pred.astype(np.int64) * (t.max(initial=0) + 1) + t


def _prf(p: float, r: float) -> dict[str, float]:
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def pairwise_prf(pred: Sequence[int], truth: Sequence) -> dict[str, float]:
    """Precision/recall/F1 over all pairs of items: a pair is positive when put in one cluster."""
    pred, t, joint = _codes(pred, truth)
    tp, pp, ap = _pairs(joint), _pairs(pred), _pairs(t)
    return _prf(tp / pp if pp else 1.0, tp / ap if ap else 1.0)


def bcubed(pred: Sequence[int], truth: Sequence) -> dict[str, float]:
    """BCubed precision/recall/F1: per item, the share of its cluster that is its identity, and back."""
    pred, t, joint = _codes(pred, truth)
    _, ji, jc = np.unique(joint, return_inverse=True, return_counts=True)
    _, pi, pc = np.unique(pred, return_inverse=True, return_counts=True)
    _, ti, tc = np.unique(t, return_inverse=True, return_counts=True)
    both = jc[ji].astype(np.float64)
    return _prf(float(np.mean(both / pc[pi])) if len(pred) else 1.0, float(np.mean(both / tc[ti])) if len(pred) else 1.0)

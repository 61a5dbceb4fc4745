"""The verification protocol on similarity scores: k-fold thresholds, accuracy, ROC, AUC, EER, VAL@FAR.

Everything here works on plain arrays (``scores``: cosine similarities, higher means more alike;
``labels``: True for same-person pairs; ``folds``: the fold index of each pair), so it is
model-free and testable on synthetic scores.

The LFW View 2 protocol: for each fold, the threshold that maximises accuracy on the *other*
folds is applied to that fold; accuracy is reported as mean and (population, as
davidsandberg/facenet's ``lfw.evaluate``) standard deviation over folds. VAL@FAR follows the same
code: on the training folds, the threshold giving the target FAR is interpolated on a threshold
grid, and the validation rate and FAR are measured on the held-out fold.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

VAL_GRID_STEP = 0.0005
"""Threshold grid step (cosine) for VAL@FAR; facenet's 0.001 on squared distance = 0.0005 cosine."""


def _as_arrays(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity")
    return s, y


def accuracy_at(scores, labels, threshold: float) -> float:
    """Fraction of pairs decided right by 'same' = ``score >= threshold``."""
    s, y = _as_arrays(scores, labels)
    if s.size == 0:
        return float("nan")
    return float(np.mean((s >= threshold) == y))


def best_threshold(scores, labels) -> tuple[float, float]:
    """``(threshold, accuracy)``: the threshold maximising accuracy on these pairs.

    Candidates are the midpoints between consecutive distinct scores (plus one below the lowest
    and one above the highest), so the optimum is exact, not limited by a grid. Among equally
    good candidates the middle one is taken.
    """
    s, y = _as_arrays(scores, labels)
    if s.size == 0:
        raise ValueError("no pairs to choose a threshold on")
    uniq = np.unique(s)
    cands = np.concatenate([[uniq[0] - 1e-3], (uniq[:-1] + uniq[1:]) / 2.0, [uniq[-1] + 1e-3]])
    pos = np.sort(s[y])
    neg = np.sort(s[~y])
    # correct = positives at or above the threshold + negatives below it
    tp = pos.size - np.searchsorted(pos, cands, side="left")
    tn = np.searchsorted(neg, cands, side="left")
    acc = (tp + tn) / s.size
    best = np.flatnonzero(acc == acc.max())
    i = int(best[len(best) // 2])
    return float(cands[i]), float(acc[i])


def rates_at(scores, labels, threshold: float) -> tuple[float, float]:
    """``(TAR, FAR)`` at ``threshold``: accepted fraction of same pairs and of different pairs."""
    s, y = _as_arrays(scores, labels)
    accept = s >= threshold
    tar = float(accept[y].mean()) if y.any() else 0.0
    far = float(accept[~y].mean()) if (~y).any() else 0.0
    return tar, far


def threshold_for_far(scores, labels, far_target: float, step: float = VAL_GRID_STEP) -> float:
    """The threshold where FAR crosses ``far_target``, interpolated on a grid as facenet does.

    FAR is computed on a grid of thresholds spanning [-1, 1] (step ``step``); the threshold is the
    linear interpolation between the last grid point with FAR >= target and the next one.
    """
    s, y = _as_arrays(scores, labels)
    neg = np.sort(s[~y])
    lo = min(-1.0, float(s.min()) if s.size else -1.0)
    hi = max(1.0, float(s.max()) if s.size else 1.0)
    grid = np.arange(lo, hi + step, step)
    if neg.size == 0:
        return float(grid[0])
    far = (neg.size - np.searchsorted(neg, grid, side="left")) / neg.size  # non-increasing
    k = int(np.flatnonzero(far >= far_target)[-1])
    if k + 1 >= grid.size or far[k] == far_target:
        return float(grid[k])
    f0, f1 = far[k], far[k + 1]
    return float(grid[k] + (f0 - far_target) / (f0 - f1) * (grid[k + 1] - grid[k]))


def roc(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` over every distinct score, thresholds decreasing (as sklearn)."""
    s, y = _as_arrays(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.flatnonzero(np.diff(s)) if s.size > 1 else np.zeros(0, dtype=int)
    idx = np.concatenate([distinct, [s.size - 1]]) if s.size else np.zeros(0, dtype=int)
    tps = np.cumsum(y)[idx].astype(np.float64)
    fps = (idx + 1 - tps).astype(np.float64)
    npos, nneg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    tpr = np.concatenate([[0.0], tps / npos])
    fpr = np.concatenate([[0.0], fps / nneg])
    thr = np.concatenate([[np.inf], s[idx]]) if s.size else np.array([np.inf])
    return fpr, tpr, thr


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal)."""
    return float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))


def eer(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Equal error rate: where FAR equals 1 - TAR, by linear interpolation along the ROC."""
    fnr = 1.0 - tpr
    diff = fpr - fnr  # increases from -1 to +1 along the curve
    k = int(np.flatnonzero(diff >= 0)[0])
    if k == 0 or diff[k] == 0:
        return float(fpr[k])
    t = -diff[k - 1] / (diff[k] - diff[k - 1])
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))


def tar_at_far(fpr: np.ndarray, tpr: np.ndarray, far_target: float) -> float:
    """The best TAR whose FAR does not exceed ``far_target`` (pooled ROC, no interpolation)."""
    ok = fpr <= far_target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


@dataclass
class FoldResult:
    """One held-out fold: the threshold chosen on the other folds and what it gave here."""

    fold: int
    pairs: int
    threshold: float
    accuracy: float
    train_accuracy: float
    val_threshold: float
    val: float
    far: float


@dataclass
class Evaluation:
    """Everything the protocol reports for one set of scored pairs."""

    accuracy_mean: float
    accuracy_std: float
    auc: float
    eer: float
    val_mean: float
    val_std: float
    far_mean: float
    far_target: float
    tar_at_far: dict[str, float]
    threshold_mean: float
    best_threshold_all: float
    pairs: int
    positives: int
    folds: list[FoldResult] = field(default_factory=list)
    roc_fpr: Optional[np.ndarray] = field(default=None, repr=False)
    roc_tpr: Optional[np.ndarray] = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready summary (ROC arrays left out)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("roc_fpr", "roc_tpr", "folds")}
        out["folds"] = [asdict(f) for f in self.folds]
        return out


def evaluate_scores(scores, labels, folds, far_target: float = 1e-3,
                    tar_targets: tuple[float, ...] = (1e-2, 1e-3)) -> Evaluation:
    """Run the k-fold protocol: each fold's thresholds are chosen on the other folds only."""
    s, y = _as_arrays(scores, labels)
    f = np.asarray(folds).ravel()
    if f.shape != s.shape:
        raise ValueError(f"{s.size} scores but {f.size} fold indices")
    fold_ids = [int(v) for v in np.unique(f)]
    if len(fold_ids) < 2:
        raise ValueError("the protocol needs at least two folds")
    results: list[FoldResult] = []
    for k in fold_ids:
        test = f == k
        train = ~test
        thr, train_acc = best_threshold(s[train], y[train])
        vthr = threshold_for_far(s[train], y[train], far_target)
        val, far = rates_at(s[test], y[test], vthr)
        results.append(FoldResult(fold=k, pairs=int(test.sum()), threshold=thr,
                                  accuracy=accuracy_at(s[test], y[test], thr), train_accuracy=train_acc,
                                  val_threshold=vthr, val=val, far=far))
    accs = np.array([r.accuracy for r in results])
    vals = np.array([r.val for r in results])
    fpr, tpr, _ = roc(s, y)
    return Evaluation(
        accuracy_mean=float(accs.mean()), accuracy_std=float(accs.std()),
        auc=auc(fpr, tpr), eer=eer(fpr, tpr),
        val_mean=float(vals.mean()), val_std=float(vals.std()),
        far_mean=float(np.mean([r.far for r in results])), far_target=far_target,
        tar_at_far={f"{t:g}": tar_at_far(fpr, tpr, t) for t in tar_targets},
        threshold_mean=float(np.mean([r.threshold for r in results])),
        best_threshold_all=best_threshold(s, y)[0],
        pairs=int(s.size), positives=int(y.sum()), folds=results, roc_fpr=fpr, roc_tpr=tpr,
    )

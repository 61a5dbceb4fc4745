"""Shared by the LFW benchmarks: scoring configurations through the cached pipeline, weight search."""
from __future__ import annotations

import contextlib
import fcntl
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data"
LFW = DATA / "lfw"
VIEW2 = DATA / "lfw_protocol/pairs.txt"
DEV_TRAIN = DATA / "lfw_protocol/pairsDevTrain.txt"
DEV_TEST = DATA / "lfw_protocol/pairsDevTest.txt"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def runnable(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Which embedders can be built here; the others with the reason."""
    from facerec.models.store import ModelStore
    from facerec.recognition.factory import build_embedder

    ok, why = [], {}
    for n in names:
        try:
            build_embedder(n, ModelStore())
            ok.append(n)
        except Exception as exc:  # noqa: BLE001 - report, don't stop the benchmark
            why[n] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
    return ok, why


@dataclass
class Scored:
    """Per-member scores of one (model, detector, flip, select) configuration on View 2 and View 1."""

    model: str
    detector: str
    flip: bool
    select: str
    v2: object  # PairScores
    dev: object  # PairScores
    seconds: float


CPU_LOCK = "/tmp/facerec-cpu.lock"


@contextlib.contextmanager
def cpu_lock(enabled: bool = True):
    """Hold the shared heavy-job lock (one configuration at a time, so others can interleave)."""
    if not enabled:
        yield
        return
    with open(CPU_LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def score_config(model: str, detector: str, flip: bool, select: str = "central", workers: int = 2,
                 lock: bool = True) -> Scored:
    """View 2 and DevTrain scores of one pipeline (computed under the CPU lock unless all cached)."""
    from facerec.evaluation.lfw import score_pairs
    from facerec.evaluation.pairs import read_pairs
    from facerec.evaluation.runner import EmbeddingRunner

    t0 = time.time()
    runner = EmbeddingRunner(model, detector, flip=flip, select=select, workers=workers)
    with cpu_lock(lock):
        t0 = time.time()
        v2 = score_pairs(read_pairs(VIEW2), LFW, runner)
        dev = score_pairs(read_pairs(DEV_TRAIN), LFW, runner)
    log(f"{model} / {detector} / flip={flip} / {select}: {v2.computed + dev.computed} images computed, "
        f"{time.time() - t0:.0f}s")
    return Scored(model, detector, flip, select, v2, dev, time.time() - t0)


def simplex(k: int, step: float) -> list[tuple[float, ...]]:
    """Weight vectors on the simplex with every weight > 0, multiples of ``step``."""
    n = int(round(1 / step))
    out = []
    for combo in itertools.product(range(1, n), repeat=k - 1):
        last = n - sum(combo)
        if last >= 1:
            out.append(tuple(c / n for c in combo) + (last / n,))
    return out


def choose_weights(dev_scores: np.ndarray, labels: np.ndarray, folds: np.ndarray,
                   step: Optional[float] = None) -> tuple[tuple[float, ...], float, float]:
    """Ensemble weights maximising View 1 (DevTrain) 10-fold accuracy, ties broken by AUC.

    ``dev_scores`` is (members, pairs). Returns (weights, cv accuracy, threshold on all DevTrain).
    """
    from facerec.evaluation.protocol import auc, best_threshold, evaluate_scores, roc

    k = dev_scores.shape[0]
    step = step or {2: 0.05, 3: 0.1}.get(k, 0.125)
    best = None
    for w in simplex(k, step):
        s = np.asarray(w) @ dev_scores
        ev = evaluate_scores(s, labels, folds)
        fpr, tpr, _ = roc(s, labels)
        key = (round(ev.accuracy_mean, 6), auc(fpr, tpr))
        if best is None or key > best[0]:
            best = (key, w, ev.accuracy_mean)
    assert best is not None
    w = best[1]
    thr, _ = best_threshold(np.asarray(w) @ dev_scores, labels)
    return w, best[2], thr

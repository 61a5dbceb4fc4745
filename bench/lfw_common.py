"""Shared by the LFW benchmarks: scoring configurations through the cached pipeline, weight search,
real per-model inputs, results files that keep their notes."""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from facerec.datasets import lfw_dir, lfw_protocol_file

ROOT = Path(__file__).resolve().parents[1]
LFW = lfw_dir()
VIEW2 = lfw_protocol_file("pairs.txt", LFW, must_exist=False)
DEV_TRAIN = lfw_protocol_file("pairsDevTrain.txt", LFW, must_exist=False)
DEV_TEST = lfw_protocol_file("pairsDevTest.txt", LFW, must_exist=False)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


NOTES_MARKER = "<!-- notes below are kept when the table is regenerated -->"


def write_keeping_notes(out: Path, body: str, marker: str = NOTES_MARKER) -> str:
    """Write ``body`` to the results file ``out``, followed by ``marker`` and the notes that stood below
    it in the file before (hand-written, kept across runs); the text written."""
    old = out.read_text() if out.is_file() else ""
    text = body + "\n" + marker + (old.split(marker, 1)[1] if marker in old else "\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def model_inputs(fa, images: Sequence[np.ndarray], every_face: bool = False,
                 extra_det: Sequence[np.ndarray] = ()) -> dict[str, list[np.ndarray]]:
    """The real inputs of each model of the FaceAnalyzer ``fa``, by registry name: the detector's own
    letterboxed input of ``images`` and ``extra_det``, each embedder's aligned crops of their largest
    faces (of every face when ``every_face``)."""
    from facerec.models.registry import get_spec
    from facerec.recognition.base import to_input_tensor

    faces = [(img, d) for img in images for d in (fa.detect(img) if every_face else fa.detect(img)[:1])]
    out = {fa.detector.model: [fa.detector.input_blob(img)[0] for img in [*images, *extra_det]]}
    for m in fa.members:
        out[m.name] = [to_input_tensor([m.align(img, d.landmarks)], get_spec(m.name)) for img, d in faces]
    return out


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cosine between each row of ``a`` and the same row of ``b``."""
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


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
    """Per-member scores of one (model, detector, flip, pick) configuration on View 2 and View 1."""

    model: str
    detector: str
    flip: bool
    pick: str
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
    from facerec.io.locks import file_lock

    with file_lock(CPU_LOCK):
        yield


def score_config(model: str, detector: str, flip: bool, pick: str = "center", workers: int = 2,
                 lock: bool = True) -> Scored:
    """View 2 and DevTrain scores of one pipeline (computed under the CPU lock unless all cached)."""
    from facerec.evaluation.lfw import score_pairs
    from facerec.evaluation.pairs import read_pairs
    from facerec.evaluation.runner import EmbeddingRunner

    from facerec.models.pipeline import PipelineSpec

    runner = EmbeddingRunner(PipelineSpec(model, detector, flip), pick=pick, workers=workers)
    with cpu_lock(lock):
        t0 = time.time()
        v2 = score_pairs(read_pairs(VIEW2), LFW, runner)
        dev = score_pairs(read_pairs(DEV_TRAIN), LFW, runner)
    log(f"{model} / {detector} / flip={flip} / {pick}: {v2.computed + dev.computed} images computed, "
        f"{time.time() - t0:.0f}s")
    return Scored(model, detector, flip, pick, v2, dev, time.time() - t0)


def choose_weights(dev_scores: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> tuple[tuple[float, ...], float, float]:
    """Ensemble weights fitted on View 1 (DevTrain): logistic regression on the members' scores.

    Score-level fusion by logistic regression (scikit-learn's defaults, C=1): its coefficients,
    clipped at 0 and normalised to sum 1, are the weights; a weighted mean of cosines is what the
    shipped ensemble computes, so any per-member scale and offset is absorbed by weights and threshold.
    (An exhaustive grid search on DevTrain accuracy was tried first: with ~5 errors in 2,200 pairs it
    picks weights by noise.) ``dev_scores`` is (members, pairs). Returns (weights, DevTrain 10-fold
    accuracy at those weights, best threshold on all DevTrain pairs).
    """
    from sklearn.linear_model import LogisticRegression

    from facerec.evaluation.protocol import best_threshold, evaluate_scores

    lr = LogisticRegression(max_iter=1000).fit(dev_scores.T, labels)
    w = np.clip(lr.coef_[0], 0.0, None)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    w = np.round(w, 3)
    s = w @ dev_scores
    thr, _ = best_threshold(s, labels)
    return tuple(float(x) for x in w), evaluate_scores(s, labels, folds).accuracy_mean, thr

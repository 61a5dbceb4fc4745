"""Verification evaluation end to end: pairs -> embeddings (cached) -> scores -> the k-fold protocol."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.detection.selection import Pick
from facerec.errors import FacerecError
from facerec.evaluation.pairs import Pair
from facerec.evaluation.protocol import Evaluation, evaluate_scores
from facerec.models.pipeline import PipelineSpec
from facerec.evaluation.runner import EmbeddingRunner, ImageEmbeddings
from facerec.types import Progress


@dataclass
class PairScores:
    """Per-member cosine similarities of every scorable pair, plus what could not be scored."""

    pairs: list[Pair]
    labels: np.ndarray
    folds: np.ndarray
    member_ids: list[str]
    weights: list[float]
    member_scores: np.ndarray
    """(members, pairs) cosine similarities."""
    no_face: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[Pair] = field(default_factory=list)
    images: int = 0
    computed: int = 0
    model: str = ""

    def scores(self, weights: Optional[Sequence[float]] = None) -> np.ndarray:
        """Ensemble scores: the weighted mean of member similarities (equal to the cosine of the
        concatenated ensemble vectors the analyzer produces)."""
        w = np.asarray(self.weights if weights is None else weights, dtype=np.float64)
        w = w / w.sum()
        return (w[:, None] * self.member_scores).sum(axis=0)


def score_pairs(pairs: Sequence[Pair], root: os.PathLike | str, runner: EmbeddingRunner,
                on_progress: Optional[Progress] = None) -> PairScores:
    """Embed every image the pairs mention (once each) and score every pair."""
    root = Path(root)
    if not root.is_dir():
        raise FacerecError(f"{root}: no such folder")
    rel = sorted({p.a for p in pairs} | {p.b for p in pairs})
    missing = [r for r in rel if not (root / r).is_file()]
    if missing and len(missing) == len(rel):
        raise FacerecError(f"none of the {len(rel)} images named by the pairs exist under {root} "
                           f"(first: {missing[0]})")
    index = {r: i for i, r in enumerate(rel)}
    emb: ImageEmbeddings = runner.run([root / r for r in rel], on_progress=on_progress)
    bad = {rel[i]: reason for i, reason in emb.failures.items()}
    keep = [p for p in pairs if p.a not in bad and p.b not in bad]
    skipped = [p for p in pairs if p.a in bad or p.b in bad]
    ia = np.array([index[p.a] for p in keep], dtype=np.int64)
    ib = np.array([index[p.b] for p in keep], dtype=np.int64)
    scores = np.stack([np.einsum("ij,ij->i", v[ia], v[ib]) for v in emb.vectors]) if keep else \
        np.zeros((len(emb.vectors), 0))
    used = set(ia.tolist()) | set(ib.tolist())
    no_face = [rel[i] for i in sorted(used) if emb.fallback[i]]
    return PairScores(pairs=keep, labels=np.array([p.same for p in keep], dtype=bool),
                      folds=np.array([p.fold for p in keep], dtype=np.int64), member_ids=emb.member_ids,
                      weights=emb.weights, member_scores=scores, no_face=no_face, failed=bad,
                      skipped=skipped, images=len(rel), computed=emb.computed, model=emb.model)


def report(ps: PairScores, ev: Evaluation, *, detector: str, flip: bool, pick: Pick,
           extra: Optional[dict] = None) -> dict:
    """The JSON-ready result of an evaluation."""
    out = {
        "accuracy_mean": ev.accuracy_mean,
        "accuracy_std": ev.accuracy_std,
        "auc": ev.auc,
        "eer": ev.eer,
        "val_far_1e-3": ev.val_mean,
        "val_far_1e-3_std": ev.val_std,
        "far_mean": ev.far_mean,
        "tar_far_1e-2": ev.tar_at_far.get("0.01"),
        "tar_far_1e-3": ev.tar_at_far.get("0.001"),
        "threshold_mean": ev.threshold_mean,
        "best_threshold_all": ev.best_threshold_all,
        "pairs": ev.pairs,
        "positives": ev.positives,
        "images": ps.images,
        "computed_images": ps.computed,
        "no_face_count": len(ps.no_face),
        "no_face_images": ps.no_face,
        "failed_images": ps.failed,
        "skipped_pairs": len(ps.skipped),
        "model": ps.model,
        "members": ps.member_ids,
        "weights": ps.weights,
        "detector": detector,
        "flip": flip,
        "pick": pick,
        "folds": [f.__dict__ for f in ev.folds],
    }
    if extra:
        out.update(extra)
    return out


def evaluate(pairs: Sequence[Pair], root: os.PathLike | str, spec: PipelineSpec, *, pick: Pick = "center",
             cache_dir: Optional[os.PathLike] = None, use_cache: bool = True, workers: int = 1,
             on_progress: Optional[Progress] = None) -> tuple[dict, Evaluation, PairScores]:
    """Score ``pairs`` of images under ``root`` with the pipeline of ``spec`` and run the protocol."""
    runner = EmbeddingRunner(spec, pick=pick, cache_dir=cache_dir, use_cache=use_cache, workers=workers)
    return evaluate_with(runner, pairs, root, on_progress=on_progress)


def evaluate_with(runner: EmbeddingRunner, pairs: Sequence[Pair], root: os.PathLike | str,
                  on_progress: Optional[Progress] = None) -> tuple[dict, Evaluation, PairScores]:
    """:func:`evaluate` with a runner already built (models loaded)."""
    ps = score_pairs(pairs, root, runner, on_progress=on_progress)
    if ps.labels.size == 0:
        raise FacerecError("no pair could be scored")
    if ps.labels.all() or not ps.labels.any():
        raise FacerecError("the pairs need both matched and mismatched pairs")
    ev = evaluate_scores(ps.scores(), ps.labels, ps.folds)
    return report(ps, ev, detector=runner.detector_name, flip=runner.flip, pick=runner.pick), ev, ps

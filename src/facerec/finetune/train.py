"""The training loop: P x K batches, semi-hard triplet loss, early stopping on validation people.

People (never images) are split into training and validation; validation accuracy is the best
same/different accuracy on pairs of validation people (every same-person pair up to a cap, as
many random different-person pairs), and the threshold that gives it is the head's threshold.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from facerec.errors import FacerecError
from facerec.evaluation.protocol import best_threshold
from facerec.finetune.batches import people_index, pk_batches
from facerec.finetune.head import ProjectionHead
from facerec.finetune.loss import semihard_triplet_loss

MAX_VAL_PAIRS = 3000
"""Same-person validation pairs kept at most (and as many different-person pairs)."""


@dataclass
class TrainConfig:
    """Hyper-parameters (FaceNet's margin 0.2 and 128-d output by default)."""

    dim: int = 128
    """Output dimension; 0 keeps the base model's."""
    hidden: int = 512
    margin: float = 0.2
    people_per_batch: int = 32
    images_per_person: int = 4
    epochs: int = 60
    patience: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.15
    """Share of the people (with two or more images) held out for validation; 0 validates on the training people."""
    seed: int = 0
    threads: int = 1
    """PyTorch threads; one is fastest for a head this small (and leaves the other cores alone)."""


@dataclass
class EpochStats:
    epoch: int
    loss: float
    val_loss: float
    val_accuracy: float


@dataclass
class TrainResult:
    """The best head (by validation accuracy, then validation loss) and how training went."""

    head: ProjectionHead
    history: list[EpochStats]
    best_epoch: int
    threshold: float
    val_accuracy_before: float
    val_accuracy: float
    split: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"best_epoch": self.best_epoch, "threshold": round(self.threshold, 6),
                "val_accuracy_before": round(self.val_accuracy_before, 6), "val_accuracy": round(self.val_accuracy, 6),
                "history": [{k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(h).items()}
                            for h in self.history], **self.split}


def validation_people(n_people: int, fraction: float) -> int:
    """How many of ``n_people`` (those with two or more images) validate; an error when either side gets under 2."""
    n_val = int(round(fraction * n_people))
    if fraction > 0 and (n_val < 2 or n_people - n_val < 2):
        raise FacerecError(f"{n_people} people have two or more images: too few to hold {fraction:.0%} out for "
                           "validation (need 2 on each side); use --val-fraction 0 to validate on the training people")
    return n_val


def split_people(labels: Sequence[str], fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Boolean row masks (train, validation); a person's images are all on one side."""
    groups = people_index(labels)
    n = len(labels)
    if fraction <= 0:
        return np.ones(n, bool), np.ones(n, bool)
    multi = [name for name, rows in groups.items() if len(rows) >= 2]
    n_val = validation_people(len(multi), fraction)
    val_people = set(rng.choice(multi, size=n_val, replace=False).tolist())
    val = np.array([name in val_people for name in labels])
    return ~val, val


def validation_pairs(labels: Sequence[str], rng: np.random.Generator,
                     max_pairs: int = MAX_VAL_PAIRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, same)``: same-person pairs (all, or ``max_pairs`` of them) and as many different-person pairs."""
    groups = list(people_index(labels).values())
    pos = [(int(a), int(b)) for rows in groups for x, a in enumerate(rows) for b in rows[x + 1:]]
    if not pos or len(groups) < 2:
        raise FacerecError("validation needs two or more people, one of them with two or more images")
    if len(pos) > max_pairs:
        pos = [pos[t] for t in rng.choice(len(pos), size=max_pairs, replace=False)]
    lab = np.asarray(labels)
    neg: list[tuple[int, int]] = []
    while len(neg) < len(pos):
        a, b = rng.integers(0, len(lab), size=2)
        if lab[a] != lab[b]:
            neg.append((int(a), int(b)))
    pairs = np.array(pos + neg, np.int64)
    same = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    return pairs[:, 0], pairs[:, 1], same


def pair_accuracy(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """``(accuracy, threshold)``: the best cosine threshold on these pairs of unit vectors."""
    scores = np.einsum("nd,nd->n", vectors[i], vectors[j])
    thr, acc = best_threshold(scores, same)
    return acc, thr


def apply_head(head: ProjectionHead, vectors: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Unit vectors out of the head (no gradients)."""
    head.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(vectors), batch):
            out.append(F.normalize(head(torch.from_numpy(np.ascontiguousarray(vectors[s:s + batch], np.float32))),
                                   dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, head.project.weight.shape[0]), np.float32)


def mean_triplet_loss(vectors: np.ndarray, codes: np.ndarray, config: TrainConfig, seed: int) -> float:
    """Mean semi-hard triplet loss of unit ``vectors`` over one epoch of P x K batches drawn with ``seed``."""
    labels = codes.astype(str)
    rng = np.random.default_rng(seed)
    losses = [float(semihard_triplet_loss(torch.from_numpy(vectors[idx]), torch.from_numpy(codes[idx]), config.margin))
              for idx in pk_batches(labels, config.people_per_batch, config.images_per_person, rng)]
    return float(np.mean(losses)) if losses else float("nan")


def train_head(vectors: np.ndarray, labels: Sequence[str], config: Optional[TrainConfig] = None,
               on_epoch: Optional[Callable[[EpochStats], None]] = None) -> TrainResult:
    """Train a head on unit base ``vectors`` labelled by person; repeatable for a given ``config.seed``."""
    config = config or TrainConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, config.threads))
    try:
        return _train(vectors, labels, config, on_epoch)
    finally:
        torch.set_num_threads(threads)


def _train(vectors: np.ndarray, labels: Sequence[str], config: TrainConfig,
           on_epoch: Optional[Callable[[EpochStats], None]]) -> TrainResult:
    x = np.ascontiguousarray(vectors, np.float32)
    labels = [str(v) for v in labels]
    if len(x) != len(labels) or x.ndim != 2:
        raise FacerecError("need one label per embedding")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    names, codes = np.unique(np.array(labels), return_inverse=True)
    codes = codes.astype(np.int64)
    train, val = split_people(labels, config.val_fraction, rng)
    tx, tcodes = x[train], codes[train]
    tlabels = [labels[i] for i in np.flatnonzero(train)]
    if sum(len(r) >= 2 for r in people_index(tlabels).values()) < 2:
        raise FacerecError("training needs two or more people with two or more images each")
    vx, vcodes = x[val], codes[val]
    vi, vj, vsame = validation_pairs([labels[i] for i in np.flatnonzero(val)], rng)
    val_seed = int(rng.integers(1 << 31))

    dim = config.dim or x.shape[1]
    head = ProjectionHead(x.shape[1], dim, config.hidden)
    head.init_projection(tx)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    before = apply_head(head, vx)
    acc_base, _ = pair_accuracy(vx, vi, vj, vsame)
    history = [EpochStats(0, mean_triplet_loss(apply_head(head, tx), tcodes, config, config.seed),
                          mean_triplet_loss(before, vcodes, config, val_seed), pair_accuracy(before, vi, vj, vsame)[0])]
    if on_epoch:
        on_epoch(history[0])
    best_key, best_state, best_epoch, stale = (history[0].val_accuracy, -history[0].val_loss), \
        copy.deepcopy(head.state_dict()), 0, 0
    xt, ct = torch.from_numpy(tx), torch.from_numpy(tcodes)
    tlab = tcodes.astype(str)
    for epoch in range(1, config.epochs + 1):
        head.train()
        losses = []
        for idx in pk_batches(tlab, config.people_per_batch, config.images_per_person, rng):
            ti = torch.from_numpy(idx)
            loss = semihard_triplet_loss(F.normalize(head(xt[ti]), dim=1), ct[ti], config.margin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out = apply_head(head, vx)
        stats = EpochStats(epoch, float(np.mean(losses)), mean_triplet_loss(out, vcodes, config, val_seed),
                           pair_accuracy(out, vi, vj, vsame)[0])
        history.append(stats)
        if on_epoch:
            on_epoch(stats)
        key = (stats.val_accuracy, -stats.val_loss)
        if key > best_key:
            best_key, best_state, best_epoch, stale = key, copy.deepcopy(head.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    head.load_state_dict(best_state)
    acc, thr = pair_accuracy(apply_head(head, vx), vi, vj, vsame)
    split = {"people": len(names), "images": len(labels), "train_people": len(set(tlabels)),
             "train_images": int(train.sum()), "val_people": 0 if config.val_fraction <= 0 else
             len({labels[i] for i in np.flatnonzero(val)}), "val_images": 0 if config.val_fraction <= 0 else int(val.sum()),
             "val_pairs": int(len(vsame)), "base_val_accuracy": round(acc_base, 6)}
    return TrainResult(head=head, history=history, best_epoch=best_epoch, threshold=thr,
                       val_accuracy_before=acc_base, val_accuracy=acc, split=split)

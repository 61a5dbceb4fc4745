"""The triplet loss on L2-normalised embeddings with online semi-hard negative mining (FaceNet, sec. 3.2).

For every anchor-positive pair of a batch, the negative is the closest one that is still farther
than the positive (semi-hard); when none is, the farthest negative (the easiest) stands in, as in
TensorFlow's ``triplet_semihard_loss``. Distances are squared Euclidean between unit vectors.
"""
from __future__ import annotations

import torch


def pairwise_sq_dist(x: torch.Tensor) -> torch.Tensor:
    """(n, n) squared distances between rows of unit vectors: 2 - 2 cos."""
    return (2.0 - 2.0 * x @ x.T).clamp_min(0.0)


def semihard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """Mean hinge ``max(d(a,p) - d(a,n) + margin, 0)`` over all anchor-positive pairs of the batch.

    ``embeddings`` must be L2-normalised rows; ``labels`` an integer id per row.
    """
    d = pairwise_sq_dist(embeddings)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos_mask = same & ~eye
    if not bool(pos_mask.any()) or bool(same.all()):
        return embeddings.sum() * 0.0  # no triplet in this batch
    a_idx, p_idx = pos_mask.nonzero(as_tuple=True)
    d_ap = d[a_idx, p_idx]                      # (m,)
    d_an = d[a_idx]                             # (m, n): anchor to every row
    neg = ~same[a_idx]                          # (m, n)
    semihard = neg & (d_an > d_ap[:, None])
    inf = torch.finfo(d.dtype).max
    closest_semihard = torch.where(semihard, d_an, torch.full_like(d_an, inf)).min(dim=1).values
    farthest = torch.where(neg, d_an, torch.full_like(d_an, -inf)).max(dim=1).values
    d_neg = torch.where(semihard.any(dim=1), closest_semihard, farthest)
    return torch.relu(d_ap - d_neg + margin).mean()

"""The head: a linear projection plus a residual two-layer branch, on frozen base embeddings.

``y = P x + W2 relu(W1 x + b1) + b2``. ``P`` starts as the top principal directions of the
training embeddings (the identity when the dimension is kept) and ``W2`` starts at zero, so an
untrained head already keeps the base model's cosine geometry; training only has to improve it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facerec.errors import FacerecError


class ProjectionHead(nn.Module):
    """Maps base embeddings (n, in_dim) to (n, out_dim); normalise the output to compare."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int) -> None:
        super().__init__()
        self.project = nn.Linear(in_dim, out_dim, bias=False)
        self.hidden = nn.Linear(in_dim, hidden)
        self.out = nn.Linear(hidden, out_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x) + self.out(torch.relu(self.hidden(x)))

    def init_projection(self, vectors: np.ndarray) -> None:
        """Start ``P`` as PCA of ``vectors`` (uncentred: cosine geometry), or the identity at full size."""
        out_dim, in_dim = self.project.weight.shape
        if out_dim == in_dim:
            weight = np.eye(in_dim, dtype=np.float32)
        else:  # top eigenvectors of X^T X (torch: its thread setting holds, unlike NumPy's BLAS)
            if len(vectors) < out_dim:
                raise FacerecError(f"{len(vectors)} training embeddings are too few for a {out_dim}-d head (it needs "
                                   f"at least {out_dim}): add images, or use --dim 0 (the base model's dimension) "
                                   f"or a --dim of at most {len(vectors)}")
            x = torch.from_numpy(np.asarray(vectors, np.float64))
            _, vecs = torch.linalg.eigh(x.T @ x)  # ascending eigenvalues
            weight = vecs[:, -out_dim:].flip(1).T.float().numpy()
        with torch.no_grad():
            self.project.weight.copy_(torch.from_numpy(weight))

"""ROC curves of verification results as a PNG (the ``plots`` extra: matplotlib)."""
from __future__ import annotations

import os

import numpy as np

from facerec.errors import FacerecError


def save_roc_png(path: os.PathLike | str, curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "") -> None:
    """ROC curves (log-scaled FAR axis) as a PNG; needs matplotlib (the 'plots' extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise FacerecError("--roc needs matplotlib: pip install 'facerec[plots]'") from None
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    for label, (fpr, tpr) in curves.items():
        ok = fpr > 0
        ax.plot(fpr[ok], tpr[ok], label=label)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    try:
        fig.savefig(str(path))
    except OSError as exc:
        raise FacerecError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)

"""The FaceNet tutorial's figure: embeddings projected to 3-D, one colour per identity.

Interactive HTML (plotly) or a static image (matplotlib, by the file's suffix).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from facerec.errors import FacerecError
from facerec.io.embeddings import EmbeddingTable

PROJECTIONS = ("pca", "tsne", "umap")
STATIC_SUFFIXES = (".png", ".svg", ".pdf", ".jpg")


def top_identities(labels: Sequence[str], top: int) -> list[str]:
    """The ``top`` labels with the most rows (ties broken by name)."""
    counts = Counter(labels)
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max(1, top)]]


def project_3d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, 3) coordinates of ``vectors`` by PCA, t-SNE (after PCA to 50-D) or UMAP."""
    x = np.asarray(vectors, np.float32)
    if len(x) < 4:
        raise FacerecError(f"need at least 4 embeddings to plot, got {len(x)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=3, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        if x.shape[1] > 50 and len(x) > 50:
            x = PCA(n_components=50, random_state=seed).fit_transform(x)
        perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
        return TSNE(n_components=3, perplexity=perplexity, init="pca", random_state=seed,
                    metric="cosine").fit_transform(x)
    if method == "umap":
        try:
            import umap  # type: ignore[import-not-found]
        except ImportError:
            raise FacerecError("--method umap needs the umap-learn package (pip install umap-learn)") from None
        return umap.UMAP(n_components=3, metric="cosine", random_state=seed).fit_transform(x)
    raise FacerecError(f"unknown method {method!r}; choose one of: {', '.join(PROJECTIONS)}")


def plot_embeddings(table: EmbeddingTable, out: Path, method: str = "pca", top: int = 10, seed: int = 0,
                    title: Optional[str] = None, after: Optional[tuple[str, np.ndarray]] = None) -> dict:
    """Write the 3-D scatter of the ``top`` largest identities to ``out`` (.html, or .png/.svg/.pdf).

    ``after``: ``(name, vectors)``, another embedding of the same rows (e.g. by a fine-tuned head),
    drawn beside the first: before and after, side by side.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix != ".html" and suffix not in STATIC_SUFFIXES:
        raise FacerecError(f"{out}: write .html (interactive) or one of {', '.join(STATIC_SUFFIXES)}")
    if table.labels is None:
        raise FacerecError("these embeddings have no labels: embed a folder-per-person dataset")
    names = top_identities(table.labels, top)
    keep = np.array([i for i, name in enumerate(table.labels) if name in set(names)], np.int64)
    labels = [table.labels[i] for i in keep]
    panels = [(table.model, project_3d(table.vectors[keep], method, seed))]
    if after is not None:
        panels.append((after[0], project_3d(np.asarray(after[1])[keep], method, seed)))
    title = title or f"{len(names)} identities, {len(keep)} faces, {method.upper()} of " + \
        " vs ".join(f"{name} embeddings" for name, _ in panels)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [table.paths[i] for i in keep]
    if suffix == ".html":
        _plotly(panels, labels, names, paths, title, out)
    else:
        _matplotlib(panels, labels, names, title, out)
    return {"out": str(out), "identities": len(names), "points": int(len(keep)), "method": method,
            "panels": [name for name, _ in panels]}


def _plotly(panels: list[tuple[str, np.ndarray]], labels: list[str], names: list[str], paths: list[str], title: str,
            out: Path) -> None:
    try:
        from plotly.subplots import make_subplots
        import plotly.graph_objects as go
    except ImportError:
        raise FacerecError("HTML plots need plotly: pip install 'facerec[plots]'") from None
    fig = make_subplots(rows=1, cols=len(panels), specs=[[{"type": "scene"}] * len(panels)],
                        subplot_titles=[name for name, _ in panels] if len(panels) > 1 else None)
    lab = np.array(labels)
    for col, (_, coords) in enumerate(panels, start=1):
        for name in names:
            m = lab == name
            fig.add_trace(go.Scatter3d(x=coords[m, 0], y=coords[m, 1], z=coords[m, 2], mode="markers", name=name,
                                       legendgroup=name, showlegend=col == 1,
                                       text=[p for p, k in zip(paths, m) if k],
                                       hovertemplate="%{text}<extra>" + name + "</extra>",
                                       marker={"size": 4, "opacity": 0.85}), row=1, col=col)
    fig.update_layout(title=title, legend={"itemsizing": "constant"}, margin={"l": 0, "r": 0, "b": 0, "t": 40})
    from facerec.io.atomic import write_atomic

    write_atomic(out, fig.to_html(include_plotlyjs=True, full_html=True).encode())


def _matplotlib(panels: list[tuple[str, np.ndarray]], labels: list[str], names: list[str], title: str,
                out: Path) -> None:
    try:
        import matplotlib
        from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone
    except ImportError:
        raise FacerecError("image plots need matplotlib: pip install 'facerec[plots]'") from None
    fig = Figure(figsize=(2 + 7 * len(panels), 7), dpi=120)
    cmap = matplotlib.colormaps["tab20" if len(names) > 10 else "tab10"]
    lab = np.array(labels)
    for col, (panel, coords) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), col, projection="3d")
        for i, name in enumerate(names):
            m = lab == name
            ax.scatter(coords[m, 0], coords[m, 1], coords[m, 2], s=10, color=cmap(i % cmap.N), label=name,
                       depthshade=True)
        ax.set_title(title if len(panels) == 1 else panel, fontsize=10)
    if len(panels) > 1:
        fig.suptitle(title, fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, markerscale=1.5, frameon=False)
    fig.tight_layout()
    import io

    from facerec.io.atomic import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format=out.suffix.lstrip(".").lower().replace("jpg", "jpeg"), bbox_inches="tight")
    write_atomic(out, buf.getvalue())

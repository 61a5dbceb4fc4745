"""Figures of embedding spaces (``plots`` extra: matplotlib, plotly; scikit-learn for t-SNE/PCA)."""
from facerec.plotting.scatter import METHODS, plot_embeddings, project_3d, top_identities

__all__ = ["METHODS", "plot_embeddings", "project_3d", "top_identities"]

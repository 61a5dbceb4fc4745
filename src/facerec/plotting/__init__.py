"""Figures of embedding spaces (``plots`` extra: matplotlib, plotly; scikit-learn for t-SNE/PCA)."""
from facerec.plotting.roc import save_roc_png
from facerec.plotting.scatter import PROJECTIONS, plot_embeddings, project_3d, top_identities

__all__ = ["PROJECTIONS", "plot_embeddings", "project_3d", "top_identities", "save_roc_png"]

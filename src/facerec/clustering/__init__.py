"""Group unlabelled faces into persons: Chinese whispers, DBSCAN or HDBSCAN on cosine similarity."""
from facerec.clustering.methods import METHODS, cluster_vectors
from facerec.clustering.metrics import bcubed, pairwise_prf

__all__ = ["METHODS", "cluster_vectors", "pairwise_prf", "bcubed"]

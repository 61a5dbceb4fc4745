"""Group unlabelled faces into persons: Chinese whispers, DBSCAN or HDBSCAN on cosine similarity."""
from facerec.clustering.methods import CLUSTER_MARGIN, METHODS, cluster_threshold, cluster_vectors
from facerec.clustering.metrics import bcubed, pairwise_prf

__all__ = ["CLUSTER_MARGIN", "cluster_threshold", "METHODS", "cluster_vectors", "pairwise_prf", "bcubed"]

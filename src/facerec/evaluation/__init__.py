"""Verification evaluation: pairs files, the k-fold protocol, cached embeddings, LFW."""
from facerec.evaluation.pairs import Pair, PairsError, generate_pairs, read_pairs
from facerec.evaluation.protocol import Evaluation, evaluate_scores

__all__ = ["Pair", "PairsError", "generate_pairs", "read_pairs", "Evaluation", "evaluate_scores"]

"""Whole-dataset jobs: parallel, resumable alignment and embedding."""

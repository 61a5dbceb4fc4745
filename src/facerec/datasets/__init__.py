"""Downloading benchmark datasets (LFW) with checksums verified."""

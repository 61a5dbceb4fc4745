"""Benchmark datasets: where they are (``paths``) and downloading them with checksums verified (``download``)."""
from facerec.datasets.paths import default_data_dir, lfw_dir, lfw_protocol_file

__all__ = ["default_data_dir", "lfw_dir", "lfw_protocol_file"]

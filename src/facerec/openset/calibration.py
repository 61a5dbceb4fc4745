"""Placeholder; written by bench/bench_identification.py --calibrate."""
from facerec.openset.thresholds import ImpostorTail

TAILS: dict[str, ImpostorTail] = {}

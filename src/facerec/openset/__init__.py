"""Open-set identification: thresholds by target FPIR that follow the gallery's size (see :mod:`.thresholds`)."""
from facerec.openset.thresholds import (DEFAULT_FPIR, WARN_FNIR, ImpostorTail, OpenSetThreshold, comparison_rate,
                                        fit_tail, identification_rate, open_set_threshold, validate_fpir)

__all__ = ["DEFAULT_FPIR", "WARN_FNIR", "ImpostorTail", "OpenSetThreshold", "comparison_rate", "fit_tail",
           "identification_rate", "open_set_threshold", "validate_fpir"]

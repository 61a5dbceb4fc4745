"""Face quality: a score in [0, 1] per face, and the ``--min-quality`` gate built on it."""
from facerec.quality.gate import (DEFAULT_ENROLL_MIN_QUALITY, LowQualityError, below_reason, check_min_quality,
                                  require_quality)
from facerec.quality.score import QualityParts, face_quality, head_pose, measure, quality_of, sub_scores

__all__ = ["QualityParts", "DEFAULT_ENROLL_MIN_QUALITY", "LowQualityError", "below_reason", "check_min_quality",
           "face_quality", "head_pose", "measure", "quality_of", "require_quality", "sub_scores"]

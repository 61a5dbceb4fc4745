"""Face alignment: warp a face so its landmarks land on a canonical template."""
from facerec.alignment.similarity import ARCFACE_TEMPLATE, align_face, estimate_similarity, template_for

__all__ = ["ARCFACE_TEMPLATE", "align_face", "estimate_similarity", "template_for"]

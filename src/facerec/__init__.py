"""facerec: detect, align, embed, verify, identify, cluster and evaluate faces.

>>> from facerec import FaceAnalyzer
>>> fa = FaceAnalyzer()
>>> result = fa.verify("a.jpg", "b.jpg")
"""
from facerec.analyzer import FaceAnalyzer, cosine_similarity
from facerec.errors import (FacerecError, ImageError, IncompatibleEmbeddingsError, ModelError,
                            MultipleFacesError, NoFaceError)
from facerec.io.images import load_image
from facerec.decisions import VerifyResult
from facerec.types import Detection, Face
from facerec.version import __version__


def __getattr__(name: str):
    """``facerec.Gallery`` on first use, so the base install (no FAISS) still imports facerec."""
    if name == "Gallery":
        from facerec.gallery import Gallery

        return Gallery
    raise AttributeError(f"module 'facerec' has no attribute {name!r}")


__all__ = ["FaceAnalyzer", "cosine_similarity", "Detection", "Face", "VerifyResult", "load_image",
           "FacerecError", "ImageError", "NoFaceError", "MultipleFacesError", "ModelError",
           "IncompatibleEmbeddingsError", "Gallery", "__version__"]

"""The one family of errors facerec raises on purpose.

Every message is a single line meant for a person: the CLI prints it after
``error:`` and exits with code 2, the service turns it into a 4xx response.
"""
from __future__ import annotations


class FacerecError(Exception):
    """Base class of every error facerec raises deliberately."""


class ImageError(FacerecError):
    """The input is not an image we can read (unreadable, truncated, not an image, too big)."""


class NoFaceError(FacerecError):
    """No face was found where one was required."""


class MultipleFacesError(FacerecError):
    """Several faces were found where exactly one was required."""


class ModelError(FacerecError):
    """A model is unknown, missing from the cache in offline mode, or failed its checksum."""


class ChecksumError(ModelError):
    """A downloaded weight file does not match its pinned SHA-256."""


class IncompatibleEmbeddingsError(FacerecError):
    """Embeddings from one model were handed to something built on another."""

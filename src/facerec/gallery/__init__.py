"""A face gallery: persons and their face vectors in one backend (SQLite with a FAISS cache, or Milvus)."""
from facerec.gallery.gallery import UNKNOWN, EnrollResult, Gallery, IdentifiedFace, Match
from facerec.gallery.backend import PersonExistsError, PersonNotFoundError

__all__ = ["Gallery", "IdentifiedFace", "Match", "EnrollResult", "PersonNotFoundError", "PersonExistsError", "UNKNOWN"]

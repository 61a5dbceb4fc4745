"""A face gallery: persons and their face vectors in SQLite, searched through a FAISS cache."""
from facerec.gallery.gallery import UNKNOWN, EnrollResult, Gallery, IdentifiedFace, Match
from facerec.gallery.store import PersonExistsError, PersonNotFoundError

__all__ = ["Gallery", "IdentifiedFace", "Match", "EnrollResult", "PersonNotFoundError", "PersonExistsError", "UNKNOWN"]

"""The service contract: a typed model for every response body (and the error body), so the
OpenAPI document describes exactly what the routes send and clients can be generated from it."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field

Box = list[float]
"""``[x1, y1, x2, y2]`` in image pixels."""


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code (see the table in the API description).")
    message: str = Field(description="One line for a person.")
    request_id: Optional[str] = Field(None, description="The request's id (also the X-Request-ID header).")


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer."""

    error: ErrorDetail


class DetectedFace(BaseModel):
    bbox: Box
    score: float = Field(description="Detector confidence.")
    landmarks: Optional[list[list[float]]] = Field(None, description="5 points: eyes, nose, mouth corners.")
    quality: Optional[float] = Field(None, description="Face quality in [0, 1].")
    fallback: Optional[bool] = Field(None, description="True when no face was found and a centred crop stood in.")


class EmbeddedFace(DetectedFace):
    embedding: list[float] = Field(description="Unit-length embedding vector.")


class Candidate(BaseModel):
    person_id: int
    name: str
    similarity: float


class IdentifiedFace(DetectedFace):
    name: str = Field(description="The person, or 'unknown' below the threshold.")
    person_id: Optional[int]
    similarity: float
    candidates: list[Candidate]


class Person(BaseModel):
    id: int
    name: str
    faces: int = Field(description="Number of enrolled faces.")
    created: float = Field(description="Unix time.")


class StoredFace(BaseModel):
    id: int
    person_id: int
    image_sha256: str
    image_path: Optional[str]
    bbox: Box
    det_score: float


class DetectResponse(BaseModel):
    width: int
    height: int
    faces: list[DetectedFace]


class EmbedResponse(BaseModel):
    model: str
    dim: int
    width: int
    height: int
    faces: list[EmbeddedFace]


class VerifyResponse(BaseModel):
    """Two images (``faces``: the face used in each), or an image against a person (``person``, ``face``)."""

    same: bool
    similarity: float
    threshold: float
    model: str
    faces: Optional[list[DetectedFace]] = None
    person: Optional[Person] = None
    face: Optional[DetectedFace] = None


class IdentifyResponse(BaseModel):
    model: str
    threshold: float
    width: int
    height: int
    faces: list[IdentifiedFace]


class PersonList(BaseModel):
    count: int
    persons: list[Person]


class PersonCreated(BaseModel):
    person: Person
    added: int = Field(description="Faces enrolled by this request.")
    face_ids: list[int]


class PersonDetail(BaseModel):
    person: Person
    faces: list[StoredFace]


class PersonOnly(BaseModel):
    person: Person


class PersonDeleted(BaseModel):
    deleted: Person
    faces_removed: int


class Health(BaseModel):
    """Liveness; the gallery figures only for a caller with the key when keys are set."""

    status: str
    auth: bool
    version: Optional[str] = None
    model: Optional[str] = None
    threshold: Optional[float] = None
    persons: Optional[int] = None
    faces: Optional[int] = None
    workers: Optional[int] = None


class LoadedModels(BaseModel):
    embedder: str = Field(description="Embedder id (the vector space of the gallery).")
    dim: int
    threshold: float
    detector: str
    flip: bool
    backend: Optional[str] = Field(None, description="Inference backend (onnxruntime, openvino).")
    device: Optional[str] = None
    threads: int = Field(description="Inference threads, each with its own copy of the models.")


class ServiceHealth(BaseModel):
    """``/v1/health``: what is loaded and how big the gallery is."""

    status: str
    version: str
    models: LoadedModels
    persons: int
    faces: int
    auth: bool


ERRORS = {status: {"model": ErrorBody, "description": text} for status, text in (
    (400, "Bad input: unreadable image, malformed body"), (401, "API key missing or wrong"),
    (403, "Forbidden (unexpected Host or Origin)"), (404, "No such person or route"),
    (409, "Conflict (name taken, other embedder)"), (413, "Body too large"), (415, "Unsupported content type"),
    (422, "Invalid or missing field, no face, several faces"))}
"""The error answers every route may give, all with :class:`ErrorBody` (replacing FastAPI's
``HTTPValidationError``, which this API never sends)."""

"""The service contract: a typed model for every response body (and the error body) and for the
fields of every request body, so the OpenAPI document describes exactly what the routes take and
send and clients can be generated from it."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

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
    threshold: Optional[float] = Field(None, description="The threshold this face was held against.")
    fpir: Optional[float] = Field(None, description="The FPIR target the threshold came from (null: given explicitly "
                                                    "or the embedder has no impostor calibration).")
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


class OpenSetRule(BaseModel):
    """The identification threshold in force for the gallery's current size, and where it came from."""

    threshold: float
    fpir: Optional[float] = Field(None, description="FPIR target (share of strangers named) it was derived from.")
    persons: int = Field(description="Enrolled persons it was derived for.")
    comparison_rate: Optional[float] = Field(None, description="Per-comparison false-match rate the target needs.")
    source: Literal["fpir", "explicit", "uncalibrated"]
    note: str
    expected_fnir: Optional[float] = Field(None, description="Share of enrolled persons' photos it is expected to miss.")
    warning: Optional[str] = Field(None, description="Set when that miss rate is above the stated limit (10%).")


class IdentifyResponse(BaseModel):
    model: str
    threshold: float
    fpir: Optional[float] = Field(None, description="The FPIR target the threshold came from (null: given explicitly).")
    identify: Optional[OpenSetRule] = None
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
    identify_threshold: Optional[float] = Field(None, description="Identification threshold for this gallery size.")
    fpir: Optional[float] = Field(None, description="The FPIR target it came from.")
    persons: Optional[int] = None
    faces: Optional[int] = None
    workers: Optional[int] = None


class LoadedModels(BaseModel):
    embedder: str = Field(description="Embedder id (the vector space of the gallery).")
    dim: int
    threshold: float
    detector: str
    flip: bool
    backend: Optional[str] = Field(None, description="Inference backend asked for (auto, onnxruntime, openvino).")
    runtimes: dict[str, str] = Field(default_factory=dict, description="The library each model runs on, by model "
                                     "name (auto picks per model), e.g. {\"scrfd_500m\": \"onnxruntime\"}.")
    device: Optional[str] = None
    min_score: Optional[float] = Field(None, description="The detector's score cut-off (None: the detector's own).")
    min_face: int = Field(0, description="Faces smaller than this many pixels (shorter box side) are ignored.")
    threads: int = Field(description="Inference threads, each with its own copy of the models.")


class ServiceHealth(BaseModel):
    """``/v1/health``: what is loaded and how big the gallery is."""

    status: str
    version: str
    models: LoadedModels
    persons: int
    faces: int
    auth: bool
    identify: Optional[OpenSetRule] = Field(None, description="The identification threshold for this gallery size "
                                            "(models.threshold is the 1:1 verification one).")
    replicas: Optional[int] = None
    """Service replicas asked for (``serve --engine ray`` only)."""
    nodes: Optional[dict[str, int]] = None
    """Ray node id -> replicas running there (``serve --engine ray`` only)."""
    node: Optional[str] = None
    """The Ray node of the replica that answered (``serve --engine ray`` only)."""


# -- request bodies: the fields besides the images (multipart form fields or JSON keys) ---------------
NAME_PATTERN = r"[^\s\x1c-\x1f\x85]"
"""A name holds something besides whitespace (Python's, which also counts \\x1c-\\x1f and \\x85)."""


class FormFields(BaseModel):
    """A route's fields besides its images; no other field is taken (422 ``invalid_request``)."""

    model_config = ConfigDict(extra="forbid")  # a form's values are strings already; JSON's must be typed


class VerifyFields(FormFields):
    person_id: Optional[int] = Field(None, description="Verify the image against this person.")


class PickFields(FormFields):
    pick: Optional[str] = Field(None, pattern=r"^\s*(largest|center|centre|central|[0-9]{1,6})\s*$", description="Which face of an image with several: largest, center or a face "
                                                  "number (0 = largest). Without it such an image is refused (422 "
                                                  "multiple_faces, naming the boxes).")
    face: Optional[int] = Field(None, ge=0, le=999_999, description="Old spelling of a face number for pick.",
                                json_schema_extra={"deprecated": True})


class PersonFields(PickFields):
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN, description="The person's name.")


class PersonPatch(FormFields):
    """Exactly one of ``name`` and ``merge_into``."""

    name: Optional[str] = Field(None, min_length=1, max_length=200, pattern=NAME_PATTERN, description="The new name.")
    merge_into: Optional[int] = Field(None, description="Move this person's faces to that person, then delete it.")


# -- video jobs -----------------------------------------------------------------------------------------
class VideoJobStarted(BaseModel):
    job: str = Field(description="The job's id.")
    status: Literal["queued", "running", "done", "failed"]
    poll: str = Field(description="Where to GET the job's progress and timeline.")


class VideoTrack(BaseModel):
    """One line of the timeline: a track, written when it ends."""

    track: int
    person: str = Field(description="The gallery's name, 'unknown', or person-N / unknown-N of the clustering.")
    similarity: Optional[float] = Field(description="Mean similarity of the winning votes (None without a gallery).")
    cluster: Optional[str] = Field(description="The cluster of a track no gallery person matched.")
    votes: Optional[dict[str, int]] = Field(description="Votes per name (None without a gallery).")
    samples: int = Field(description="Faces of the track embedded for the vote.")
    first: float = Field(description="Seconds into the video.")
    last: float
    first_frame: int
    last_frame: int
    frames: int
    detections: int = Field(description="Frames where the detector found this face.")
    box: Box = Field(description="The last box.")
    quality: float = Field(description="Best face quality of the track, in [0, 1].")
    skipped: Optional[str] = Field(description="Why no face of the track voted (all below min_quality), else None.")


class VideoSummary(BaseModel):
    source: str
    frames: int
    detected_frames: int
    video_seconds: float
    wall_seconds: float
    fps: float
    realtime_factor: float = Field(description="Video seconds per wall-clock second.")
    tracks: int
    dropped_tracks: int = Field(description="Tracks too short to trust.")
    interrupted: bool


class VideoJob(BaseModel):
    job: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="Share of the frames done, in [0, 1].")
    frames: int
    total_frames: int = Field(description="Frames in the video (0 when unknown).")
    timeline: list[VideoTrack] = Field(description="Every track ended so far.")
    summary: Optional[VideoSummary] = Field(description="When done: the run's speed and counts.")
    error: Optional[str] = Field(description="When failed: why.")


ERRORS = {status: {"model": ErrorBody, "description": text} for status, text in (
    (400, "Bad input: unreadable image, malformed body"), (401, "API key missing or wrong"),
    (403, "Forbidden (unexpected Host or Origin)"), (404, "No such person or route"),
    (409, "Conflict (name taken, other embedder)"), (413, "Body too large"), (415, "Unsupported content type"),
    (422, "Invalid or missing field, no face, several faces"))}
"""The error answers every route may give, all with :class:`ErrorBody` (replacing FastAPI's
``HTTPValidationError``, which this API never sends)."""

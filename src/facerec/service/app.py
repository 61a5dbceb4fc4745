"""The FastAPI application: detection, embedding, verification, identification and a persons API.

Every endpoint under ``/v1`` takes multipart uploads or JSON with base64 images, needs an API
key when keys are configured, and answers bad input with a 4xx JSON error, never a 500.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from facerec import __version__
from facerec.errors import FacerecError, ImageError
from facerec.gallery.gallery import Gallery, face_record, read_meta
from facerec.io.images import load_image
from facerec.service import errors
from facerec.service.inputs import Payload, openapi_body, read_payload
from facerec.service.limits import BodySizeLimit
from facerec.service.pool import InferencePool

STATIC = Path(__file__).with_name("static")

ERRORS_DOC = """

Errors are JSON `{"error": {"code": ..., "message": ...}}`:

| status | code | when |
|---|---|---|
| 400 | `bad_image` | the upload is not a readable image (not an image, truncated, empty, bad base64) |
| 400 | `bad_video` | a `/v1/video` upload is not a video OpenCV can read |
| 400 | `bad_request` | malformed JSON or multipart body, or an impossible operation (merge into itself) |
| 401 | `unauthorized` | API key missing or wrong |
| 404 | `unknown_person` | no person with that id |
| 404 | `not_found` | no such endpoint (or no such video job) |
| 405 | `method_not_allowed` | wrong HTTP method |
| 409 | `person_exists` | a person with that name already exists |
| 413 | `too_large` | the request body exceeds the size limit |
| 415 | `unsupported_media_type` | neither multipart/form-data nor application/json |
| 422 | `no_face` | no face where one is needed (or no face with that index) |
| 422 | `missing_image`, `missing_field`, `invalid_name`, `invalid_request` | a required part is missing or invalid |
"""


@dataclass
class ServiceConfig:
    """How to run the service."""

    db: Path = Path("gallery.db")
    model: Optional[str] = None
    detector: Optional[str] = None
    api_keys: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    workers: int = 2
    max_bytes: int = 10 * 1024 * 1024
    offline: Optional[bool] = None
    threshold: Optional[float] = None

    def check_exposure(self) -> None:
        """Refuse to serve beyond loopback without an API key."""
        if not self.api_keys and not is_loopback(self.host):
            raise FacerecError(f"refusing to serve on {self.host} without an API key "
                               "(pass --api-key or set FACEREC_API_KEYS, or bind to 127.0.0.1)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _load(data: bytes, name: str = "image"):
    """Decode an uploaded image, naming the field in the error."""
    try:
        return load_image(data)
    except ImageError as exc:
        raise ImageError(f"{name}: " + str(exc).split(": ", 1)[-1]) from None


def _detect(analyzer, data: bytes) -> dict:
    img = _load(data)
    dets = analyzer.detect(img)
    return {"width": img.shape[1], "height": img.shape[0], "faces": [d.to_dict() for d in dets]}


def _embed(analyzer, data: bytes) -> dict:
    img = _load(data)
    faces = analyzer.faces(img)
    return {"model": analyzer.model, "dim": analyzer.embedder.dim, "width": img.shape[1], "height": img.shape[0],
            "faces": [f.to_dict(with_embedding=True) for f in faces]}


def _faces(analyzer, data: bytes):
    img = _load(data)
    return img.shape[1], img.shape[0], analyzer.faces(img)


def _largest(analyzer, data: bytes):
    return analyzer.face(_load(data))


def _record(analyzer, data: bytes, face_index: int):
    _load(data)  # a clear error for a bad upload
    return face_record(analyzer, data, face_index)


def _verify(analyzer, a: bytes, b: bytes, threshold: Optional[float]) -> dict:
    return analyzer.verify(_load(a, "image_a"), _load(b, "image_b"), threshold=threshold).to_dict()


def create_app(cfg: ServiceConfig) -> FastAPI:
    """Load the models and the gallery once, and build the app."""
    from facerec.detection.factory import DEFAULT_DETECTOR
    from facerec.recognition.factory import DEFAULT_EMBEDDER

    meta = read_meta(cfg.db)
    model = cfg.model or meta.get("embedder_name") or DEFAULT_EMBEDDER
    detector = cfg.detector or meta.get("detector") or DEFAULT_DETECTOR
    pool = InferencePool(model, detector, flip=meta.get("flip") == "1", workers=cfg.workers, offline=cfg.offline,
                         threshold=cfg.threshold)
    gallery = Gallery(cfg.db, pool.analyzer, embedder_name=model, threshold=cfg.threshold)
    if "detector" not in meta:
        gallery.store.set_meta({"detector": detector})
    keys = [k.encode() for k in cfg.api_keys if k]

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await run_in_threadpool(gallery.index_ids)  # load or rebuild the index before the first request
        yield
        if getattr(app.state, "video_jobs", None) is not None:
            app.state.video_jobs.close()
        pool.close()
        gallery.close()

    app = FastAPI(title="facerec", version=__version__, lifespan=lifespan,
                  description="Face detection, verification and identification against a gallery of persons. "
                              "Images go as multipart file uploads or as base64 strings in JSON. "
                              + ("Send the API key in `X-API-Key` (or `Authorization: Bearer`). " if keys else "")
                              + ERRORS_DOC)
    app.state.gallery, app.state.pool, app.state.config = gallery, pool, cfg
    app.state.models = {"model": model, "detector": detector, "flip": meta.get("flip") == "1"}
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=cfg.max_bytes)

    async def require_key(request: Request) -> None:
        if not keys:
            return
        given = request.headers.get("x-api-key", "")
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given or not any(hmac.compare_digest(given.encode(), k) for k in keys):
            raise errors.ApiError(401, "unauthorized", "missing or wrong API key (send it in the X-API-Key header)")

    auth = [Depends(require_key)]
    one_image = openapi_body({"image": "The image."})
    k_query = Query(1, ge=1, le=100, description="Candidates per face.")
    thr_query = Query(None, ge=-1.0, le=1.0, description="Cosine threshold (default: the embedder's calibrated one).")

    # -- service -------------------------------------------------------------------------------
    @app.get("/health", tags=["service"], summary="Liveness and gallery size")
    async def health() -> dict:
        persons, faces = await run_in_threadpool(gallery.store.count)
        return {"status": "ok", "version": __version__, "model": gallery.embedder_id, "threshold": gallery.threshold,
                "persons": persons, "faces": faces, "workers": pool.workers, "auth": bool(keys)}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- single images -------------------------------------------------------------------------
    @app.post("/v1/detect", tags=["faces"], dependencies=auth, openapi_extra=one_image,
              summary="Every face: box, score, 5 landmarks")
    async def detect(request: Request) -> dict:
        p = await read_payload(request, ("image",))
        return await pool.run(_detect, p.image("image"))

    @app.post("/v1/embed", tags=["faces"], dependencies=auth, openapi_extra=one_image,
              summary="Every face with its embedding")
    async def embed(request: Request) -> dict:
        p = await read_payload(request, ("image",))
        return await pool.run(_embed, p.image("image"))

    @app.post("/v1/verify", tags=["faces"], dependencies=auth, summary="Same person? Two images, or an image and a person",
              openapi_extra=openapi_body({"image_a": "First image.", "image_b": "Second image (or give person_id).",
                                          "image": "With person_id: the image to check."},
                                         {"person_id": {"type": "integer", "description": "Verify against this person."}},
                                         required=[]))
    async def verify(request: Request, threshold: Optional[float] = thr_query) -> dict:
        p = await read_payload(request, ("image_a", "image_b", "image"))
        pid = p.text("person_id")
        if pid is not None:
            person_id = _int_id(pid)
            await run_in_threadpool(gallery.store.person, person_id)
            data = (p.images("image", required=False) or p.images("image_a"))[0]
            face = await pool.run(_largest, data)
            out = await run_in_threadpool(gallery.verify_vector, person_id, face.embedding, threshold)
            out["face"] = face.to_dict()
            return out
        return await pool.run(_verify, p.image("image_a"), p.image("image_b"), threshold)

    @app.post("/v1/identify", tags=["gallery"], dependencies=auth, openapi_extra=one_image,
              summary="Name every face (top-k persons; 'unknown' below the threshold)")
    async def identify(request: Request, k: int = k_query, threshold: Optional[float] = thr_query) -> dict:
        p = await read_payload(request, ("image",))
        width, height, faces = await pool.run(_faces, p.image("image"))
        named = await run_in_threadpool(gallery.identify_faces, faces, k, threshold)
        thr = gallery.threshold if threshold is None else threshold
        return {"model": gallery.embedder_id, "threshold": thr, "width": width, "height": height,
                "faces": [f.to_dict() for f in named]}

    # -- persons -------------------------------------------------------------------------------
    @app.get("/v1/persons", tags=["persons"], dependencies=auth, summary="Every person with their face count")
    async def list_persons() -> dict:
        persons = await run_in_threadpool(gallery.persons)
        return {"count": len(persons), "persons": [x.to_dict() for x in persons]}

    async def _records(p: Payload, required: bool) -> list:
        face_index = p.integer("face", 0)
        return [await pool.run(_record, data, face_index) for data in p.images("image", required=required)]

    @app.post("/v1/persons", tags=["persons"], dependencies=auth, status_code=201,
              summary="Create a person, optionally with face images",
              openapi_extra=openapi_body({"image": "Face image(s) to enroll (repeat the field; in JSON 'images' "
                                                   "takes a list)."},
                                         {"name": {"type": "string"},
                                          "face": {"type": "integer", "description": "Which face of each image, "
                                                   "largest first (default 0)."}}, required=["name"]))
    async def create_person(request: Request) -> JSONResponse:
        p = await read_payload(request, ("image",))
        name = p.text("name", required=True)
        if await run_in_threadpool(_exists, gallery, name):
            raise errors.ApiError(409, "person_exists", f"a person named {name!r} already exists")
        records = await _records(p, required=False)
        if records:
            pid, ids = await run_in_threadpool(gallery.add_records, name, records)
        else:
            pid, ids = (await run_in_threadpool(gallery.create_person, name)).id, []
        person = await run_in_threadpool(gallery.person, pid)
        return JSONResponse({"person": person.to_dict(), "added": len(ids), "face_ids": ids}, status_code=201)

    @app.get("/v1/persons/{person_id}", tags=["persons"], dependencies=auth, summary="A person and their faces")
    async def get_person(person_id: int) -> dict:
        person = await run_in_threadpool(gallery.person, person_id)
        faces = await run_in_threadpool(gallery.store.faces_of, person_id)
        return {"person": person.to_dict(), "faces": [f.to_dict() for f in faces]}

    @app.patch("/v1/persons/{person_id}", tags=["persons"], dependencies=auth,
               summary="Rename (name) or merge into another person (merge_into)",
               openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                   "type": "object", "properties": {"name": {"type": "string"},
                                                    "merge_into": {"type": "integer"}}}}}}})
    async def patch_person(person_id: int, request: Request) -> dict:
        p = await read_payload(request, ())
        name, into = p.text("name"), p.text("merge_into")
        if (name is None) == (into is None):
            raise errors.ApiError(422, "invalid_request", "give exactly one of 'name' or 'merge_into'")
        if name is not None:
            person = await run_in_threadpool(gallery.rename, person_id, name)
        else:
            target = _int_id(into)
            await run_in_threadpool(gallery.person, target)
            person = await run_in_threadpool(gallery.merge, person_id, target)
        return {"person": person.to_dict()}

    @app.delete("/v1/persons/{person_id}", tags=["persons"], dependencies=auth,
                summary="Delete a person and every vector of theirs")
    async def delete_person(person_id: int) -> dict:
        person = await run_in_threadpool(gallery.person, person_id)
        removed = await run_in_threadpool(gallery.delete, person_id)
        return {"deleted": person.to_dict(), "faces_removed": removed}

    @app.post("/v1/persons/{person_id}/faces", tags=["persons"], dependencies=auth, status_code=201,
              summary="Add face images to a person",
              openapi_extra=openapi_body({"image": "Face image(s) (repeat the field; in JSON 'images' takes a list)."},
                                         {"face": {"type": "integer", "description": "Which face of each image, "
                                                   "largest first (default 0)."}}))
    async def add_faces(person_id: int, request: Request) -> JSONResponse:
        await run_in_threadpool(gallery.person, person_id)
        p = await read_payload(request, ("image",))
        records = await _records(p, required=True)
        pid, ids = await run_in_threadpool(gallery.add_records, person_id, records, None, False)
        person = await run_in_threadpool(gallery.person, pid)
        return JSONResponse({"person": person.to_dict(), "added": len(ids), "face_ids": ids}, status_code=201)

    from facerec.service.video import router as video_router

    app.include_router(video_router, dependencies=auth)
    return app


def _exists(gallery: Gallery, name: str) -> bool:
    try:
        gallery.person(name)
        return True
    except FacerecError:
        return False


def _int_id(value: str | None) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise errors.ApiError(422, "invalid_request", f"person id must be an integer, not {value!r}") from None


def app_from_env() -> FastAPI:
    """An app configured from ``FACEREC_DB``/``FACEREC_API_KEYS`` (for ``uvicorn --factory``)."""
    keys = [k.strip() for k in os.environ.get("FACEREC_API_KEYS", "").split(",") if k.strip()]
    return create_app(ServiceConfig(db=Path(os.environ.get("FACEREC_DB", "gallery.db")), api_keys=keys))

"""The FastAPI application: detection, embedding, verification, identification and a persons API.

Every endpoint under ``/v1`` takes multipart uploads or JSON with base64 images, needs an API
key when keys are configured, and answers bad input with a 4xx JSON error, never a 500.
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from facerec import __version__
from facerec.errors import FacerecError
from facerec.gallery.gallery import Gallery, gallery_pipeline
from facerec.gallery.milvus_store import gallery_location
from facerec.models.pipeline import PipelineSpec
from facerec.service import errors
from facerec.service import video
from facerec.service.deps import AUTH, Services
from facerec.service.observe import RequestContext
from facerec.service.schemas import ERRORS
from facerec.service.limits import BodySizeLimit
from facerec.service.pool import InferencePool
from facerec.service.security import RequestGuard, is_loopback
from facerec.service.routes import faces, meta, persons

ERRORS_DOC = """

Errors are JSON `{"error": {"code": ..., "message": ..., "request_id": ...}}` (the id is also the
`X-Request-ID` header of every answer; send your own to have it used):

| status | code | when |
|---|---|---|
| 400 | `bad_image` | the upload is not a readable image (not an image, truncated, empty, bad base64) |
| 400 | `bad_video` | a `/v1/video` upload is not a video OpenCV can read (or its frames exceed the pixel limit) |
| 400 | `bad_request` | malformed JSON or multipart body |
| 401 | `unauthorized` | API key missing or wrong |
| 403 | `forbidden` | a write from a web page of another origin, an unexpected `Host` header, or a key-less service reached off loopback |
| 404 | `unknown_person` | no person with that id |
| 404 | `not_found` | no such endpoint (or no such video job) |
| 405 | `method_not_allowed` | wrong HTTP method |
| 408 | `request_timeout` | the request body did not arrive in time (`FACEREC_BODY_TIMEOUT`, 60 s) |
| 409 | `conflict` | an impossible operation (merging a person into itself) |
| 409 | `person_exists` | a person with that name already exists |
| 413 | `too_large` | the request body exceeds the size limit |
| 415 | `unsupported_media_type` | neither multipart/form-data nor application/json |
| 422 | `no_face` | no face where one is needed (or no face with that index) |
| 422 | `multiple_faces` | several faces in an image to enroll and no `pick` saying which (the message names their boxes) |
| 422 | `missing_image`, `missing_field`, `invalid_name`, `invalid_request` | a required part is missing or invalid |
| 429 | `too_many_jobs` | too many `/v1/video` jobs queued or running, overall or for this API key |
| 503 | `gallery_unavailable` | the gallery's Milvus server is down or unreachable, or refused the operation: try again later |
"""


@dataclass
class ServiceConfig:
    """How to run the service."""

    db: Path | str = Path("gallery.db")
    """An SQLite file, or a ``milvus://`` / ``http(s)://`` Milvus gallery."""
    spec: PipelineSpec = field(default_factory=PipelineSpec)
    """The pipeline (models, threshold, detector cut-offs, backend, device); its model fields count only
    where named in ``given``."""
    given: tuple[str, ...] = ()
    """The spec's model fields (model, detector, flip) the user chose: they win over the gallery's record
    (the others: the record's, else the defaults)."""
    api_keys: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    workers: int = 2
    max_bytes: int = 10 * 1024 * 1024
    fpir: Optional[float] = None
    """Share of strangers identification may name (default 1%); its threshold follows the gallery's size."""
    allowed_hosts: list[str] = field(default_factory=list)
    """Host names besides loopback that a key-less service answers to (``--allow-host``)."""
    allowed_origins: list[str] = field(default_factory=list)
    """Web origins (``https://app.example``) allowed to send writes (``--allow-origin``; ``*`` for any)."""
    request_id_header: bool = True
    """Set ``X-Request-ID`` on answers; False behind Ray Serve's proxy, which sets the id it passed in."""

    def check_exposure(self) -> None:
        """Refuse to serve beyond loopback without an API key."""
        if not self.api_keys and not is_loopback(self.host):
            raise FacerecError(f"refusing to serve on {self.host} without an API key "
                               "(pass --api-key or set FACEREC_API_KEYS, or bind to 127.0.0.1)")


def create_app(cfg: ServiceConfig) -> FastAPI:
    """Load the models and the gallery once, and build the app from the routers."""
    pipe = gallery_pipeline(cfg.db, **cfg.spec.chosen(cfg.given))
    spec = replace(cfg.spec, model=pipe.model, detector=pipe.detector, flip=pipe.flip)
    pool = InferencePool(spec, workers=cfg.workers)
    gallery = Gallery(cfg.db, pool.analyzer, embedder_name=pipe.model, threshold=spec.threshold, fpir=cfg.fpir)
    pipe.record(gallery)
    services = Services(gallery, pool, [k.encode() for k in cfg.api_keys if k])

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await run_in_threadpool(gallery.index_ids)  # load or rebuild the index before the first request
        yield
        if getattr(app.state, "video_jobs", None) is not None:
            app.state.video_jobs.close()
        pool.close()
        gallery.close()

    app = FastAPI(title="facerec", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Face detection, verification and identification against a gallery of persons. "
                              "Images go as multipart file uploads or as base64 strings in JSON. "
                              + ("Send the API key in `X-API-Key` (or `Authorization: Bearer`). "
                                 if services.keys else "")
                              + ERRORS_DOC)
    app.state.services = services
    # what the video jobs build their own analyzer and gallery lookups from
    app.state.gallery, app.state.config, app.state.spec = gallery, cfg, spec
    app.state.models = {"model": pipe.model, "detector": pipe.detector, "flip": pipe.flip}
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=cfg.max_bytes)
    app.add_middleware(RequestGuard, keyed=bool(services.keys), allowed_hosts=[cfg.host, *cfg.allowed_hosts],
                       allowed_origins=cfg.allowed_origins)  # refused before the body is read
    app.add_middleware(RequestContext, set_header=cfg.request_id_header)  # outermost: every answer gets its request id, every request a log line
    for router in (meta.router, faces.router, persons.router):
        app.include_router(router)
    app.include_router(video.router, dependencies=AUTH, responses=ERRORS)
    app.mount("/static", StaticFiles(directory=meta.STATIC), name="static")
    meta.install_docs(app)
    if not services.keys:
        _without_security(app)
    return app


def _without_security(app: FastAPI) -> None:
    """A key-less service's document names no API-key scheme: it asks for none (a client, or a fuzzer
    sending a wrong key, must not expect a 401)."""
    build = app.openapi

    def openapi() -> dict:
        doc = build()
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                if isinstance(op, dict):
                    op.pop("security", None)
        doc.get("components", {}).pop("securitySchemes", None)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """An app configured from ``FACEREC_DB``/``FACEREC_API_KEYS`` (for ``uvicorn --factory``)."""
    keys = env_list("FACEREC_API_KEYS")
    return create_app(ServiceConfig(db=gallery_location(os.environ.get("FACEREC_DB", "gallery.db")), api_keys=keys,
                                    allowed_hosts=env_list("FACEREC_ALLOWED_HOSTS"),
                                    allowed_origins=env_list("FACEREC_ALLOWED_ORIGINS")))


def env_list(name: str) -> list[str]:
    """A comma-separated environment variable as a list (empty items dropped)."""
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]

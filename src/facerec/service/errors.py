"""Every error leaves the service as JSON ``{"error": {"code", "message"}}`` with a 4xx status."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from facerec.errors import (FacerecError, ImageError, IncompatibleEmbeddingsError, ModelError, MultipleFacesError,
                            NoFaceError)
from facerec.io.text import safe_text
from facerec.gallery.backend import GalleryUnavailableError, InvalidNameError, PersonExistsError, PersonNotFoundError

log = logging.getLogger("facerec.service")


class ApiError(Exception):
    """An error with its HTTP status and machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "invalid_request"}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    """The JSON error; the message may quote client input, so it is made encodable first."""
    return JSONResponse({"error": {"code": code, "message": safe_text(message)}}, status_code=status, headers=headers)


_STATUS: tuple[tuple[type, int, str], ...] = (
    (ImageError, 400, "bad_image"),
    (NoFaceError, 422, "no_face"),
    (MultipleFacesError, 422, "multiple_faces"),
    (PersonNotFoundError, 404, "unknown_person"),
    (InvalidNameError, 422, "invalid_name"),
    (PersonExistsError, 409, "person_exists"),
    (IncompatibleEmbeddingsError, 409, "incompatible_embeddings"),
    (ModelError, 503, "model_unavailable"),
    (GalleryUnavailableError, 503, "gallery_unavailable"),
)
"""facerec error class -> (HTTP status, error code); the first match wins."""


def facerec_status(exc: FacerecError) -> tuple[int, str]:
    """HTTP status and code of a facerec error."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 400, "bad_request"


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives for the request's path (a 405's ``Allow``)."""
    import re

    path = request.url.path
    methods: set[str] = set()
    for template, ops in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in ops if m.lower() in ("get", "put", "post", "delete", "patch", "head")}
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that shape every error response."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(FacerecError)
    async def _facerec(_: Request, exc: FacerecError) -> JSONResponse:
        status, code = facerec_status(exc)
        return error_response(status, code, " ".join(str(exc).split()) or code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
        return error_response(422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names the first matching route's methods only
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, code, detail, headers=headers or None)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> Response:  # the client left: not a server error
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:  # a bug, never bad input
        log.exception("internal error")
        return error_response(500, "internal_error", f"internal error ({type(exc).__name__})")

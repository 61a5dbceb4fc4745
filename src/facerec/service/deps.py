"""What every route depends on: the loaded gallery and inference pool, and the API-key check."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Optional

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from facerec.gallery.gallery import Gallery
from facerec.service.errors import ApiError
from facerec.service.pool import InferencePool


@dataclass
class Services:
    """Loaded once by ``create_app`` and shared by every request."""

    gallery: Gallery
    pool: InferencePool
    keys: list[bytes]


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_gallery(request: Request) -> Gallery:
    return get_services(request).gallery


def get_pool(request: Request) -> InferencePool:
    return get_services(request).pool


API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                       description="One of the service's API keys (when it has any).")
BEARER = HTTPBearer(auto_error=False, scheme_name="Bearer", description="The API key as a bearer token.")


def require_key(request: Request, _key: Optional[str] = Security(API_KEY),
                _bearer: Optional[HTTPAuthorizationCredentials] = Security(BEARER)) -> None:
    """The dependency that declares the two schemes in OpenAPI and checks them (:func:`check_key`)."""
    check_key(request)


def presented_key(request: Request) -> str:
    """The API key a request carries (``X-API-Key``, else ``Authorization: Bearer``), "" without one."""
    given = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return given


def check_key(request: Request) -> None:
    """Refuse the request unless it carries a configured key (``X-API-Key`` or ``Authorization: Bearer``)."""
    keys = get_services(request).keys
    if not keys:
        return
    given = presented_key(request)
    if not given or not any(hmac.compare_digest(given.encode(), k) for k in keys):
        raise ApiError(401, "unauthorized", "missing or wrong API key (send it in the X-API-Key header)")


GalleryDep = Annotated[Gallery, Depends(get_gallery)]
PoolDep = Annotated[InferencePool, Depends(get_pool)]
AUTH = [Depends(require_key)]

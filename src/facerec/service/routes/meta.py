"""Liveness and the web page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from facerec import __version__
from facerec.service.deps import Services, get_services, require_key
from facerec.service.errors import ApiError

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


@router.get("/health", tags=["service"], summary="Liveness; gallery size too (behind the key when keys are set)")
async def health(request: Request, services: Services = Depends(get_services)) -> dict:
    gallery = services.gallery
    try:
        require_key(request)
    except ApiError:  # liveness stays open; what the gallery holds does not
        return {"status": "ok", "auth": True}
    persons, faces = await run_in_threadpool(gallery.store.count)
    return {"status": "ok", "version": __version__, "model": gallery.embedder_id, "threshold": gallery.threshold,
            "persons": persons, "faces": faces, "workers": services.pool.workers, "auth": bool(services.keys)}


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")

"""Liveness and the web page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from facerec import __version__
from facerec.service.deps import Services, get_services

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


@router.get("/health", tags=["service"], summary="Liveness and gallery size")
async def health(services: Services = Depends(get_services)) -> dict:
    gallery = services.gallery
    persons, faces = await run_in_threadpool(gallery.store.count)
    return {"status": "ok", "version": __version__, "model": gallery.embedder_id, "threshold": gallery.threshold,
            "persons": persons, "faces": faces, "workers": services.pool.workers, "auth": bool(services.keys)}


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")

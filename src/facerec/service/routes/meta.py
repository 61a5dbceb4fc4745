"""Liveness and the web page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from facerec import __version__
from facerec.service.deps import AUTH, Services, check_key, get_services
from facerec.service.errors import ApiError
from facerec.service.schemas import ERRORS, Health, ServiceHealth

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


@router.get("/health", tags=["service"], summary="Liveness; gallery size too (behind the key when keys are set)",
            response_model=Health, response_model_exclude_unset=True)
async def health(request: Request, services: Services = Depends(get_services)) -> dict:
    gallery = services.gallery
    try:
        check_key(request)
    except ApiError:  # liveness stays open; what the gallery holds does not
        return {"status": "ok", "auth": True}
    persons, faces = await run_in_threadpool(gallery.store.count)
    rule = gallery.open_set(persons)
    return {"status": "ok", "version": __version__, "model": gallery.embedder_id, "threshold": gallery.threshold,
            "identify_threshold": rule.threshold, "fpir": rule.fpir,
            "persons": persons, "faces": faces, "workers": services.pool.workers, "auth": bool(services.keys)}


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/v1/health", tags=["service"], summary="What is loaded (models, backend, threads) and the gallery's size",
            response_model=ServiceHealth, response_model_exclude_unset=True, dependencies=AUTH, responses=ERRORS)
async def service_health(request: Request, services: Services = Depends(get_services)) -> dict:
    gallery, pool = services.gallery, services.pool
    analyzer = pool.analyzer
    loaded = request.app.state.models
    persons, faces = await run_in_threadpool(gallery.store.count)
    rule = gallery.open_set(persons)
    return {"status": "ok", "version": __version__, "persons": persons, "faces": faces, "auth": bool(services.keys),
            "identify": rule.to_dict(),
            "models": {"embedder": analyzer.model, "dim": analyzer.embedder.dim, "threshold": gallery.threshold,
                       "detector": loaded["detector"], "flip": loaded["flip"],
                       "backend": getattr(analyzer, "backend", None), "device": getattr(analyzer, "device", None),
                       "min_score": analyzer.min_score, "min_face": analyzer.min_face, "runtimes": analyzer.runtimes,
                       "threads": pool.workers}, **(await _cluster(request))}


async def _cluster(request: Request) -> dict:
    """Replicas and their nodes when the app runs as a Ray Serve deployment (facerec.service.ray_serve)."""
    cluster = getattr(request.app.state, "cluster", None)
    return await cluster.health() if cluster is not None else {}


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` from assets served by the service itself, so they work
    offline (the ``fastapi-offline`` package ships them); without it, FastAPI's CDN pages."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

    swagger_assets: dict[str, object] = {}  # without fastapi-offline: FastAPI's defaults (a CDN)
    redoc_assets: dict[str, object] = {}
    try:
        import fastapi_offline
    except ImportError:  # pragma: no cover - the service extra installs it
        pass
    else:
        base = "/docs-assets"
        app.mount(base, StaticFiles(directory=Path(fastapi_offline.__file__).with_name("static")), name="docs-assets")
        swagger_assets = {"swagger_js_url": f"{base}/swagger-ui-bundle.js", "swagger_css_url": f"{base}/swagger-ui.css",
                          "swagger_favicon_url": f"{base}/favicon.png"}
        redoc_assets = {"redoc_js_url": f"{base}/redoc.standalone.js", "redoc_favicon_url": f"{base}/favicon.png",
                        "with_google_fonts": False}
    title = f"{app.title} {app.version}"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=title, **swagger_assets)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url, title=title, **redoc_assets)

"""``facerec serve``: the REST API and web page."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from facerec.cli.common import OfflineOpt, console
from facerec.errors import FacerecError


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
          port: int = typer.Option(8000, "--port", help="Port."),
          db: Path = typer.Option(Path("gallery.db"), "--db", help="Gallery database file."),
          model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedder for a new gallery."),
          detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
          api_key: List[str] = typer.Option([], "--api-key", help="Accepted API key (repeatable; also FACEREC_API_KEYS, "
                                                                  "comma-separated). Required off loopback."),
          workers: int = typer.Option(2, "--workers", help="Inference threads, each with its own models."),
          max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Request size limit."),
          offline: bool = OfflineOpt) -> None:
    """Run the REST API and web page (FastAPI + uvicorn)."""
    try:
        import uvicorn

        from facerec.service.app import ServiceConfig, create_app
    except ImportError as exc:
        raise FacerecError(f"the service needs extra packages: pip install 'facerec[service]' ({exc.name} missing)") from None
    keys = [k for k in api_key if k] + [k.strip() for k in os.environ.get("FACEREC_API_KEYS", "").split(",") if k.strip()]
    cfg = ServiceConfig(db=db, model=model, detector=detector, api_keys=keys, host=host, workers=workers,
                        max_bytes=int(max_upload_mb * 1024 * 1024), offline=True if offline else None)
    cfg.check_exposure()
    app = create_app(cfg)
    console.print(f"serving on http://{host}:{port}/  (API docs: /docs)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

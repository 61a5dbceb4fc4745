"""``facerec serve``: the REST API and web page."""
from __future__ import annotations

import socket
from typing import List, Optional

import typer

from facerec.cli.common import ProfileOpt, given_models, pipeline_spec, BackendOpt, DeviceOpt, MinFaceOpt, MinScoreOpt, OfflineOpt, console
from facerec.cli.validate import within
from facerec.errors import FacerecError
from facerec.openset import DEFAULT_FPIR


def serve(ctx: typer.Context, host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
          port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port."),
          db: str = typer.Option("gallery.db", "--db", help="Gallery: an SQLite file, or milvus:///path/file.db, "
                                 "milvus://host:19530 or milvus://host:19530/NAME or http(s)://host:port (Milvus)."),
          model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedder for a new gallery."),
          detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Face detector."),
          profile: Optional[str] = ProfileOpt,
          min_score: Optional[float] = MinScoreOpt, min_face: int = MinFaceOpt,
          fpir: float = typer.Option(DEFAULT_FPIR, "--fpir", min=1e-9, max=0.999999,
                                     help="Share of strangers /v1/identify may name: its threshold rises with the "
                                          "number of enrolled persons (a request's threshold wins)."),
          api_key: List[str] = typer.Option([], "--api-key", help="Accepted API key (repeatable; also FACEREC_API_KEYS, "
                                                                  "comma-separated). Required off loopback."),
          workers: int = typer.Option(2, "--threads", "--workers", min=1,
                                      help="Inference threads, each with its own copy of the models (--workers: "
                                           "old name)."),
          max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", callback=within(0.0, 4096.0, lo_open=True),
                                               help="Request size limit (above 0, at most 4096)."),
          allow_host: List[str] = typer.Option([], "--allow-host", help="Host name a key-less service also answers "
                                                                        "to besides loopback (repeatable; also "
                                                                        "FACEREC_ALLOWED_HOSTS)."),
          allow_origin: List[str] = typer.Option([], "--allow-origin", help="Web origin allowed to send writes, e.g. "
                                                                            "https://app.example (repeatable; also "
                                                                            "FACEREC_ALLOWED_ORIGINS)."),
          log_level: str = typer.Option("info", "--log-level", help="debug, info (one access line per request), "
                                                                   "warning or error; logs go to stderr."),
          offline: bool = OfflineOpt, backend: Optional[str] = BackendOpt, device: Optional[str] = DeviceOpt,
          engine: str = typer.Option("local", "--engine", help="local (one process, uvicorn) or ray (Ray Serve "
                                                               "replicas on a cluster; the gallery must be a Milvus "
                                                               "server)."),
          address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (host:port; also "
                                                                        "RAY_ADDRESS); default: start a local Ray."),
          replicas: int = typer.Option(1, "--replicas", min=1, help="Service replicas with --engine ray, spread over "
                                                                     "the cluster's nodes.")) -> None:
    """Run the REST API and web page (FastAPI + uvicorn, or Ray Serve with --engine ray)."""
    level = configure_logging(log_level)
    if engine not in ("local", "ray"):
        raise FacerecError(f"--engine must be local or ray, not {engine!r}")
    if engine == "local" and (address or replicas != 1):
        raise FacerecError("--address and --replicas need --engine ray")
    try:
        import uvicorn

        from facerec.service.app import ServiceConfig, create_app, env_list
    except ImportError as exc:
        raise FacerecError(f"the service needs extra packages: pip install 'facerec[service]' ({exc.name} missing)") from None
    keys = [k for k in api_key if k] + env_list("FACEREC_API_KEYS")
    from facerec.gallery.milvus_store import gallery_location

    cfg = ServiceConfig(db=gallery_location(db), spec=pipeline_spec(ctx), given=given_models(ctx), api_keys=keys,
                        host=host, workers=workers, max_bytes=int(max_upload_mb * 1024 * 1024), fpir=fpir,
                        allowed_hosts=list(allow_host) + env_list("FACEREC_ALLOWED_HOSTS"),
                        allowed_origins=list(allow_origin) + env_list("FACEREC_ALLOWED_ORIGINS"))
    cfg.check_exposure()
    if engine == "ray":
        from facerec.service import ray_serve

        ray_serve.require_milvus_server(db)  # before any model or Ray starts
        ray_serve.run(cfg, port=port, replicas=replicas, address=address,
                      say=lambda line: console.print(line, highlight=False))
        return
    sock = listen(host, port)  # a port in use is one error line, before the models load
    try:
        app = create_app(cfg)
        app.state.gallery.index_ids()  # a damaged gallery fails here, not inside the server's start-up
        console.print(f"serving on http://{host}:{port}/  (API docs: /docs)", highlight=False)
        uvicorn.Server(uvicorn.Config(app, log_level=level, access_log=False)).run(sockets=[sock])
    finally:
        sock.close()


LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(level: str) -> str:
    """Send the service's logs (``facerec.access``: a line per request with its id; ``facerec.service``:
    errors) to stderr at ``level``; uvicorn's own access log stays off (ours names the request id)."""
    import logging

    level = level.lower()
    if level not in LOG_LEVELS:
        raise FacerecError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("facerec.access", "facerec.service"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(level.upper())
        log.propagate = False
    return level


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or :class:`FacerecError` with the reason."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise FacerecError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise FacerecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

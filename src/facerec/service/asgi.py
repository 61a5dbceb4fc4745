"""What the service's ASGI middlewares share: HTTP scopes only, and a JSON error answered directly."""
from __future__ import annotations

import json


class HttpMiddleware:
    """An ASGI middleware for HTTP requests (:meth:`handle`); other scopes (lifespan, websocket) pass through."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        raise NotImplementedError


async def send_error(send, status: int, code: str, message: str, close: bool = False) -> None:
    """Answer ``{"error": {"code", "message"}}`` with ``status`` (``close``: and end the connection)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body})

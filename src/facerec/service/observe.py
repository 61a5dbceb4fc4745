"""Request ids and access logs: every answer carries ``X-Request-ID``, every JSON error names it in
``error.request_id``, and each request is logged once on ``facerec.access`` (method, path, status,
milliseconds, id). Pure ASGI, outermost, so errors from the other middleware get an id too."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from facerec.service.asgi import HttpMiddleware

log = logging.getLogger("facerec.access")
_GIVEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""A client's own X-Request-ID is kept when it is this tame (it ends up in logs)."""


def request_id(scope) -> str:
    """The id of the request in ``scope`` (set by :class:`RequestContext`)."""
    return (scope.get("state") or {}).get("request_id", "")


class RequestContext(HttpMiddleware):
    def __init__(self, app, set_header: bool = True) -> None:
        super().__init__(app)
        self.set_header = set_header
        """False behind a proxy that passes its X-Request-ID in and sets it on every answer (Ray Serve's)."""

    async def handle(self, scope, receive, send) -> None:
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GIVEN.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        started, status, held = time.perf_counter(), 500, None

        async def tagged_send(message) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                if self.set_header:
                    message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
                is_json = any(k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in headers)
                if status >= 400 and is_json:
                    held = {"start": message, "body": b""}  # to put the id into the error body
                    return
            elif message["type"] == "http.response.body" and held is not None:
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = _with_id(held["body"], rid)
                start = held["start"]
                start["headers"] = [(k, str(len(body)).encode() if k.lower() == b"content-length" else v)
                                    for k, v in start["headers"]]
                held = None
                await send(start)
                message = {"type": "http.response.body", "body": body}
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        finally:
            client = (scope.get("client") or ("-",))[0]
            log.info('%s "%s %s" %d %.0fms id=%s', client, scope.get("method"), scope.get("path"), status,
                     (time.perf_counter() - started) * 1000, rid)


def _with_id(body: bytes, rid: str) -> bytes:
    """``{"error": {...}}`` with ``request_id`` added (other bodies unchanged)."""
    try:
        obj = json.loads(body)
    except ValueError:
        return body
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        obj["error"].setdefault("request_id", rid)
        return json.dumps(obj).encode()
    return body

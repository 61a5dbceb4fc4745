"""A request body size limit and a body time limit, enforced while the body streams in (pure ASGI
middleware): a client sending 1 byte a second holds a connection for ``timeout`` seconds at most."""
from __future__ import annotations

import asyncio
import os
import time

from facerec.service.asgi import HttpMiddleware, send_error

BODY_TIMEOUT = float(os.environ.get("FACEREC_BODY_TIMEOUT", 60.0))
"""Seconds a client has to send a whole request body."""


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    """The body did not arrive within the time limit."""


class BodySizeLimit(HttpMiddleware):
    """Answer 413 with a JSON error when the body exceeds ``max_bytes`` (by header or by count)."""

    def __init__(self, app, max_bytes: int, timeout: float | None = None) -> None:
        super().__init__(app)
        self.max_bytes = int(max_bytes)
        self.timeout = BODY_TIMEOUT if timeout is None else float(timeout)

    async def _timed_out(self, send) -> None:
        await send_error(send, 408, "request_timeout", f"the request body did not arrive within {self.timeout:g} s",
                         close=True)

    async def _reject(self, send) -> None:
        await send_error(send, 413, "too_large", f"request body exceeds the limit of {self.max_bytes} bytes", close=True)

    async def handle(self, scope, receive, send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        seen = 0
        started = False
        complete = False
        deadline = time.monotonic() + self.timeout

        async def limited_receive():
            nonlocal seen, complete
            if complete:  # the body is in; now only a disconnect can come, whenever it does
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise BodyTimeout() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge()
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)
        except BodyTimeout:
            if not started:
                await self._timed_out(send)

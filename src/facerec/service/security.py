"""Who may talk to the service: one exposure rule for every way of starting it, and no cross-site writes.

Pure ASGI middleware, so ``facerec serve``, ``create_app`` in a test and ``uvicorn --factory
facerec.service.app:app_from_env`` all apply it:

- without API keys the service answers only on loopback: a request that reached it on another
  address (``--host 0.0.0.0``) is refused, and its ``Host`` header must name a loopback address or
  an allowed host (a DNS-rebinding page names its own domain). Both rules concern requests that came
  through a socket (the ASGI scope names the server's IP address); an in-process transport such as
  Starlette's test client has no network to be reached from;
- a write (POST, PUT, PATCH, DELETE) from a web page of another origin is refused unless that origin
  is allowed (any page a user visits could otherwise POST to a key-less loopback service).
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Optional
from urllib.parse import urlsplit

from facerec.service.asgi import HttpMiddleware, send_error

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: Optional[str]) -> bool:
    """``localhost`` or a loopback IP address (IPv4 or IPv6, brackets allowed)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The host part of a ``Host`` header or netloc (port and IPv6 brackets removed), lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGuard(HttpMiddleware):
    """Refuse (403 JSON) requests that break the exposure, Host or Origin rule."""

    def __init__(self, app, *, keyed: bool, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = ()) -> None:
        super().__init__(app)
        self.keyed = keyed
        self.allowed_hosts = {host_name(h) for h in allowed_hosts if h}
        self.allowed_origins = {o.strip().rstrip("/").lower() for o in allowed_origins if o.strip()}

    def problem(self, scope) -> Optional[str]:
        """Why the request is refused, or None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        server = (scope.get("server") or (None,))[0]
        networked = bool(server) and _is_ip(server)  # a socket; in-process test transports name no address
        if not self.keyed and networked:
            if not is_loopback(server):
                return ("this service has no API key and answers only on loopback "
                        "(start it with --api-key to serve other machines)")
            name = host_name(host)
            if not (is_loopback(name) or name in self.allowed_hosts):
                return f"unexpected Host header {host[:100]!r} (allow it with --allow-host)"
        if scope.get("method", "GET").upper() not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None:
                origin = origin.strip().rstrip("/").lower()
                same = urlsplit(origin).netloc == host.strip().lower() and urlsplit(origin).scheme in ("http", "https")
                if not same and origin not in self.allowed_origins and "*" not in self.allowed_origins:
                    return f"cross-origin write from {origin[:100]!r} refused (allow it with --allow-origin)"
            elif headers.get("sec-fetch-site", "").lower() == "cross-site":
                return "cross-site write refused"
        return None

    async def handle(self, scope, receive, send) -> None:
        why = self.problem(scope)
        if why is None:
            await self.app(scope, receive, send)
            return
        await send_error(send, 403, "forbidden", why)

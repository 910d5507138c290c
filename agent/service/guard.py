"""What the service refuses before any route runs: foreign hosts, cross-site writes, big bodies,
and clients posting too fast or holding too many streams.

`Guard` is one pure ASGI middleware: it answers `Host` names the service does not serve with 400
(DNS rebinding), state-changing requests a browser marks as cross-site with 403 (any web page
could otherwise start builds on a developer's loopback service), and reads every body up to its
limit before the app sees it (413 while reading, never after buffering a 40 MB body).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from agent.service.schemas import errors
from agent.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: `Sec-Fetch-Site` values a state-changing request may carry (absent: not a browser).
_SAME_SITE = frozenset({"same-origin", "none"})


class Guard:
    """The middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = settings.host_names
        self.any_host = "*" in self.hosts
        self.rate = RateLimit(settings.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = headers.get("host", "")
        if not self.any_host and _host_name(host) not in self.hosts:
            reason = (
                f"this service does not answer for host {host[:100]!r}; "
                "add it to PETSAGE_ALLOWED_HOSTS to serve it"
            )
            await _refuse(send, 400, "invalid_host", "Host", reason)
            return
        method = scope["method"]
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        refusal = cross_site(headers, host)
        if refusal is not None:
            await _refuse(send, 403, "cross_site_request", *refusal)
            return
        path: str = scope["path"]
        if _rate_limited(path):
            wait = self.rate.hit(client_key(scope, headers))
            if wait is not None:
                reason = f"over {self.settings.rate_limit} per minute; try again in {wait} s"
                await _refuse(send, 429, "rate_limited", None, reason, {"Retry-After": str(wait)})
                return
        limit, what = self.limit_for(path)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            reason = f"{declared} bytes is over the {what} limit of {limit} bytes"
            await _refuse(send, 413, "too_large_request", "body", reason)
            return
        body = await _read_body(receive, limit)
        if body is None:
            reason = f"over the {what} limit of {limit} bytes"
            await _refuse(send, 413, "too_large_request", "body", reason)
            return
        await self.app(scope, _replay(body, receive), send)

    def limit_for(self, path: str) -> tuple[int, str]:
        if path.startswith("/api/v1/chats/") and path.endswith("/messages"):
            return self.settings.max_chat_bytes, "chat message (PETSAGE_MAX_CHAT_BYTES)"
        return self.settings.max_request_bytes, "request (PETSAGE_MAX_REQUEST_BYTES)"


def cross_site(headers: dict[str, str], host: str) -> tuple[str, str] | None:
    """(header, reason) when a browser says this request comes from another site; else None."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _SAME_SITE:
        return (
            "Sec-Fetch-Site",
            f"a {fetch_site[:40]!r} request may not change anything here; "
            "use the service's own page or a non-browser client",
        )
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() != host.lower():
            return ("Origin", f"origin {origin[:100]!r} is not this service's own page")
    return None


def client_key(scope: Scope, headers: dict[str, str]) -> str:
    """Who is asking: the bearer token's holder when one is given, else the peer address."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return "token:" + str(hash(authorization[7:].strip()))
    client = scope.get("client")
    return "peer:" + (client[0] if client else "unknown")


class RateLimit:
    """At most `per_minute` hits per key in any sliding minute (0: unlimited)."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count one hit; None when allowed, else the seconds until one is."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                for idle in [k for k, v in self._hits.items() if not v]:
                    del self._hits[idle]
            return None


class StreamSlots:
    """Open event streams, bounded per client and in total."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self._open: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def take(self, key: str) -> str | None:
        """Take a slot; None when taken, else why not."""
        with self._lock:
            if sum(self._open.values()) >= self.total:
                return f"{self.total} event streams are open, the most this service holds"
            if self._open[key] >= self.per_client:
                return f"this client holds {self.per_client} event streams, the most allowed"
            self._open[key] += 1
            return None

    def give_back(self, key: str) -> None:
        with self._lock:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]

    @contextmanager
    def held(self, key: str) -> Iterator[None]:
        try:
            yield
        finally:
            self.give_back(key)


# --- helpers -------------------------------------------------------------------------------------


def _rate_limited(path: str) -> bool:
    return path == "/api/v1/builds" or (
        path.startswith("/api/v1/chats/") and path.endswith("/messages")
    )


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _host_name(host: str) -> str:
    """`host[:port]` or `[v6]:port` without the port, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None as soon as it is over `limit` bytes."""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if len(body) > limit:
            return None
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(
    send: Send,
    status: int,
    kind: str,
    field: str | None,
    reason: str,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps({"detail": errors(kind, [(field, reason)])}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})

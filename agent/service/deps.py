"""What the service's routes share: the FastAPI dependencies that find the running `Service`
(`agent.service.root`), the bearer token check, the build named in a path, and the one reader
of a body up to a limit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.errors import BuilderError
from agent.service.root import Service
from agent.service.schemas import errors
from agent.store.builds import BuildRecord


async def service_of(request: Request) -> Service:
    """The running app's `Service` (a FastAPI dependency). Async, as `authorised`: neither
    blocks, and a plain function would cost every request a trip through the thread pool."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]


_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def authorised(service: ServiceDep, credentials: Credentials) -> None:
    """The bearer token the settings ask for (a router-level dependency); 401 otherwise."""
    # Tokens only in the Authorization header: a URL keeps them in logs and history.
    given = credentials.credentials if credentials is not None else None
    if not service.settings.token_matches(given):
        raise HTTPException(
            401,
            detail=errors(
                "unauthorised", [(None, "a valid `Authorization: Bearer <token>` is required")]
            ),
            headers={"WWW-Authenticate": "Bearer"},
        )


def existing_build(build_id: str, service: ServiceDep) -> BuildRecord:
    """The build named in the path, or a 404 before any response starts."""
    return record_of(service, build_id)


BuildDep = Annotated[BuildRecord, Depends(existing_build)]


def record_of(service: Service, build_id: str) -> BuildRecord:
    record = service.store.get(build_id)
    if record is None:
        raise HTTPException(
            404, detail=errors("not_found", [("build_id", f"no build {build_id!r}")])
        )
    return record


@contextlib.contextmanager
def bad_gateway(kind: str) -> Iterator[None]:
    """A builder error inside (the forge, the shared remote) as a 502 of `kind`."""
    try:
        yield
    except BuilderError as e:
        raise HTTPException(502, detail=errors(kind, [(None, str(e))])) from e


async def read_limited(
    request: Request, limit: int, code: str, over: str, declared: str | None = None
) -> bytes:
    """The request's body, read as it streams in and never past `limit` bytes (the guard's own
    limit may be larger): past it, a 413 of kind `code` whose reason is `over`. With
    `declared`, a Content-Length over the limit is refused before any byte is read, `declared`
    the reason. Both reasons are formats of `{limit}` (and `{size}`, the declared length)."""
    length = request.headers.get("content-length")
    if declared is not None and length and length.isdigit() and int(length) > limit:
        raise _too_large(code, declared.format(size=length, limit=limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(code, over.format(limit=limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(code: str, reason: str) -> HTTPException:
    return HTTPException(413, detail=errors(code, [("body", reason)]))

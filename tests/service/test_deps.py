"""The routes' one limited body reader: the body whole under the limit, a 413 past it, with
each route's own reason (the builds route also refuses a declared length before reading)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import HTTPException, Request

from agent.service.deps import read_limited

BUILDS = {
    "over": "over the limit of {limit} bytes",
    "declared": "{size} bytes is over the limit of {limit} bytes",
}
WEBHOOKS = {"over": "over {limit} bytes"}


def request(chunks: list[bytes], length: int | None = None) -> Request:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive)


def refusal(chunks: list[bytes], length: int | None, reasons: dict[str, str]) -> Any:
    with pytest.raises(HTTPException) as refused:
        asyncio.run(read_limited(request(chunks, length), 10, "too_large_request", **reasons))
    assert refused.value.status_code == 413
    return refused.value.detail


def test_a_body_under_the_limit_is_read_whole() -> None:
    body = asyncio.run(read_limited(request([b"abcd", b"efghij"]), 10, "x", **BUILDS))
    assert body == b"abcdefghij"


def test_past_the_limit_each_route_answers_as_it_did() -> None:
    def detail(reason: str) -> dict[str, Any]:
        return {"error": "too_large_request", "detail": [{"field": "body", "reason": reason}]}

    assert refusal([b"abcdef", b"ghijk"], None, BUILDS) == detail("over the limit of 10 bytes")
    assert refusal([b"x"], 11, BUILDS) == detail("11 bytes is over the limit of 10 bytes")
    assert refusal([b"abcdef", b"ghijk"], None, WEBHOOKS) == detail("over 10 bytes")
    # The webhook route does not trust a declared length: it reads up to the limit.
    assert refusal([b"abcdef", b"ghijk"], 11, WEBHOOKS) == detail("over 10 bytes")

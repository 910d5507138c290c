"""A local OpenAI-compatible server for tests: scripted answers, every request recorded.

It runs uvicorn in a thread on a loopback port, so the real `openai` client talks real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.service.conftest import free_port


class FakeOpenAI:
    """Queue answers with `reply()` or `fail()`; read what arrived in `requests`."""

    def __init__(self, *, reject_json_schema: bool = False, delay: float = 0.0) -> None:
        self.delay = delay
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.reject_json_schema = reject_json_schema
        self.requests: list[dict[str, Any]] = []
        self._answers: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        app = FastAPI()
        app.post("/v1/chat/completions")(self._complete)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def reply(
        self,
        content: str,
        *,
        finish_reason: str = "stop",
        prompt_tokens: int = 1000,
        completion_tokens: int = 500,
    ) -> None:
        body = {
            "id": f"chatcmpl-{len(self._answers)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self._answers.append((200, body, {}))

    def tool_calls(self, *calls: tuple[str, dict[str, Any]], content: str | None = None) -> None:
        """Queue an answer that calls tools (name, arguments) instead of writing text."""
        message = {
            "role": "assistant",
            "content": content,
            "tool_calls": [
                {
                    "id": f"call_{n}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
                for n, (name, args) in enumerate(calls)
            ],
        }
        body = {
            "id": "chatcmpl-tools",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340},
        }
        self._answers.append((200, body, {}))

    def fail(self, status: int, message: str = "scripted failure") -> None:
        body = {"error": {"message": message, "type": "error", "code": None, "param": None}}
        self._answers.append((status, body, {"retry-after-ms": "10"}))

    @property
    def remaining(self) -> int:
        return len(self._answers)

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reject_json_schema and body.get("response_format", {}).get("type") == "json_schema":
            error = {
                "error": {
                    "message": "response_format json_schema is not supported",
                    "type": "invalid_request_error",
                }
            }
            return JSONResponse(error, status_code=400)
        if not self._answers:
            return JSONResponse({"error": {"message": "no scripted answer left"}}, status_code=500)
        status, answer, headers = self._answers.popleft()
        return JSONResponse(answer, status_code=status, headers=headers)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

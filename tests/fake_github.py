"""A local stand-in for the few GitHub REST routes pull requests use; it records every call."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.service.conftest import free_port


class FakeGitHub:
    def __init__(self, *, status: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.status = status
        self.calls: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self.pulls: list[dict[str, Any]] = []
        app = FastAPI()
        app.api_route("/{path:path}", methods=["GET", "POST", "PATCH"])(self._route)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _route(self, path: str, request: Request) -> JSONResponse:
        body = await request.json() if await request.body() else {}
        self.calls.append((request.method, "/" + path, body, dict(request.headers)))
        if self.status is not None:
            return JSONResponse({"message": "Bad credentials"}, status_code=self.status)
        parts = path.split("/")
        if request.method == "GET" and parts[-1] == "pulls":
            head = request.query_params.get("head", "").split(":")[-1]
            return JSONResponse(
                [p for p in self.pulls if p["head"]["ref"] == head and p["state"] == "open"]
            )
        if request.method == "POST" and parts[-1] == "pulls":
            number = len(self.pulls) + 1
            pull = {
                **body,
                "number": number,
                "state": "open",
                "html_url": f"https://github.example/pull/{number}",
                "head": {"ref": body["head"]},
            }
            self.pulls.append(pull)
            return JSONResponse(pull, status_code=201)
        if request.method == "PATCH" and parts[-2] == "pulls":
            pull = self.pulls[int(parts[-1]) - 1]
            pull.update(body)
            return JSONResponse(pull)
        if request.method == "POST" and parts[-1] in ("comments", "labels"):
            return JSONResponse({"id": 1}, status_code=201)
        return JSONResponse({"message": "Not Found"}, status_code=404)

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

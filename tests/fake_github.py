"""A local stand-in for the GitHub REST routes the builder uses; it records every call.

Pull requests, issue comments (created and edited), reviews, check runs and collaborator
permissions, kept in memory; `failures` queues answers (status, headers) given before the real
ones.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
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
        self.comments: dict[int, dict[str, Any]] = {}
        self.check_runs: list[dict[str, Any]] = []
        #: Reviews by pull request number, as GitHub lists them (`state`, `user`, `commit_id`).
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        #: Collaborator permissions by login; anyone else reads only.
        self.permissions: dict[str, str] = {}
        self.failures: list[tuple[int, dict[str, str]]] = []
        app = FastAPI()
        app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT"])(self._route)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _route(self, path: str, request: Request) -> JSONResponse:
        body = await request.json() if await request.body() else {}
        self.calls.append((request.method, "/" + path, body, dict(request.headers)))
        if self.status is not None:
            return JSONResponse({"message": "Bad credentials"}, status_code=self.status)
        if self.failures:
            status, headers = self.failures.pop(0)
            message = "You have exceeded a secondary rate limit" if status == 403 else "Oops"
            return JSONResponse({"message": message}, status_code=status, headers=headers)
        parts = path.split("/")
        if request.method == "GET" and parts[-1] == "permission":
            return JSONResponse({"permission": self.permissions.get(parts[-2], "read")})
        if request.method == "GET" and parts[-2] == "pulls" and int(parts[-1]) <= len(self.pulls):
            return JSONResponse(self.pulls[int(parts[-1]) - 1])
        if request.method == "POST" and parts[-1] == "check-runs":
            self.check_runs.append(body)
            return JSONResponse({"id": len(self.check_runs), **body}, status_code=201)
        if request.method == "POST" and parts[-1] == "comments":
            number = len(self.comments) + 1
            self.comments[number] = {"id": number, "issue": int(parts[-2]), "body": body["body"]}
            return JSONResponse(self.comments[number], status_code=201)
        if request.method == "PATCH" and parts[-2] == "comments":
            self.comments[int(parts[-1])]["body"] = body["body"]
            return JSONResponse(self.comments[int(parts[-1])])
        if request.method == "PUT" and parts[-1] == "dismissals":
            for review in self.reviews.get(int(parts[-4]), []):
                if review["id"] == int(parts[-2]):
                    review["state"] = "DISMISSED"
                    return JSONResponse(review)
        if request.method == "GET" and parts[-1] == "reviews":
            return JSONResponse(self.reviews.get(int(parts[-2]), []))
        if request.method == "GET" and parts[-1] == "pulls":
            return JSONResponse(self._listed(dict(request.query_params)))
        if request.method == "POST" and parts[-1] == "pulls":
            number = len(self.pulls) + 1
            pull = {
                **body,
                "number": number,
                "state": "open",
                "html_url": f"https://github.example/pull/{number}",
                "head": {"ref": body["head"], "repo": {"full_name": "/".join(parts[1:3])}},
            }
            self.pulls.append(pull)
            return JSONResponse(pull, status_code=201)
        if request.method == "PATCH" and parts[-2] == "pulls":
            pull = self.pulls[int(parts[-1]) - 1]
            pull.update(body)
            return JSONResponse(pull)
        if request.method == "POST" and parts[-1] == "labels":
            return JSONResponse({"id": 1}, status_code=201)
        return JSONResponse({"message": "Not Found"}, status_code=404)

    def _listed(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Open pull requests, by `head` (`owner:branch`) and `base` when asked."""
        head, base = query.get("head", "").split(":")[-1], query.get("base")
        return [
            p
            for p in self.pulls
            if p["state"] == "open"
            and (not head or p["head"]["ref"] == head)
            and (base is None or p["base"] == base)
        ]

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def merge_on_github(remote: Path, branch: str, number: int, base: str = "main") -> str:
    """What GitHub's merge button does to a bare `remote`: a merge commit of `branch` on `base`."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=remote, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    tree = git("merge-tree", "--write-tree", base, branch).split()[0]
    who = ("-c", "user.name=GitHub", "-c", "user.email=noreply@github.com")
    message = f"Merge pull request #{number} from {branch}"
    commit = git(*who, "commit-tree", tree, "-p", base, "-p", branch, "-m", message)
    git("update-ref", f"refs/heads/{base}", commit)
    return commit

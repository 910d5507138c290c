"""`petsage-builder chat`: the chat in a terminal, against a running service or in-process.

Each line is a message; a line `\"\"\"` starts and ends a message of several lines (field
lines, a pasted request). Builds show their stages live. `exit`, `quit` or end-of-input leave.
"""

from __future__ import annotations

import json
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, TextIO, cast

from agent.chat.state import ChatState
from agent.quoting import strip_controls
from agent.settings import Settings

PROMPT = "you> "


def run_chat(
    settings: Settings,
    *,
    url: str | None = None,
    token: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    source, out = stdin or sys.stdin, cast(TextIO, _Clean(stdout or sys.stdout))
    session: _Session = _RemoteSession(url, token, out) if url else _LocalSession(settings, out)
    out.write(f"PetSage Builder chat ({session.where}). Describe a feature; `exit` leaves.\n")
    for message in _messages(source, out):
        if message.strip().lower() in ("exit", "quit"):
            break
        session.say(message)
    out.write("bye\n")
    out.flush()
    return 0


class _Clean:
    """A terminal stream that drops control characters (ESC, OSC...) but newline and tab:
    replies, reports and diffs hold text a model wrote."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(strip_controls(text))

    def flush(self) -> None:
        self._out.flush()


def _messages(source: TextIO, out: TextIO) -> Iterator[str]:
    while True:
        out.write(PROMPT)
        out.flush()
        line = source.readline()
        if not line:
            return
        if line.strip() == '"""':
            lines = []
            while (more := source.readline()) and more.strip() != '"""':
                lines.append(more.rstrip("\n"))
            yield "\n".join(lines)
        elif line.strip():
            yield line.rstrip("\n")


class _Session(ABC):
    where = ""

    @abstractmethod
    def say(self, message: str) -> None:
        """Send one message and show the answer (and the build it started)."""


class _LocalSession(_Session):
    """The assistant and the builder in this process: no service needed."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        from agent.chat.model_assistant import assistant_for
        from agent.pipeline.loop import Builder

        self.builder = Builder(settings)
        self.respond = assistant_for(self.builder.model)
        self.out = out
        self.state = ChatState()
        self.last: Any = None
        self.where = f"in-process, workspace {self.builder.repo.path}"

    def say(self, message: str) -> None:
        repo = self.builder.repo
        branches = repo.branches() if repo.exists else {}
        existing = [b.removeprefix("feature/") for b in branches if b.startswith("feature/")]
        turn = self.respond(self.state, message, existing)
        self.state = turn.state
        if turn.build is not None:
            self.out.write(f"builder> {turn.reply}\n")
            started = time.perf_counter()

            def show(event: Any) -> None:
                self.out.write(_stage_line(event.stage, event.message, event.ok, started))
                self.out.flush()

            self.last = self.builder.run(turn.build, on_event=show)
            self.out.write(
                f"builder> {self.last.status}: {self.last.branch} {', '.join(self.last.reasons)}\n"
            )
        elif turn.action in ("status", "diff", "report"):
            self.out.write(f"builder> {self._about(turn.action)}\n")
        else:
            self.out.write(f"builder> {turn.reply}\n")
        self.out.flush()

    def _about(self, action: str) -> str:
        if self.last is None:
            return "No build yet in this chat."
        if action == "status":
            return f"Build {self.last.id} of `{self.last.feature}` is {self.last.status}."
        if action == "report":
            return str(self.last.report)
        return (
            self.last.attempt.diff
            if self.last.attempt and self.last.attempt.diff
            else "\n".join(self.last.files)
        )


class _RemoteSession(_Session):
    """A running service: its chat routes, and its SSE stream for the build's stages."""

    def __init__(self, url: str, token: str | None, out: TextIO) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)
        self.chat_id = self.client.post("/api/v1/chats").raise_for_status().json()["id"]
        self.out = out
        self.where = f"{url}, chat {self.chat_id}"

    def say(self, message: str) -> None:
        reply = self.client.post(
            f"/api/v1/chats/{self.chat_id}/messages", json={"content": message}
        )
        reply.raise_for_status()
        body = reply.json()
        self.out.write(f"builder> {body['reply']}\n")
        if body["build_id"]:
            self._follow(body["build_id"])
        self.out.flush()

    def _follow(self, build_id: str) -> None:
        started = time.perf_counter()
        with self.client.stream("GET", f"/api/v1/builds/{build_id}/events", timeout=None) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    self.out.write(
                        _stage_line(event["stage"], event["message"], event["ok"], started)
                    )
                    self.out.flush()
                    if event["stage"] in ("done", "failed"):
                        break
        result = self.client.get(f"/api/v1/builds/{build_id}").json()
        self.out.write(
            f"builder> {result['status']}: {result['branch']} {', '.join(result['reasons'])}\n"
        )


def _stage_line(stage: str, message: str, ok: bool, started: float) -> str:
    mark = "✓" if ok else "✗"
    return f"  {time.perf_counter() - started:6.2f}s {mark} {stage:<10} {message}\n"

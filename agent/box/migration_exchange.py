"""The builder's side of the migration check, while the test run goes on.

The box's check sends a description of what autogenerate found (stream 1 of the result
channel); the builder renders the revision from it (`MigrationRenderer`, the pipeline's
`MigrationPlan`) and sends the text back down the gate pipe; the box runs it and reports. What
the build commits is the text the builder rendered, and only when the box ran exactly that text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any, Protocol

from agent.box.channel import Record
from agent.errors import MigrationRefused

MIGRATION_STREAM = 1


class MigrationRenderer(Protocol):
    """Renders the feature's revision from the box's description (`MigrationRefused` if not)."""

    @property
    def revision(self) -> str: ...

    @property
    def new_table(self) -> bool: ...

    def missing_table(self) -> str: ...

    def render(self, operations: Any) -> str: ...


class MigrationExchange:
    """One run's migration check: the description in, the revision out, the verdict."""

    def __init__(self, renderer: MigrationRenderer, reply_fd: int) -> None:
        self.renderer = renderer
        self._reply_fd = reply_fd
        self._text: str | None = None
        self._result: dict[str, Any] | None = None

    def on_record(self, record: Record) -> None:
        if record.stream != MIGRATION_STREAM or self._result is not None:
            return
        data = record.data
        if data["t"] == "migration" and self._text is None:
            self._described(data.get("ops"))
        elif data["t"] == "migration-checked":
            self._checked(data)

    def _described(self, operations: Any) -> None:
        if operations == []:
            # Nothing to do, unless the feature's first table should have been there.
            new = self.renderer.new_table
            self._result = (
                {"ok": False, "reason": self.renderer.missing_table()} if new else {"ok": True}
            )
            self.close()
            return
        try:
            self._text = self.renderer.render(operations)
        except MigrationRefused as e:
            self._result = {"ok": False, "reason": str(e)}
            self._reply({"refused": str(e)})
            return
        self._reply({"text": self._text, "revision": self.renderer.revision, "below": "-1"})

    def _checked(self, data: dict[str, Any]) -> None:
        if self._text is None:
            self._result = {
                "ok": False,
                "reason": f"the migration check failed: {data.get('reason')}",
            }
            return
        digest = hashlib.sha256(self._text.encode("utf-8")).hexdigest()
        if data.get("ok") is not True:
            reason = str(data.get("reason") or "?")[:1000]
            self._result = {"ok": False, "reason": f"the rendered revision did not run: {reason}"}
        elif data.get("sha256") != digest:
            self._result = {"ok": False, "reason": "the migration check ran another text"}
        else:
            self._result = {"ok": True, "content": self._text, "revision": self.renderer.revision}

    def _reply(self, message: dict[str, Any]) -> None:
        if self._reply_fd < 0:
            return
        data = json.dumps(message).encode("utf-8") + b"\n"
        with contextlib.suppress(OSError):  # the box ended meanwhile: the result says so
            while data:
                data = data[os.write(self._reply_fd, data) :]
        self.close()

    def result(self) -> dict[str, Any]:
        if self._result is not None:
            return self._result
        if self._text is None:
            return {
                "ok": False,
                "reason": "the migration check did not report: the test process ended before it",
            }
        return {"ok": False, "reason": "the migration check did not report on the revision"}

    def close(self) -> None:
        if self._reply_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._reply_fd)
            self._reply_fd = -1

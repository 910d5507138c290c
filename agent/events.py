"""Typed progress events of a build, streamed to whoever watches (CLI, SSE, chat).

A `StageEvent` is one of a few classes, told apart by their `stage` (a tagged union the type
checker narrows on: after `event.stage == "committed"`, `event.base` is known to be there).
Each class carries what its stages say beyond the message as attributes; on the wire
(`to_dict`: the SSE stream, the stored events, the HTTP API) they are the event's `data`, a key
only when it was given, as before the classes were split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypedDict

Stage = Literal[
    "received",
    "decoded",
    "generating",
    "validated",
    "written",
    "integrated",
    "tested",
    "verified",
    "committed",
    "pr_opened",
    "requeued",
    "done",
    "failed",
]
#: Stages that say only that they were reached.
ProgressStage = Literal["received", "decoded", "generating", "written", "integrated", "requeued"]
#: Stages that check a round's reply and may find problems (a repair follows) or be retried.
CheckStage = Literal["validated", "tested", "verified"]


@dataclass(frozen=True, kw_only=True)
class _Event:
    """What every event has. `ok` is false for a stage that found problems."""

    build_id: str
    stage: Stage
    message: str
    ok: bool = True
    round: int | None = None
    at: float = field(default_factory=time.time)
    type: Literal["stage"] = field(default="stage", init=False)

    @property
    def final(self) -> bool:
        return self.stage in ("done", "failed")

    def payload(self) -> dict[str, Any]:
        """The event's `data` on the wire: what it says beyond its message."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "stage": self.stage,
            "message": self.message,
            "ok": self.ok,
            "round": self.round,
            "at": self.at,
            "data": self.payload(),
            "type": self.type,
        }


@dataclass(frozen=True, kw_only=True)
class Progress(_Event):
    """A stage was reached; nothing more to say."""

    stage: ProgressStage


@dataclass(frozen=True, kw_only=True)
class Checked(_Event):
    """A check of the round's reply: passed, found problems, or ended by a busy machine."""

    stage: CheckStage
    #: The problems it found, each named (when it found any).
    reasons: list[str] | None = None
    #: When a busy machine ended it and it is tried again: why, as
    #: `agent.pipeline.result.FailureReason` dumps it (of kind `infrastructure`).
    reason: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.reasons is not None:
            data["reasons"] = list(self.reasons)
        if self.reason is not None:
            data["reason"] = dict(self.reason)
        return data


class Found(TypedDict, total=False):
    """What a check found, as `Checked` takes it: passed or not, its problems, why it retried."""

    ok: bool
    reasons: list[str]
    reason: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Committed(_Event):
    """The build committed: the new commit, the commit it started from, the tree it tested."""

    stage: Literal["committed"] = field(default="committed", init=False)
    commit: str
    base: str
    tree: str

    def payload(self) -> dict[str, Any]:
        return {"commit": self.commit, "base": self.base, "tree": self.tree}


@dataclass(frozen=True, kw_only=True)
class PullOpened(_Event):
    """A pull request was opened or updated: where, and whether `local` or on the `forge`."""

    stage: Literal["pr_opened"] = field(default="pr_opened", init=False)
    url: str | None
    kind: Literal["forge", "local"]

    def payload(self) -> dict[str, Any]:
        return {"url": self.url, "kind": self.kind}


@dataclass(frozen=True, kw_only=True)
class Done(_Event):
    """The build succeeded. As stored it names its status; as its run emits it, not."""

    stage: Literal["done"] = field(default="done", init=False)
    status: str | None = None

    def payload(self) -> dict[str, Any]:
        return {} if self.status is None else {"status": self.status}


@dataclass(frozen=True, kw_only=True)
class Failed(_Event):
    """The build ended without succeeding: its final status and, when known, why
    (`agent.pipeline.result.FailureReason` as it dumps)."""

    stage: Literal["failed"] = field(default="failed", init=False)
    ok: bool = False
    status: str
    reason: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.reason is not None:
            data["reason"] = dict(self.reason)
        return data


StageEvent: TypeAlias = Progress | Checked | Committed | PullOpened | Done | Failed

"""Typed progress events of a build, streamed to whoever watches (CLI, SSE, chat)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict

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


class EventData(TypedDict, total=False):
    """What an event carries beyond its message; each key belongs to the stages named."""

    #: `validated`, `tested`, `verified` that found problems: each one, named.
    reasons: list[str]
    #: `committed`: the new commit, the commit it started from, and the tree it tested.
    commit: str
    base: str
    tree: str
    #: `pr_opened`: where the pull request is, and whether it is `local` or on the `forge`.
    url: str | None
    kind: str
    #: `done` / `failed` as stored: the build's final status.
    status: str
    #: `failed` as stored: why (`agent.pipeline.result.FailureReason`: kind, stage, limit,
    #: figure, budget, retried, message). `tested` / `verified` retried after a busy machine
    #: ended them: the same, of kind `infrastructure`.
    reason: dict[str, Any]


@dataclass(frozen=True)
class StageEvent:
    """A build reached a stage. `ok` is false for a stage that found problems (a repair follows)."""

    build_id: str
    stage: Stage
    message: str
    ok: bool = True
    round: int | None = None
    at: float = field(default_factory=time.time)
    data: EventData = field(default_factory=lambda: EventData())
    type: Literal["stage"] = "stage"

    @property
    def final(self) -> bool:
        return self.stage in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""Typed progress events of a build, streamed to whoever watches (CLI, SSE, chat)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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


@dataclass(frozen=True)
class StageEvent:
    """A build reached a stage. `ok` is false for a stage that found problems (a repair follows)."""

    build_id: str
    stage: Stage
    message: str
    ok: bool = True
    round: int | None = None
    at: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)
    type: Literal["stage"] = "stage"

    @property
    def final(self) -> bool:
        return self.stage in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

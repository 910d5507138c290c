"""A deterministic model that replays queued replies and records every call.

For tests and for anyone who wants to replay a conversation: each call takes the next reply;
a call with none left raises, and `assert_consumed()` fails on replies left over.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from agent.bundle import FileBundle
from agent.errors import ModelError
from agent.models.base import GenerationTask, Model, ModelReply

ScriptedReply = (
    str | FileBundle | ModelReply | BaseException | Callable[[GenerationTask], ModelReply | str]
)


class ScriptedModel(Model):
    """Replays `replies` in order: text to be parsed, bundles, whole replies, or errors to raise."""

    def __init__(self, replies: Iterable[ScriptedReply] = (), *, name: str = "scripted") -> None:
        self.name = name
        self._queue: deque[ScriptedReply] = deque(replies)
        self.calls: list[GenerationTask] = []

    def generate(self, task: GenerationTask) -> ModelReply:
        self.calls.append(task)
        if not self._queue:
            raise ModelError(
                f"scripted model {self.name!r} got an unexpected call (round {task.round} of "
                f"{task.request.feature}): no reply left"
            )
        reply = self._queue.popleft()
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply) and not isinstance(reply, FileBundle):
            reply = reply(task)
        if isinstance(reply, ModelReply):
            return reply
        if isinstance(reply, FileBundle):
            return ModelReply(text=reply.to_markdown(), bundle=reply)
        return ModelReply(text=reply)

    def assert_consumed(self) -> None:
        """Fail when replies were queued that no call took."""
        if self._queue:
            raise AssertionError(
                f"scripted model {self.name!r} has {len(self._queue)} replies left"
            )

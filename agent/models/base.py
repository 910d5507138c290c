"""The one model interface every adapter implements, and the values that cross it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from agent.bundle import FileBundle
from agent.request import FeatureRequest


@dataclass(frozen=True)
class Usage:
    """Tokens a model spent on one reply (zero for the offline generator)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Feedback:
    """Why the previous round's reply was not accepted, to be fixed in the next one."""

    kind: Literal["validation", "tests", "length", "verification"]
    reasons: tuple[str, ...]
    details: str = ""


@dataclass(frozen=True)
class RepoContext:
    """What a model may want to know about the target repository."""

    main_py: str
    conftest: str
    features: tuple[str, ...]
    example: dict[str, str] = field(default_factory=dict)


@dataclass
class GenerationTask:
    """One round's question to a model: the request, the round, and what went wrong before."""

    request: FeatureRequest
    round: int
    max_rounds: int
    feedback: Feedback | None = None
    previous_reply: str | None = None
    load_context: Callable[[], RepoContext] | None = None
    build_id: str = ""

    @cached_property
    def context(self) -> RepoContext:
        """The target's context, read only when a model asks for it."""
        if self.load_context is None:
            return RepoContext(main_py="", conftest="", features=())
        return self.load_context()


@dataclass(frozen=True)
class ModelReply:
    """A model's answer: its text, and the bundle when the model produced one directly."""

    text: str
    bundle: FileBundle | None = None
    usage: Usage = Usage()
    #: "stop", or "length" when the reply was cut off at the token limit.
    finish_reason: str | None = None
    #: The chat messages that were sent, for recording.
    messages: tuple[dict[str, str], ...] = ()


class Model(ABC):
    """A source of file bundles: the offline generator, a scripted fake, an SDK adapter..."""

    #: Shown in results and reports, e.g. `offline` or `openai:gpt-4.1`.
    name: str = "model"

    def check(self, request: FeatureRequest) -> None:
        """Raise `ModelRefused` before any work when this model cannot serve `request`."""
        return None

    @abstractmethod
    def generate(self, task: GenerationTask) -> ModelReply:
        """Answer one round. Raise `ModelError` when no reply can be had."""

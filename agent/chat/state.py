"""What the chat assistant knows between messages (the draft, the request awaiting "build it",
the last build), kept with a chat. The assistant (agent/chat/assistant.py) and its helpers
(questions.py, model_assistant.py) read and write it; nothing here decides anything.
"""

from __future__ import annotations

from pydantic import BaseModel

from agent.chat.understand import Untyped
from agent.fields import OPERATIONS, FieldSpec
from agent.request import FeatureRequest


class ChatState(BaseModel):
    """What the assistant knows so far: a draft, the request awaiting "build it", and the last
    request it built."""

    feature: str | None = None
    description: str | None = None
    fields: list[FieldSpec] = []
    operations: list[str] = list(OPERATIONS)
    status_only: bool = False
    #: Why the draft's name needs a confirmation ("from “Weight Log”"), and a proposed name.
    name_note: str | None = None
    suggested_name: str | None = None
    #: The request "build it" builds, and the requests it replaced (for "undo").
    pending: FeatureRequest | None = None
    previous: list[FeatureRequest] = []
    #: True when the pending request renames onto a feature that already has a branch.
    replacing: bool = False
    last_request: FeatureRequest | None = None
    last_build_id: str | None = None
    #: With a real model: the recent messages.
    history: list[dict[str, str]] = []
    #: Fields named without a type the assistant could tell: it asked what type each is.
    untyped: list[Untyped] = []
    #: Fields whose type was taken from their names (`note` is text), said back as guesses.
    guessed: list[str] = []

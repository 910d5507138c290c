"""Chat routes: a conversation that ends in builds, persisted with them."""

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator

from agent.chat.model_assistant import assistant_for
from agent.chat.state import ChatState
from agent.errors import JobsUnavailable
from agent.pipeline.result import BuildResult
from agent.service.deps import ServiceDep
from agent.service.root import Service, Started
from agent.service.schemas import errors
from agent.store.chats import Chats


class NewChat(BaseModel):
    id: str


class ChatMessage(BaseModel):
    content: str = Field(min_length=1, max_length=20_000, examples=["Call it pet_profile."])

    @field_validator("content")
    @classmethod
    def _no_nul(cls, content: str) -> str:
        # No text column stores it (PostgreSQL refuses U+0000), and no person types it.
        if "\x00" in content:
            raise ValueError("must not contain the NUL character (U+0000)")
        return content


class ChatReply(BaseModel):
    reply: str
    build_id: str | None = Field(description="The build this message started, if any.")


class ChatHistory(BaseModel):
    id: str
    messages: list[dict[str, Any]]
    builds: dict[str, str] = Field(description="Each build of the chat and its status.")


router = APIRouter(prefix="/chats", tags=["chat"])


@router.post("", response_model=NewChat, status_code=201, summary="Start a chat")
def new_chat(service: ServiceDep) -> NewChat:
    chat_id = uuid.uuid4().hex[:12]
    Chats(service.store).create(chat_id, ChatState().model_dump_json())
    return NewChat(id=chat_id)


@router.post("/{chat_id}/messages", response_model=ChatReply, summary="Say something")
def post_message(chat_id: str, message: ChatMessage, service: ServiceDep) -> ChatReply:
    chats = Chats(service.store)
    raw = chats.state(chat_id)
    if raw is None:
        raise _no_chat(chat_id)
    state = ChatState.model_validate_json(raw)
    turn = assistant_for(service.runner.model)(state, message.content, _features(service))
    build_id = None
    reply = turn.reply
    new_state = turn.state
    if turn.build is not None:
        started = service.start_build(turn.build)
        build_id = started.record.id
        new_state = new_state.model_copy(update={"last_build_id": build_id})
        reply = _started(started, reply)
    elif turn.action in ("status", "diff", "report"):
        reply = _about_last_build(service, state, turn.action)
    chats.save_turn(
        chat_id,
        new_state.model_dump_json(),
        [("user", message.content, None), ("assistant", reply, build_id)],
    )
    return ChatReply(reply=reply, build_id=build_id)


@router.get("/{chat_id}", response_model=ChatHistory, summary="The conversation and its builds")
def get_chat(chat_id: str, service: ServiceDep) -> ChatHistory:
    chats = Chats(service.store)
    if chats.state(chat_id) is None:
        raise _no_chat(chat_id)
    messages = chats.messages(chat_id)
    builds: dict[str, str] = {}
    for message in messages:
        if message["build_id"]:
            record = service.store.get(message["build_id"])
            builds[message["build_id"]] = record.status if record else "unknown"
            message["links"] = {"build": f"/api/v1/builds/{message['build_id']}"}
    return ChatHistory(id=chat_id, messages=messages, builds=builds)


def _no_chat(chat_id: str) -> HTTPException:
    return HTTPException(404, detail=errors("not_found", [("chat_id", f"no chat {chat_id!r}")]))


def _started(started: Started, reply: str) -> str:
    """The reply once the chat's build is submitted, or why it could not start."""
    build_id = started.record.id
    if isinstance(started.refused, JobsUnavailable):
        return f"I could not start build `{build_id}`: {started.refused}. Ask me again in a moment."
    if started.refused is not None:
        raise started.refused
    return f"{reply} Build `{build_id}` is queued: /api/v1/builds/{build_id}/events."


def _features(service: Service) -> frozenset[str]:
    """The features that already have a branch in the workspace."""
    repo = service.runner.repo
    if not repo.exists:
        return frozenset()
    return frozenset(
        name.removeprefix("feature/") for name in repo.branches() if name.startswith("feature/")
    )


def _about_last_build(service: Service, state: ChatState, action: str) -> str:
    if state.last_build_id is None:
        return "No build yet in this chat."
    record = service.store.get(state.last_build_id)
    if record is None:
        return "No build yet in this chat."
    result: BuildResult | None = record.result
    if action == "status" or result is None:
        extra = f": {'; '.join(result.reasons)}" if result and result.reasons else ""
        return f"Build `{record.id}` of `{record.feature}` is {record.status}{extra}."
    if action == "report":
        return result.report
    if result.commit:
        return str(service.runner.commit_diff(result.commit))
    if result.attempt and result.attempt.diff:
        return result.attempt.diff
    return f"Build `{record.id}` wrote no files."

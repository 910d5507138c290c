"""Record a build's model exchanges to a file, and replay such a file with no network.

`PETSAGE_RECORD=DIR` saves `DIR/<build id>.json` as the build goes; `PETSAGE_MODEL=replay:FILE`
answers each round with the recorded reply, so a real model's build becomes a regression test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.models.base import GenerationTask, Model, ModelReply, Usage
from agent.models.scripted import ScriptedModel
from agent.request import FeatureRequest

FORMAT = "petsage-record/1"


class RecordingModel(Model):
    """Wraps a model and writes every exchange of a build to one JSON file."""

    def __init__(self, inner: Model, folder: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.folder = folder

    def check(self, request: FeatureRequest) -> None:
        self.inner.check(request)

    def generate(self, task: GenerationTask) -> ModelReply:
        reply = self.inner.generate(task)
        self._append(task, reply)
        return reply

    def _append(self, task: GenerationTask, reply: ModelReply) -> None:
        from agent.models.prompting import prompt_version

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{task.build_id or task.request.feature}.json"
        record: dict[str, Any] = (
            json.loads(path.read_text())
            if path.exists() and task.round > 1
            else {
                "format": FORMAT,
                "model": self.name,
                "prompt_version": prompt_version(),
                "build_id": task.build_id,
                "request": task.request.model_dump(mode="json"),
                "exchanges": [],
            }
        )
        record["exchanges"].append(
            {
                "round": task.round,
                "at": time.time(),
                "messages": list(reply.messages),
                "reply": reply.text,
                "finish_reason": reply.finish_reason,
                "usage": {
                    "prompt_tokens": reply.usage.prompt_tokens,
                    "completion_tokens": reply.usage.completion_tokens,
                },
            }
        )
        path.write_text(json.dumps(record, indent=1))


def replay_model(path: Path) -> ScriptedModel:
    """A model that answers each round with the reply recorded in `path`."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"PETSAGE_MODEL=replay:{path}: cannot read the recording: {e}") from e
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"PETSAGE_MODEL=replay:{path}: not a {FORMAT} recording")
    replies = [
        ModelReply(
            text=exchange["reply"],
            usage=Usage(**exchange.get("usage", {})),
            finish_reason=exchange.get("finish_reason"),
        )
        for exchange in record["exchanges"]
    ]
    return ScriptedModel(replies, name=f"replay:{path.name}")

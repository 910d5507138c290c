"""Model adapters behind one interface, and the factory that picks one by name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import ConfigError
from agent.models.base import Feedback, GenerationTask, Model, ModelReply, RepoContext, Usage

if TYPE_CHECKING:
    from agent.settings import Settings

__all__ = [
    "Feedback",
    "GenerationTask",
    "Model",
    "ModelReply",
    "RepoContext",
    "Usage",
    "create_model",
]

#: Model names `create_model` understands, with what each needs.
MODEL_KINDS = {
    "offline": "offline (the default): status and resource features from templates, no network",
    "openai": "openai:<model>: Chat Completions at OPENAI_BASE_URL with OPENAI_API_KEY",
    "local": "local:<path.gguf>: llama.cpp in-process (extra `local`)",
    "replay": "replay:<file>: the replies recorded with PETSAGE_RECORD, no network",
}


def create_model(spec: str, settings: Settings | None = None) -> Model:
    """The model named by `spec` (the value of `PETSAGE_MODEL`); a wrong name lists valid ones."""
    from agent.settings import Settings

    settings = settings or Settings()
    kind, _, argument = spec.strip().partition(":")
    model: Model
    if kind == "offline" and not argument:
        from agent.models.offline import OfflineModel

        model = OfflineModel()
    elif kind == "openai":
        from agent.models.openai_chat import OpenAIChatModel

        model = OpenAIChatModel(argument.strip(), settings)
    elif kind == "local" and argument:
        from agent.models.local import LocalModel

        model = LocalModel(Path(argument).expanduser(), settings)
    elif kind == "replay" and argument:
        from agent.models.recording import replay_model

        model = replay_model(Path(argument))
    else:
        valid = "; ".join(MODEL_KINDS.values())
        raise ConfigError(
            f"PETSAGE_MODEL={spec!r} is not a model this builder knows. Valid: {valid}"
        )
    if settings.record is not None:
        from agent.models.recording import RecordingModel

        model = RecordingModel(model, settings.record)
    return model

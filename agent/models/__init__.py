"""Model adapters behind one interface, and the factory that picks one by name."""

from __future__ import annotations

from agent.errors import ConfigError
from agent.models.base import Feedback, GenerationTask, Model, ModelReply, RepoContext, Usage

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
}


def create_model(spec: str) -> Model:
    """The model named by `spec` (the value of `PETSAGE_MODEL`); a wrong name lists valid ones."""
    kind, _, argument = spec.strip().partition(":")
    if kind == "offline" and not argument:
        from agent.models.offline import OfflineModel

        return OfflineModel()
    valid = "; ".join(MODEL_KINDS.values())
    raise ConfigError(f"PETSAGE_MODEL={spec!r} is not a model this builder knows. Valid: {valid}")

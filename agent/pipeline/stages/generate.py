"""The model's reply for a round, its time and tokens counted."""

from __future__ import annotations

import time

from agent.errors import ModelError
from agent.models import Feedback, GenerationTask, ModelReply
from agent.models.context import load_context
from agent.pipeline.result import Attempt, RoundRecord
from agent.pipeline.round import Base
from agent.pipeline.state import BuildState
from agent.request import FeatureRequest


class Generate:
    """Asks the model for a round's reply; the round's attempt starts with it."""

    def __init__(self, state: BuildState) -> None:
        self._state = state

    def run(
        self,
        request: FeatureRequest,
        base: Base,
        record: RoundRecord,
        feedback: Feedback | None,
        previous_reply: str | None,
    ) -> ModelReply:
        """Ask the model for the round's reply; count its time and tokens."""
        state = self._state
        result = state.result
        task = GenerationTask(
            request=request,
            round=record.round,
            max_rounds=state.settings.max_rounds,
            feedback=feedback,
            previous_reply=previous_reply,
            load_context=lambda: load_context(state.repo, base.start),
            build_id=result.id,
        )
        began = time.perf_counter()
        try:
            reply = state.model.generate(task)
        except ModelError as e:
            record.outcome, record.reasons = "model_error", [str(e)]
            raise
        finally:
            record.seconds = time.perf_counter() - began
            state.add_time("generate", record.seconds)
            result.model_round_trips += 1
        record.prompt_tokens = reply.usage.prompt_tokens
        record.completion_tokens = reply.usage.completion_tokens
        result.prompt_tokens += reply.usage.prompt_tokens
        result.completion_tokens += reply.usage.completion_tokens
        result.attempt = Attempt(round=record.round, reply=reply.text)
        return reply

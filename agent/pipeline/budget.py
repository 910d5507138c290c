"""The repair budget: when a build stops asking its model for another round, and why.

Beyond the round cap (`PETSAGE_MAX_ROUNDS`), a build stops early, with a typed reason, when a
repair round makes no progress (its failing tests are not fewer than the round before's), when
the model repeats a reply it gave earlier in the build, and when another round would take the
build past its token or cost budget (`PETSAGE_MAX_TOKENS_PER_BUILD`,
`PETSAGE_MAX_COST_PER_BUILD`). Another round is judged to cost what the last one did.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.pipeline.result import StopReason

if TYPE_CHECKING:
    from agent.pipeline.round import Rejection
    from agent.settings import Settings


@dataclass(frozen=True)
class Stop:
    """A build's rounds end here: the typed reason and a sentence for the result's reasons."""

    reason: StopReason
    message: str


@dataclass
class RepairBudget:
    """What a build has spent and seen so far, to decide whether another round is worth it."""

    settings: Settings
    model_name: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _replies: set[str] = field(default_factory=set)
    _failing: frozenset[str] | None = None
    _last_round_tokens: tuple[int, int] = (0, 0)

    def spend(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one round's tokens."""
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self._last_round_tokens = (prompt_tokens, completion_tokens)

    def repeated(self, reply: str) -> Stop | None:
        """A stop when `reply` (whitespace aside) came before in this build; else remember it."""
        key = hashlib.sha256(" ".join(reply.split()).encode()).hexdigest()
        if key in self._replies and self.settings.stop_on_stall:
            return Stop(
                "repeated_reply", "the model repeated a reply it gave earlier in this build"
            )
        self._replies.add(key)
        return None

    def after(self, rejection: Rejection) -> Stop | None:
        """Whether to stop after a refused round: no progress, or a budget another round breaks."""
        return self._progress(rejection) or self._tokens() or self._cost()

    @property
    def cost_usd(self) -> float | None:
        """What the build spent so far, at the model's price; None when it is not priced."""
        return self.settings.cost_usd(self.model_name, self.prompt_tokens, self.completion_tokens)

    def _progress(self, rejection: Rejection) -> Stop | None:
        if not self.settings.stop_on_stall or rejection.kind != "tests":
            self._failing = None if rejection.kind != "tests" else rejection.failing
            return None
        before, self._failing = self._failing, rejection.failing
        if before is None or len(rejection.failing) < len(before):
            return None
        return Stop(
            "no_progress",
            f"the repair did not shrink the failing tests ({len(before)} before, "
            f"{len(rejection.failing)} now)",
        )

    def _tokens(self) -> Stop | None:
        cap = self.settings.max_tokens_per_build
        if cap is None:
            return None
        spent = self.prompt_tokens + self.completion_tokens
        projected = spent + sum(self._last_round_tokens)
        if projected <= cap:
            return None
        return Stop(
            "token_cap",
            f"another round would pass PETSAGE_MAX_TOKENS_PER_BUILD={cap} ({spent} tokens spent, "
            f"about {sum(self._last_round_tokens)} a round)",
        )

    def _cost(self) -> Stop | None:
        cap = self.settings.max_cost_per_build
        spent = self.cost_usd
        if cap is None or spent is None:
            return None
        last = self.settings.cost_usd(self.model_name, *self._last_round_tokens) or 0.0
        if spent + last <= cap:
            return None
        return Stop(
            "cost_cap",
            f"another round would pass PETSAGE_MAX_COST_PER_BUILD={cap} (${spent:.4f} spent, "
            f"about ${last:.4f} a round)",
        )

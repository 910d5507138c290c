"""The gates' verdict on a tested round: the `verified` stage (`agent.pipeline.verify`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.pipeline.round import Tested
from agent.pipeline.state import BuildState

if TYPE_CHECKING:
    from agent.pipeline.verify.outcome import Verification


class Verify:
    """Finishes the gates started beside the test run; the result keeps their verdict."""

    def __init__(self, state: BuildState) -> None:
        self._state = state

    def run(self, tested: Tested) -> Verification:
        """The gates' verdict on the round's passing tests."""
        with self._state.timed("verify"):
            verification = tested.verifier.finish(tested.report)
        self._state.result.verification = verification
        return verification

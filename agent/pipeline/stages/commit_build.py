"""A verified round committed: the feature branch moved to it (`agent.pipeline.commit`)."""

from __future__ import annotations

from collections.abc import Generator

from agent.events import Committed, StageEvent
from agent.pipeline.round import Base, Tested
from agent.pipeline.state import BuildState
from agent.repo.workspace import Worktree
from agent.request import FeatureRequest


class Commit:
    """Commits a verified round's worktree and moves the feature branch to it."""

    def __init__(self, state: BuildState) -> None:
        self._state = state

    def run(
        self, request: FeatureRequest, base: Base, tested: Tested, worktree: Worktree
    ) -> Generator[StageEvent, None, None]:
        """Commit the round's tree, record it in the result, and say so."""
        from agent.pipeline.commit import commit_build, commit_message

        state = self._state
        result = state.result
        message = commit_message(
            request,
            tested.paths,
            tested.report,
            result.id,
            state.model.name,
            len(result.rounds),
        )
        with state.timed("commit"):
            result.commit = commit_build(
                state.repo,
                worktree,
                request,
                message,
                build_id=result.id,
                previous_tip=base.previous_tip,
            )
        result.files = tested.paths
        state.last_stage = "committed"
        yield Committed(
            build_id=result.id,
            message=f"{request.branch} at {result.commit[:12]}",
            commit=result.commit,
            base=base.start,
            tree=state.repo.tree_of(result.commit),
        )

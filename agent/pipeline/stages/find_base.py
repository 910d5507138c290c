"""The build's starting point: the branch it starts from, its test interpreter, its migration."""

from __future__ import annotations

from agent.box.env import test_python_for
from agent.errors import Problem, RequestError
from agent.layout import FeatureLayout
from agent.pipeline import persistence
from agent.pipeline.round import Base
from agent.pipeline.state import BuildState
from agent.request import FeatureRequest


class FindBase:
    """Where the build starts: refused if its base branch or a table it refers to is missing."""

    def __init__(self, state: BuildState) -> None:
        self._state = state

    def run(self, request: FeatureRequest) -> Base:
        """Where the build starts, its test interpreter and its migration's name."""
        state = self._state
        branches = state.repo.branches()
        previous_tip = branches.get(request.branch)
        start = previous_tip or branches.get(request.base_branch)
        if start is None:
            raise RequestError(
                [
                    Problem(
                        "base_branch",
                        f"branch {request.base_branch!r} does not exist in {state.repo.path}",
                    )
                ]
            )
        self._check_references(request, start)
        with state.timed("prepare"):
            # The environment comes from the base branch's requirements, never the feature's.
            base_tip = branches.get(request.base_branch) or start
            test_python, test_env_note = test_python_for(state.settings, state.repo, base_tip)
        revision, revision_path, revision_message = persistence.next_revision(
            state.repo.list_dir(start, persistence.VERSIONS_DIR), request.feature
        )
        return Base(
            start,
            previous_tip,
            test_python,
            revision,
            revision_path,
            revision_message,
            test_env_note,
        )

    def _check_references(self, request: FeatureRequest, start: str) -> None:
        """Every feature a `ref` field names must have its table on the base: else, refuse."""
        if request.resource is None:
            return
        problems = [
            Problem(
                "requirements",
                f"refers to feature {target!r}, which has no table on "
                f"{request.base_branch!r} ({FeatureLayout(target).table_path} is missing): "
                f"build {target!r} as a resource feature first and merge it into "
                f"{request.base_branch!r}, or build this one with base_branch "
                f"'feature/{target}'",
            )
            for target in request.resource.references
            if target != request.feature
            and self._state.repo.show(start, FeatureLayout(target).table_path) is None
        ]
        if problems:
            raise RequestError(problems)

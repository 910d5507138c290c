"""The state of one build while it runs, and the bookkeeping every stage shares.

One `BuildState` per build: what it runs with (settings, model, target repository), the result
it fills in, how it learns it was cancelled, and the stage of its last event. The loop
(`agent.pipeline.loop`) and each stage (`agent.pipeline.stages`) read and write the build
through it: its events (`progress`, `checked`), its timings (`timed`, `add_time`) and the
cancellation check (`check_stop`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Unpack

from agent.errors import BuildCancelled
from agent.events import Checked, CheckStage, Found, Progress, ProgressStage, Stage
from agent.models import Model
from agent.pipeline.result import Attempt, BuildResult
from agent.repo.workspace import TargetRepo
from agent.settings import Settings


@dataclass
class BuildState:
    """One build's settings, model, target repository and result, and its shared bookkeeping."""

    settings: Settings
    model: Model
    repo: TargetRepo
    result: BuildResult
    should_stop: Callable[[], bool]
    #: The stage of the last event: where a build that ends on an error stopped.
    last_stage: Stage = "received"
    #: What wiring the feature's router changed in src/main.py ("" when it was wired already).
    wiring: str = ""

    @property
    def attempt(self) -> Attempt:
        """The round's attempt (its reply, files, diff and test output), once the model answered."""
        assert self.result.attempt is not None
        return self.result.attempt

    def progress(self, stage: ProgressStage, message: str, round: int | None = None) -> Progress:
        self.last_stage = stage
        return Progress(build_id=self.result.id, stage=stage, message=message, round=round)

    def checked(
        self, stage: CheckStage, message: str, round: int, **found: Unpack[Found]
    ) -> Checked:
        self.last_stage = stage
        return Checked(build_id=self.result.id, stage=stage, message=message, round=round, **found)

    def add_time(self, stage: str, seconds: float) -> None:
        self.result.timings[stage] = self.result.timings.get(stage, 0.0) + seconds

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.add_time(stage, time.perf_counter() - began)

    def check_stop(self) -> None:
        if self.should_stop():
            raise BuildCancelled("cancelled")

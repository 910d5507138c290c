"""The round's workplace is prepared once a round, before the model is asked, and once more only
for the infrastructure retry; a held test run no round took serves the next round, one a round
took never does (real git, real sandboxed pytest, scripted model)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.box.run import TestRun
from agent.models.scripted import ScriptedModel
from agent.pipeline import workbench
from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SEED_TEXT, SMOKE_REQUEST
from tests.pipeline.test_loop import failing_tests_bundle


class Counts:
    """How often a build prepared its workbench and started a test process, and the runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prepared = 0
        self.started: list[TestRun] = []
        prepare = workbench.Workbench.prepare
        start_tests = workbench.start_tests

        def counted_prepare(bench: workbench.Workbench) -> None:
            self.prepared += 1
            prepare(bench)

        def counted_start(*args: Any, **kwargs: Any) -> TestRun:
            run = start_tests(*args, **kwargs)
            self.started.append(run)
            return run

        monkeypatch.setattr(workbench.Workbench, "prepare", counted_prepare)
        monkeypatch.setattr(workbench, "start_tests", counted_start)


def test_a_run_no_round_took_serves_the_next_round(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = Counts(monkeypatch)
    model = ScriptedModel(["no files here at all", SEED_TEXT])
    result = Builder(settings, model=model).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert [r.outcome for r in result.rounds] == ["invalid", "accepted"]
    assert counts.prepared == 2  # once a round
    assert len(counts.started) == 1  # the first round's held run served the second


def test_a_run_a_round_took_is_not_used_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = Counts(monkeypatch)
    model = ScriptedModel([failing_tests_bundle(), SEED_TEXT])
    result = Builder(settings, model=model).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert [r.outcome for r in result.rounds] == ["tests_failed", "accepted"]
    assert counts.prepared == 2
    assert len(counts.started) == 2 and counts.started[0] is not counts.started[1]


def test_the_infrastructure_retry_prepares_the_workbench_once_more(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    Builder(settings).run({**SMOKE_REQUEST, "feature": "first_one"})
    counts = Counts(monkeypatch)
    tight = settings.model_copy(update={"test_wall_seconds": 0.05})
    result = Builder(tight, model=ScriptedModel([SEED_TEXT])).run(SMOKE_REQUEST)
    assert result.status == "failed"
    assert [r.outcome for r in result.rounds] == ["infrastructure"]
    assert counts.prepared == 2  # the round's, and the retry's
    assert len(counts.started) == 2

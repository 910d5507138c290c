"""Ending a build outside its run: a concluded result whose report is rendered from what it holds."""

import time

from agent.jobs.ending import ended, ended_for, recovered
from agent.pipeline.report import render_report
from agent.request import FeatureRequest
from agent.store.builds import BuildRecord

REQUEST = FeatureRequest(feature="weight_log", description="Weights", requirements="kg: float >=0")


def record() -> BuildRecord:
    now = time.time()
    return BuildRecord(
        id="b1",
        feature="weight_log",
        status="running",
        request=REQUEST,
        result=None,
        created_at=now,
        updated_at=now,
    )


def test_ended_knows_only_the_id_and_why() -> None:
    result = ended("b1", "cancelled", ["cancelled before it started"])
    assert result.status == "cancelled" and result.request is None
    assert result.reason is not None and result.reason.kind == "cancelled"
    assert result.report == render_report(result)


def test_ended_for_carries_the_stored_request_and_drops_any_commit() -> None:
    result = ended_for(record(), "failed", ["internal error: boom"])
    assert result.request == REQUEST and result.feature == "weight_log"
    assert result.branch == REQUEST.branch and result.base_branch == REQUEST.base_branch
    assert result.commit is None and result.reason is not None
    assert result.report == render_report(result) and "boom" in result.report


def test_recovered_keeps_the_commit_and_its_report_shows_it() -> None:
    commit = "a" * 40
    result = recovered(record(), commit, "recovered after a restart")
    assert result.status == "succeeded" and result.commit == commit and result.reason is None
    assert result.notes == ["recovered after a restart"]
    assert result.report == render_report(result)
    assert commit[:12] in result.report and "recovered after a restart" in result.report

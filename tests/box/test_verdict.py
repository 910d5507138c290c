"""The builder's verdict from verified records: every way a stream falls short is a breach."""

from __future__ import annotations

from typing import Any

from agent.box.channel import Record, ResultChannel
from agent.box.verdict import breaches, junit_style, read_session

IDS = ["tests/test_a.py::test_one", "tests/test_a.py::TestB::test_two[1]"]


def records(*data: dict[str, Any], stream: int = 0) -> list[Record]:
    return [Record(stream, d) for d in data]


def ran(nodeid: str, *phases: dict[str, Any]) -> list[dict[str, Any]]:
    """A test as the plugin reports it: each phase as it happens, then the test's end."""
    return [*({"t": "phase", "id": nodeid, **p} for p in phases), {"t": "test", "id": nodeid}]


def passed(nodeid: str) -> list[dict[str, Any]]:
    return ran(
        *[nodeid], *({"when": w, "outcome": "passed", "seconds": 0.1} for w in ("setup", "call"))
    )


START, COLLECTED = {"t": "start"}, {"t": "collected", "ids": IDS}
END = {"t": "end", "exitstatus": 0, "changed": []}
WHOLE = [START, COLLECTED, *passed(IDS[0]), *passed(IDS[1]), END]
EXPECTED = {"tests/test_a.py::test_one", "tests/test_a.py::TestB::test_two"}


def verdict(data: list[dict[str, Any]], returncode: int = 0, **options: Any) -> list[str]:
    channel = ResultChannel()
    channel.close()
    return breaches(channel, read_session(records(*data)), returncode, **options)


def test_a_whole_stream_stands() -> None:
    assert verdict(WHOLE, expected=EXPECTED) == []
    session = read_session(records(*WHOLE))
    assert [(c.nodeid, c.outcome) for c in session.cases] == [
        ("tests.test_a.test_one", "passed"),
        ("tests.test_a.TestB.test_two[1]", "passed"),
    ]


def test_each_shortfall_is_named() -> None:
    first, second = passed(IDS[0]), passed(IDS[1])
    assert "never started" in verdict(WHOLE[1:])[0]
    assert "before pytest finished collecting" in verdict([START])[0]
    assert (
        "ended before pytest finished its session (1 of 2" in verdict([START, COLLECTED, *first])[0]
    )
    assert "never reported" in verdict([START, COLLECTED, *first, END])[0]
    assert "something ran after the session" in verdict(WHOLE, returncode=1)[0]
    assert "second result" in verdict([START, COLLECTED, *first, first[-1], *second, END])[0]
    assert "had not collected" in verdict([START, *first, *WHOLE[1:]])[0]
    after = verdict([*WHOLE, *first])
    assert "after the session ended" in after[0]
    changed = {"t": "end", "exitstatus": 0, "changed": ["pytest_runtest_makereport was replaced"]}
    assert "pytest itself was changed" in verdict([*WHOLE[:-1], changed])[0]
    extra = verdict(WHOLE, expected={*EXPECTED, "tests/test_c.py::test_hidden"})
    assert "test_c.py::test_hidden" in extra[0]


def test_a_phase_counts_once_and_only_while_its_test_runs() -> None:
    call = {"t": "phase", "id": IDS[0], "when": "call", "outcome": "passed"}
    twice = [START, COLLECTED, *passed(IDS[0])[:2], call, passed(IDS[0])[-1], *passed(IDS[1]), END]
    assert "a second call phase" in verdict(twice)[0]
    late = [START, COLLECTED, *passed(IDS[0]), call, *passed(IDS[1]), END]
    assert "after it ended" in verdict(late)[0]
    early = [START, call, COLLECTED, *passed(IDS[0]), *passed(IDS[1]), END]
    assert "which pytest had not collected" in verdict(early)[0]


def test_a_run_told_to_stop_at_its_first_failure_may_leave_tests_unreported() -> None:
    failed = ran(
        IDS[0], {"when": "call", "outcome": "failed", "msg": "assert 1 == 2", "text": "E..."}
    )
    stream = [START, COLLECTED, *failed, {"t": "end", "exitstatus": 1, "changed": []}]
    assert verdict(stream, returncode=1, stop_on_failure=True) == []
    assert "never reported" in verdict(stream, returncode=1)[0]
    case = read_session(records(*stream)).cases[0]
    assert (case.outcome, case.message, case.detail) == ("failed", "assert 1 == 2", "E...")


def test_setup_and_teardown_failures_are_errors_and_a_collection_error_counts() -> None:
    errored = ran(IDS[0], {"when": "setup", "outcome": "failed"})
    session = read_session(records(START, COLLECTED, *errored))
    assert session.cases[0].outcome == "error"
    broken = read_session(records(START, {"t": "collecterror", "id": "tests/test_x.py"}))
    assert [(c.nodeid, c.outcome) for c in broken.cases] == [("tests.test_x", "error")]


def test_junit_style_names() -> None:
    assert (
        junit_style("tests/a/test_b.py::TestC::test_d[x::y]") == "tests.a.test_b.TestC.test_d[x.y]"
    )
    assert junit_style("tests/a/test_b.py") == "tests.a.test_b"

"""The events' wire format (SSE, stored events, the HTTP API), pinned byte for byte per class."""

import json

import pytest

from agent.events import Checked, Committed, Done, Failed, Progress, PullOpened, StageEvent

REASON = {"kind": "infrastructure", "stage": "tested", "retried": False}
HEAD = '{"build_id": "b1", "stage": "%s", "message": "m", "ok": %s, "round": %s, "at": 5.0, '
CASES: list[tuple[StageEvent, str, str, str, dict[str, object]]] = [
    (
        Progress(build_id="b1", stage="received", message="m", at=5.0),
        "received",
        "true",
        "null",
        {},
    ),
    (
        Progress(build_id="b1", stage="generating", message="m", round=2, at=5.0),
        "generating",
        "true",
        "2",
        {},
    ),
    (
        Checked(build_id="b1", stage="tested", message="m", round=1, at=5.0),
        "tested",
        "true",
        "1",
        {},
    ),
    (
        Checked(
            build_id="b1", stage="validated", message="m", ok=False, round=1, reasons=["a"], at=5.0
        ),
        "validated",
        "false",
        "1",
        {"reasons": ["a"]},
    ),
    (
        Checked(
            build_id="b1",
            stage="verified",
            message="m",
            ok=False,
            round=1,
            reasons=["x"],
            reason=REASON,
            at=5.0,
        ),
        "verified",
        "false",
        "1",
        {"reasons": ["x"], "reason": REASON},
    ),
    (
        Committed(build_id="b1", message="m", commit="c", base="b", tree="t", at=5.0),
        "committed",
        "true",
        "null",
        {"commit": "c", "base": "b", "tree": "t"},
    ),
    (
        PullOpened(build_id="b1", message="m", url=None, kind="local", at=5.0),
        "pr_opened",
        "true",
        "null",
        {"url": None, "kind": "local"},
    ),
    (Done(build_id="b1", message="m", at=5.0), "done", "true", "null", {}),
    (
        Done(build_id="b1", message="m", status="succeeded", at=5.0),
        "done",
        "true",
        "null",
        {"status": "succeeded"},
    ),
    (
        Failed(build_id="b1", message="m", status="failed", reason=REASON, at=5.0),
        "failed",
        "false",
        "null",
        {"status": "failed", "reason": REASON},
    ),
    (
        Failed(build_id="b1", message="m", status="interrupted", at=5.0),
        "failed",
        "false",
        "null",
        {"status": "interrupted"},
    ),
]


@pytest.mark.parametrize(("event", "stage", "ok", "round", "data"), CASES)
def test_each_class_keeps_the_wire_format(
    event: StageEvent, stage: str, ok: str, round: str, data: dict[str, object]
) -> None:
    expected = HEAD % (stage, ok, round) + f'"data": {json.dumps(data)}, "type": "stage"}}'
    assert json.dumps(event.to_dict()) == expected


def test_only_done_and_failed_are_final() -> None:
    finals = {event.stage for event, *_ in CASES if event.final}
    assert finals == {"done", "failed"}


def test_the_wire_data_is_a_copy() -> None:
    reasons = ["a"]
    event = Checked(build_id="b1", stage="tested", message="m", round=1, reasons=reasons)
    event.to_dict()["data"]["reasons"].append("b")
    assert event.reasons == ["a"]

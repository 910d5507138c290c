"""The builder's verdict on one box run, from the verified records alone.

A run counts only when its stream is whole: the plugin started before collection, said what it
collected, reported every collected test once, and ended its session; the process then exited
with the status its session ended with. Each shortfall is a breach with its reason: a breach
fails the build, and a run that reports nothing can never pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.box.channel import Record, ResultChannel
from agent.box.results import TestCase

SESSION, MIGRATION = 0, 1


@dataclass
class Session:
    """What the session stream said, record by record."""

    started: bool = False
    collected: list[str] | None = None
    tests: dict[str, TestCase] = field(default_factory=dict)
    collect_errors: list[TestCase] = field(default_factory=list)
    end: dict[str, Any] | None = None
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Phases reported for tests that have not ended yet, by node id.
    phases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def cases(self) -> list[TestCase]:
        return self.collect_errors + list(self.tests.values())

    @property
    def failed(self) -> int:
        return sum(1 for case in self.cases if case.outcome in ("failed", "error"))


def read_session(records: list[Record]) -> Session:
    """The session stream's records, in order; a record out of place is a problem."""
    session = Session()
    for record in records:
        if record.stream != SESSION:
            continue
        if session.end is not None and record.data["t"] != "document":
            # (the gates' probe sends its documents once its test session is over)
            session.problems.append(f"a {record.data['t']!r} record came after the session ended")
            break
        _take(session, record.data)
    return session


def _take(session: Session, data: dict[str, Any]) -> None:
    kind = data["t"]
    if kind == "start":
        session.started = True
    elif kind == "document" and isinstance(data.get("name"), str):
        session.documents[data["name"]] = data
    elif kind == "collecterror":
        nodeid = str(data.get("id", ""))
        session.collect_errors.append(
            TestCase(junit_style(nodeid) or "collection", "error", str(data.get("msg", "")))
        )
    elif kind == "collected" and session.collected is None and isinstance(data.get("ids"), list):
        session.collected = [str(nodeid) for nodeid in data["ids"]]
    elif kind == "phase":
        _take_phase(session, data)
    elif kind == "test":
        _take_test(session, data)
    elif kind == "end":
        session.end = data
    else:
        session.problems.append(f"an unexpected {kind!r} record")


def _take_phase(session: Session, data: dict[str, Any]) -> None:
    """One phase (setup, call, teardown) of a test that is running: each once, in order."""
    nodeid, when = str(data.get("id", "")), data.get("when")
    if session.collected is None or nodeid not in session.collected:
        session.problems.append(f"a phase of {nodeid!r}, which pytest had not collected")
    elif nodeid in session.tests:
        session.problems.append(f"a {when} phase of {nodeid!r} after it ended")
    else:
        phases = session.phases.setdefault(nodeid, [])
        if any(p.get("when") == when for p in phases):
            session.problems.append(f"a second {when} phase of {nodeid!r}")
        phases.append(data)


def _take_test(session: Session, data: dict[str, Any]) -> None:
    """A test's end: its outcome is what its phases said."""
    nodeid = str(data.get("id", ""))
    if session.collected is None or nodeid not in session.collected:
        session.problems.append(f"a result for {nodeid!r}, which pytest had not collected")
    elif nodeid in session.tests:
        session.problems.append(f"a second result for {nodeid!r}")
    else:
        session.tests[nodeid] = _case(nodeid, session.phases.pop(nodeid, []))


def _case(nodeid: str, phases: list[Any]) -> TestCase:
    """One test's outcome over its phases: setup, call, teardown."""
    seconds = sum(float(p.get("seconds") or 0) for p in phases if isinstance(p, dict))
    name = junit_style(nodeid)
    by_phase = {p.get("when"): p for p in phases if isinstance(p, dict)}
    xfail = next((str(p["xfail"]) for p in by_phase.values() if p.get("xfail")), None)
    if xfail is not None:  # xfailed or xpassed: neither a pass nor a failure of its own
        return TestCase(name, "skipped", f"xfail: {xfail}"[:500], seconds)
    for when in ("setup", "call", "teardown"):
        phase = by_phase.get(when)
        if phase is None:
            continue
        message = str(phase.get("msg") or phase.get("text") or "")[:500]
        if phase.get("outcome") == "failed":
            outcome = "failed" if when == "call" else "error"
            return TestCase(name, outcome, message, seconds, str(phase.get("text") or ""))
        if phase.get("outcome") == "skipped":
            return TestCase(name, "skipped", message, seconds)
    if by_phase.get("call", {}).get("outcome") == "passed":
        return TestCase(name, "passed", "", seconds)
    return TestCase(name, "error", "the test reported no call phase", seconds)


def junit_style(nodeid: str) -> str:
    """`tests/a/test_b.py::TestC::test_d[1]` as JUnit names it: `tests.a.test_b.TestC.test_d[1]`."""
    path, _, rest = nodeid.partition("::")
    module = path.removesuffix(".py").replace("/", ".")
    return f"{module}.{rest.replace('::', '.')}" if rest else module


def breaches(
    channel: ResultChannel,
    session: Session,
    returncode: int | None,
    *,
    expected: set[str] | None = None,
    stop_on_failure: bool = False,
) -> list[str]:
    """Why this run's stream does not stand as a verdict; empty when it does.

    `expected`: the test functions the builder's own checkout defines (`path::name`), each of
    which must have been collected. `stop_on_failure`: the run was told to stop at its first
    failure (`-x`), so tests after it go unreported.
    """
    found = [channel.problem] if channel.problem else []
    leftover = channel.leftover()
    if leftover:
        found.append(leftover)
    found += session.problems
    if not session.started:
        return [*found, "the run never started the builder's reporting plugin" + _exit(returncode)]
    if session.collected is None:
        if session.collect_errors:
            return found
        return [*found, "the run ended before pytest finished collecting" + _exit(returncode)]
    reported, collected = len(session.tests), len(session.collected)
    if session.end is None:
        found.append(
            f"the test process ended before pytest finished its session ({reported} of "
            f"{collected} tests reported): os._exit, a crash, a kill or a closed result stream"
            + _exit(returncode)
        )
        return found
    changed = session.end.get("changed")
    if isinstance(changed, list) and changed:
        found.append("pytest itself was changed during the run: " + "; ".join(map(str, changed)))
    status = session.end.get("exitstatus")
    if returncode is not None and returncode != status:
        found.append(
            f"the process exited with {returncode}, but its pytest session ended with {status}: "
            "something ran after the session"
        )
    missing = [n for n in session.collected if n not in session.tests]
    if missing and not (stop_on_failure and session.failed):
        found.append(
            f"{len(missing)} collected tests were never reported (e.g. {missing[0]}): the "
            "session was cut short"
        )
    if expected is not None:
        found += _uncollected(expected, session.collected)
    return found


def _uncollected(expected: set[str], collected: list[str]) -> list[str]:
    functions = {nodeid.split("[", 1)[0] for nodeid in collected}
    absent = sorted(expected - functions)
    if not absent:
        return []
    return [
        f"{len(absent)} tests the checkout defines were not collected (e.g. {absent[0]}): "
        "they were deselected, renamed away or hidden from pytest"
    ]


def _exit(returncode: int | None) -> str:
    return "" if returncode is None else f" (exit {returncode})"

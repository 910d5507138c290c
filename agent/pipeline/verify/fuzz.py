"""Gate 7 (`PETSAGE_VERIFY=thorough`): Schemathesis against the built app's own operations.

In the box, in one pytest process on a copy of the built tree, for a bounded number of examples
per operation (valid and invalid data): no 5xx, every status code, content type and body as
documented, no schema-valid request rejected, no schema-violating request accepted.

Schemathesis is not a dependency of the target repository, so the fuzz run uses the builder's
own interpreter (the optional extra `petsage-builder[verify]` installs it); where it is not
installed the gate says so in its figures and does not fail the round.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import replace
from pathlib import Path

from agent.box.budget import overrun_error
from agent.layout import FeatureLayout
from agent.pipeline.verify.box import REPORTING, Box, BoxRun, copy_tree
from agent.pipeline.verify.outcome import GateOutcome

EXAMPLES = 25
_FUZZ_TEST = """
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from src.main import app

try:  # the database layer (src/db.py): the fuzzed app gets a fresh in-memory database
    import src.tables  # noqa: F401
    from sqlalchemy.orm import sessionmaker
    from sqlalchemy.pool import StaticPool
    from src.db import Base, get_session, make_engine
except ImportError:
    pass
else:
    _engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(_engine)
    _sessions = sessionmaker(bind=_engine, expire_on_commit=False)

    def _session():
        with _sessions() as session:
            yield session

    app.dependency_overrides[get_session] = _session

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
# Valid data: answered as documented and accepted.
# Invalid data: the app must refuse it without a 5xx (an undocumented 400 for a body that is not
# even JSON is the framework's, not the feature's).
NEGATIVE_CHECKS = [not_a_server_error, negative_data_rejection]
schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=PATH_REGEX)
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_operation(case):
    mode = case.meta.generation.mode if case.meta is not None else None
    positive = mode in (None, schemathesis.GenerationMode.POSITIVE)
    case.call_and_validate(checks=CHECKS if positive else NEGATIVE_CHECKS)
"""
_FINDING = re.compile(r"^\s*\|?\s*- (ST\d+ .+)$", re.MULTILINE)
_CURL = re.compile(r"^\s*\|?\s*(curl .+)$", re.MULTILINE)


def available() -> bool:
    return importlib.util.find_spec("schemathesis") is not None


def gate(worktree: Path, scratch: Path, feature: str, box: Box) -> GateOutcome:
    """Fuzz the feature's operations; one reason per failing operation, with a reproduction."""
    if not available():
        return GateOutcome(
            gate="fuzz",
            figures={
                "skipped": "Schemathesis is not installed: pip install petsage-builder[verify]"
            },
        )
    scratch.mkdir(parents=True)
    tree = copy_tree(worktree, scratch)
    url = FeatureLayout(feature).url
    test = scratch / "test_petsage_fuzz.py"
    test.write_text(
        f"PATH_REGEX = {('^' + re.escape(url) + '(/|$)')!r}\nEXAMPLES = {EXAMPLES}\n" + _FUZZ_TEST
    )
    (scratch / "pytest.ini").write_text("[pytest]\n")
    # The builder's interpreter (Schemathesis), with the build's budget and wall ceiling.
    fuzz_box = replace(box, python=Path(sys.executable))
    run = fuzz_box.run(
        tree,
        scratch,
        [
            "-m",
            "pytest",
            str(test),
            "-q",
            "-p",
            "no:cacheprovider",
            *REPORTING,
            "-c",
            str(scratch / "pytest.ini"),
            f"--rootdir={scratch}",
        ],
    )
    if run.overrun is not None and run.overrun.infrastructure:
        raise overrun_error(run.overrun, "verified", "the fuzz run")  # the machine's: retried
    operations, reasons = _read(run)
    if run.breaches:
        reasons = [f"the fuzz run's results do not stand: {b}" for b in run.breaches]
    elif operations == 0:
        tail = " / ".join(run.output.strip().splitlines()[-3:])[:300]
        reasons = [f"the fuzz run did not run (exit {run.returncode}): {tail}"]
    return GateOutcome(
        gate="fuzz",
        ok=not reasons,
        reasons=reasons,
        figures={"operations": operations, "examples_per_operation": EXAMPLES},
    )


def _read(run: BoxRun) -> tuple[int, list[str]]:
    """How many operations the run fuzzed, and one reason per failing one (its verified
    records: the failure's text holds Schemathesis' findings and a reproduction)."""
    operations, reasons = 0, []
    for case in run.session.cases:
        operations += 1
        if case.outcome not in ("failed", "error"):
            continue
        name = case.nodeid.partition("test_operation")[2] or case.nodeid
        text = case.detail + case.message
        findings = sorted(set(_FINDING.findall(text))) or [text.strip()[:200]]
        curls = _CURL.findall(text)
        example = f" (e.g. {curls[0][:300]})" if curls else ""
        reasons.append(f"{name.strip('[]')}: {'; '.join(findings)}{example}")
    return operations, reasons

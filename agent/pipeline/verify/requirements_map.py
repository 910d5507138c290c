"""Gate 4: every requirement of the request maps to tests that exist.

Requirements are ids: `op.<operation>` for each operation (`op.status` for a status feature),
`<field>.<rule>` for each field rule (`age.ge`, `name.max_length`, `species.choices`,
`born.type`, `age.required`) and `text.<n>` for each free-text requirement line. Tests name
them with `@pytest.mark.req("age.ge")`, or the bundle's `requirements` map does.
"""

from __future__ import annotations

from agent.fields import FieldSpec
from agent.pipeline.verify.outcome import GateOutcome, RequirementRow
from agent.pipeline.verify.testsource import TestFunction
from agent.pipeline.verify.unwired import OPERATION_CALLS
from agent.request import FeatureRequest


def field_requirements(field: FieldSpec) -> list[str]:
    """The ids of one field's rules."""
    ids = [f"{field.name}.choices" if field.type == "enum" else f"{field.name}.type"]
    for rule in ("ge", "le", "min_length", "max_length"):
        if getattr(field, rule) is not None and not (rule == "min_length" and not field.min_length):
            ids.append(f"{field.name}.{rule}")
    if field.required:
        ids.append(f"{field.name}.required")
    return ids


def requirements_of(request: FeatureRequest) -> dict[str, str]:
    """Each requirement's id and a line describing it."""
    spec = request.resource
    if spec is not None:
        found = {f"op.{op}": f"operation {op}" for op in spec.operations}
        # Field rules are checked through the API only where a body is sent.
        with_body = "create" in spec.operations or "update" in spec.operations
        for field in spec.fields if with_body else ():
            for rid in field_requirements(field):
                found[rid] = f"field {field.name}: {rid.split('.', 1)[1]}"
        return found
    if request.requirements is None:
        return {"op.status": "GET the status endpoint"}
    lines = [line.strip(" -*\t") for line in str(request.requirements).splitlines()]
    found = {"op.status": "the feature's endpoint answers"} if not lines else {}
    for number, line in enumerate((x for x in lines if x), 1):
        found[f"text.{number}"] = line[:200]
    return found


def gate(
    request: FeatureRequest,
    tests: dict[str, TestFunction],
    declared: dict[str, list[str]],
    results: dict[str, str],
    unwired: dict[str, str],
) -> tuple[GateOutcome, list[RequirementRow]]:
    """The map from markers, the bundle's map and (for operations) the calls tests make."""
    wanted = requirements_of(request)
    mapped: dict[str, set[str]] = {rid: set() for rid in wanted}
    reasons: list[str] = []
    for name, test in tests.items():
        for rid in test.requirements:
            mapped.setdefault(rid, set()).add(name)
    for rid, names in declared.items():
        for name in names:
            short = name.split("::")[-1].split("[")[0]
            if short not in tests:
                reasons.append(f"requirement {rid} is mapped to {name}, which does not exist")
            else:
                mapped.setdefault(rid, set()).add(short)
    for rid in wanted:
        if rid.startswith("op.") and not mapped[rid]:
            calls = OPERATION_CALLS.get(rid[3:], set())
            mapped[rid] = {n for n, t in tests.items() if t.calls & calls}
    rows = []
    for rid in wanted:
        names = sorted(mapped[rid])
        row = RequirementRow(
            requirement=f"{rid}: {wanted[rid]}",
            tests=names,
            results={
                n: f"{results.get(n, 'not run')} / unwired {unwired.get(n, 'not run')}"
                for n in names
            },
            fails_unwired=any(unwired.get(n) == "failed" for n in names),
        )
        rows.append(row)
        if not names:
            reasons.append(f"requirement {rid} ({wanted[rid]}) has no test")
    unchecked = [r.requirement for r in rows if r.tests and not r.fails_unwired]
    return (
        GateOutcome(
            gate="requirements",
            ok=not reasons,
            reasons=reasons,
            figures={
                "requirements": len(rows),
                "mapped": sum(1 for r in rows if r.tests),
                "fail_unwired": sum(1 for r in rows if r.fails_unwired),
                "not_failing_unwired": "; ".join(unchecked)[:500],
            },
        ),
        rows,
    )

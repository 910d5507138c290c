"""Gate 1: fail without the feature. The feature's tests run again on a copy of the tree whose
`src/main.py` does not mount the feature's router; a test that still passes does not exercise
the feature, and every declared operation needs a test that fails unwired."""

from __future__ import annotations

import ast

from agent.box.run import TestCase
from agent.layout import FeatureLayout
from agent.pipeline.verify.outcome import GateOutcome
from agent.pipeline.verify.testsource import TestFunction, base_name
from agent.syntax import parse

# operation → the (method, path kind) calls that exercise it
OPERATION_CALLS: dict[str, set[tuple[str, str]]] = {
    "status": {("get", "collection")},
    "create": {("post", "collection")},
    "list": {("get", "collection")},
    "get": {("get", "item")},
    "update": {("patch", "item"), ("put", "item")},
    "delete": {("delete", "item")},
}
_WEAK = ("ImportError", "ModuleNotFoundError", "collection", "SyntaxError", "NameError")


def unwire(source: str, feature: str) -> str:
    """`src/main.py` without the feature's router import and `include_router` line."""
    layout = FeatureLayout(feature)
    tree = parse(source)
    drop: set[int] = set()
    for node in tree.body:
        hit = False
        if isinstance(node, ast.ImportFrom) and node.module == layout.router_module:
            hit = any(a.name == layout.router_alias for a in node.names)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            hit = (
                ast.unparse(call.func).endswith("include_router")
                and bool(call.args)
                and ast.unparse(call.args[0]).startswith(layout.router_alias)
            )
        if hit:
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    lines = source.splitlines(keepends=True)
    return "".join(line for number, line in enumerate(lines, 1) if number not in drop)


def outcomes(cases: list[TestCase], prefix: str) -> dict[str, str]:
    """Each test function's outcome over its cases: failed if one failed, weak on import errors."""
    result: dict[str, str] = {}
    for case in cases:
        if not case.nodeid.startswith(prefix):
            continue
        name = base_name(case.nodeid)
        outcome = case.outcome
        if outcome in ("failed", "error") and (
            outcome == "error" or any(w in case.message for w in _WEAK)
        ):
            outcome = "weak"
        rank = {"failed": 3, "weak": 2, "passed": 1, "skipped": 0}
        if rank.get(outcome, 0) > rank.get(result.get(name, "skipped"), -1):
            result[name] = outcome
        else:
            result.setdefault(name, outcome)
    return result


def gate(
    tests: dict[str, TestFunction],
    unwired: dict[str, str],
    operations: list[str],
    *,
    run_note: str = "",
) -> tuple[GateOutcome, list[str]]:
    """The gate's outcome and the tests that do not exercise the feature."""
    failing = sorted(name for name, outcome in unwired.items() if outcome == "failed")
    passing = sorted(name for name, outcome in unwired.items() if outcome == "passed")
    weak = sorted(name for name, outcome in unwired.items() if outcome == "weak")
    reasons: list[str] = []
    if not failing:
        why = f" ({run_note})" if run_note else ""
        reasons.append(
            "no test fails with the feature's router unmounted: the tests do not exercise the "
            f"feature{why}"
        )
    else:
        for operation in operations:
            calls = OPERATION_CALLS.get(operation, set())
            if not any(tests.get(name) and tests[name].calls & calls for name in failing):
                reasons.append(
                    f"operation {operation!r} has no test that fails with the router unmounted"
                )
    reasons += [
        f"{name} passes with the feature unwired: it does not exercise the feature"
        for name in passing
        if not failing
    ]
    return (
        GateOutcome(
            gate="unwired",
            ok=not reasons,
            reasons=reasons,
            figures={"fail_unwired": len(failing), "pass_unwired": len(passing), "weak": len(weak)},
        ),
        passing,
    )

"""Gate 2: no skipping, no weakening. Generated tests may not skip, xfail, `importorskip`,
catch `AssertionError` or assert on constants only; a rebuild may not drop a test that the
branch had, nor give a test of the same name fewer asserts."""

from __future__ import annotations

import ast

from agent.pipeline.verify.outcome import GateOutcome
from agent.pipeline.verify.testsource import read_tests
from agent.syntax import parse

_SKIPPERS = {
    "pytest.skip": "skips",
    "pytest.xfail": "marks itself xfail",
    "pytest.importorskip": "uses importorskip",
    "pytest.mark.skip": "is marked skip",
    "pytest.mark.skipif": "is marked skipif",
    "pytest.mark.xfail": "is marked xfail",
    "unittest.skip": "is marked skip",
    "unittest.skipIf": "is marked skipif",
}
_PYTEST_NAMES = {
    "skip": "skips",
    "xfail": "marks itself xfail",
    "importorskip": "uses importorskip",
}
_BROAD = ("BaseException", "Exception")


def scan(path: str, source: str) -> list[str]:
    """Skips, xfails, caught AssertionErrors and constant-only asserts in one test module."""
    try:
        tree = parse(source)
    except SyntaxError as e:
        return [f"{path}:{e.lineno}: does not parse: {e.msg}"]
    reasons: list[str] = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Attribute) and ast.unparse(node) in _SKIPPERS:
            what = _SKIPPERS[ast.unparse(node)]
        elif isinstance(node, ast.ImportFrom) and node.module == "pytest":
            names = [a.name for a in node.names if a.name in _PYTEST_NAMES]
            what = _PYTEST_NAMES[names[0]] if names else None
        if what is not None:
            line = getattr(node, "lineno", 0)
            reasons.append(
                f"{path}:{line}: a test {what} (`{ast.unparse(node)}`): generated tests "
                "may not skip or xfail"
            )
        elif isinstance(node, ast.Try):
            has_assert = any(isinstance(n, ast.Assert) for b in node.body for n in ast.walk(b))
            for handler in node.handlers:
                caught = _caught(handler.type)
                if "AssertionError" in caught or (has_assert and caught & {"", *_BROAD}):
                    reasons.append(
                        f"{path}:{handler.lineno}: catches AssertionError "
                        f"(`except {ast.unparse(handler.type) if handler.type else ''}`): "
                        "a test may not swallow its own failures"
                    )
        elif isinstance(node, ast.Assert) and _constant_only(node.test):
            reasons.append(
                f"{path}:{node.lineno}: `assert {ast.unparse(node.test)}` asserts on constants "
                "only and cannot fail"
            )
    return reasons


def compare(path: str, before: str, after: str | None) -> list[str]:
    """What a rebuild took away from a test module the branch had: dropped or weaker tests."""
    old = read_tests(before)
    new = read_tests(after) if after is not None else {}
    reasons: list[str] = []
    for name, test in old.items():
        if name not in new:
            reasons.append(f"{path}::{name} passed on the base branch and was removed")
        elif new[name].asserts < test.asserts:
            reasons.append(
                f"{path}::{name} was weakened: {new[name].asserts} assert(s) where the base "
                f"branch had {test.asserts}"
            )
    return reasons


def gate(test_files: dict[str, str], base_test_files: dict[str, str]) -> GateOutcome:
    """Gate 2 on the feature's test modules as built and as they were on the base."""
    reasons: list[str] = []
    for path, source in sorted(test_files.items()):
        reasons += scan(path, source)
    for path, source in sorted(base_test_files.items()):
        reasons += compare(path, source, test_files.get(path))
    tests = sum(len(read_tests(s)) for s in test_files.values())
    asserts = sum(t.asserts for s in test_files.values() for t in read_tests(s).values())
    return GateOutcome(
        gate="weakening",
        ok=not reasons,
        reasons=reasons,
        figures={
            "tests": tests,
            "asserts": asserts,
            "base_tests": sum(len(read_tests(s)) for s in base_test_files.values()),
        },
    )


def _caught(kind: ast.expr | None) -> set[str]:
    if kind is None:
        return {""}
    names = kind.elts if isinstance(kind, ast.Tuple) else [kind]
    return {ast.unparse(name) for name in names}


def _constant_only(test: ast.expr) -> bool:
    return not any(
        isinstance(node, ast.Name | ast.Call | ast.Attribute | ast.Subscript)
        for node in ast.walk(test)
    )

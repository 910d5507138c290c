"""What a generated test module says, read with `ast`: its tests, asserts, calls and markers."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from agent.syntax import parse

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class TestFunction:
    """One `test_*` function of a module."""

    __test__ = False

    name: str
    line: int
    asserts: int = 0
    calls: set[tuple[str, str]] = field(default_factory=set)  # (method, "collection" | "item")
    requirements: list[str] = field(default_factory=list)  # from @pytest.mark.req(...)


def read_tests(source: str) -> dict[str, TestFunction]:
    """The module's test functions (top level and in `Test*` classes), by name."""
    try:
        tree = parse(source)
    except SyntaxError:
        return {}
    helpers = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("test_")
    }
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.append(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            functions += [
                item
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
    tests: dict[str, TestFunction] = {}
    for function in functions:
        if not function.name.startswith("test_"):
            continue
        test = TestFunction(function.name, function.lineno)
        test.asserts = sum(isinstance(n, ast.Assert) for n in ast.walk(function))
        test.calls = _http_calls(function, helpers, set())
        test.requirements = _req_marks(function)
        tests[function.name] = test
    return tests


def _http_calls(
    function: ast.AST,
    helpers: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    seen: set[str],
) -> set[tuple[str, str]]:
    calls: set[tuple[str, str]] = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in HTTP_METHODS and node.args:
            target = node.args[0]
            kind = "collection" if isinstance(target, ast.Name | ast.Constant) else "item"
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                kind = "item" if target.value.rstrip("/").count("/") > 3 else "collection"
            calls.add((func.attr, kind))
        elif isinstance(func, ast.Name) and func.id in helpers and func.id not in seen:
            calls |= _http_calls(helpers[func.id], helpers, seen | {func.id})
    return calls


def _req_marks(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    marks: list[str] = []
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) in (
            "pytest.mark.req",
            "mark.req",
        ):
            marks += [
                arg.value
                for arg in decorator.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
    return marks


def base_name(nodeid: str) -> str:
    """`test_x` of a JUnit node id such as `tests.features.f.test_f.test_x[param]`."""
    return nodeid.split("[", 1)[0].rsplit(".", 1)[-1]

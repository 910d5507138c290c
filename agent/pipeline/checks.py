"""The checks every bundle passes before anything is written (BLUEPRINT §3).

A checked bundle is also completed: the package `__init__.py` files a model left out are added.
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from agent.bundle import BundleFile, FileBundle
from agent.errors import BundleError, Problem
from agent.layout import FeatureLayout
from agent.pipeline.code_scan import find_dangerous_code, find_pytest_tampering
from agent.pipeline.reach_scan import find_reaching_code
from agent.syntax import parse

MAX_FILES = 30
MAX_FILE_BYTES = 200 * 1024
_PYDANTIC_BASES = frozenset({"BaseModel", "RootModel"})


def check_bundle(bundle: FileBundle, feature: str, *, scan: bool = True) -> FileBundle:
    """`bundle` completed with its `__init__.py` files; `BundleError` lists every problem.

    `scan=False` skips the static scan of the code (dangerous calls, pytest hooks): the box
    must hold without it, and the tests prove that it does.
    """
    layout = FeatureLayout(feature)
    problems: list[Problem] = []
    if bundle.feature != feature:
        problems.append(
            Problem("feature", f"is {bundle.feature!r}, the request asks for {feature!r}")
        )
    if len(bundle.files) > MAX_FILES:
        problems.append(
            Problem(None, f"{len(bundle.files)} files, at most {MAX_FILES} are allowed")
        )
    trees: dict[str, ast.Module] = {}
    seen: set[str] = set()
    for file in bundle.files:
        path_problems = _check_path(file.path, layout)
        if file.path in seen:
            path_problems.append(Problem(file.path, "appears twice in the bundle"))
        seen.add(file.path)
        problems += path_problems
        if path_problems:
            continue
        size = len(file.content.encode("utf-8"))
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(file.path, f"{size} bytes, at most {MAX_FILE_BYTES} are allowed")
            )
            continue
        try:
            tree = parse(file.content, filename=file.path)
        except SyntaxError as e:
            problems.append(Problem(file.path, f"does not parse as Python: {e.msg}", e.lineno))
            continue
        trees[file.path] = tree
        if scan:
            found = (
                find_dangerous_code(tree)
                + find_pytest_tampering(file.path, tree)
                + find_reaching_code(file.path, tree)
            )
            problems += [Problem(file.path, reason, line or None) for line, reason in found]
    problems += _check_modules(trees, seen, layout)
    if problems:
        raise BundleError(problems)
    return _with_packages(bundle, layout)


def _check_path(path: str, layout: FeatureLayout) -> list[Problem]:
    if "\\" in path:
        return [Problem(path, "backslash in path; use POSIX `/` separators")]
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return [Problem(path, "absolute path; paths are relative to the repository root")]
    parts = path.split("/")
    if ".." in parts:
        return [Problem(path, "`..` in path leaves the feature's folders")]
    if any(part in ("", ".") for part in parts) or path != path.strip():
        return [Problem(path, "not a normalised relative path")]
    if not (path.startswith(layout.src_dir + "/") or path.startswith(layout.tests_dir + "/")):
        return [
            Problem(
                path, f"outside the feature's folders `{layout.src_dir}/` and `{layout.tests_dir}/`"
            )
        ]
    if not path.endswith(".py"):
        return [Problem(path, "only `.py` files may be generated")]
    if not all(part.isidentifier() for part in PurePosixPath(path).with_suffix("").parts):
        return [Problem(path, "every folder and module name must be a Python identifier")]
    return []


def _check_modules(
    trees: dict[str, ast.Module], paths: set[str], layout: FeatureLayout
) -> list[Problem]:
    problems: list[Problem] = []
    required = {
        layout.models_path: ("the Pydantic models module", _defines_model),
        layout.router_path: ("the router module", lambda tree: _router_problem(tree, layout)),
        layout.test_path: ("the test module", _defines_test),
    }
    if layout.table_path in trees:
        reason = _table_problem(trees[layout.table_path])
        if reason:
            problems.append(Problem(layout.table_path, reason))
    for path, (what, check) in required.items():
        if path not in paths:
            problems.append(Problem(path, f"missing: {what} is required"))
        elif path in trees:
            reason = check(trees[path])
            if reason:
                problems.append(Problem(path, reason))
    return problems


def _defines_model(tree: ast.Module) -> str | None:
    models: set[str] = set()
    changed = True
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    while changed:
        changed = False
        for node in classes:
            if node.name in models:
                continue
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
                if isinstance(base, ast.Subscript):
                    value = base.value
                    name = (
                        value.attr
                        if isinstance(value, ast.Attribute)
                        else getattr(value, "id", None)
                    )
                if name in _PYDANTIC_BASES or name in models:
                    models.add(node.name)
                    changed = True
                    break
    return None if models else "defines no Pydantic model (a class deriving from BaseModel)"


def _table_problem(tree: ast.Module) -> str | None:
    """A table module (`<f>_table.py`) defines an ORM class: a class with `__tablename__`."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                targets = item.targets if isinstance(item, ast.Assign) else []
                if isinstance(item, ast.AnnAssign):
                    targets = [item.target]
                if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets):
                    return None
    return "defines no ORM table class (a class deriving from `src.db.Base` with `__tablename__`)"


def _router_problem(tree: ast.Module, layout: FeatureLayout) -> str | None:
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if not (
            isinstance(target, ast.Name) and target.id == "router" and isinstance(value, ast.Call)
        ):
            continue
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name != "APIRouter":
            return "`router` is not an `APIRouter(...)`"
        prefix = next((k.value for k in value.keywords if k.arg == "prefix"), None)
        if not isinstance(prefix, ast.Constant) or prefix.value != layout.prefix:
            got = repr(prefix.value) if isinstance(prefix, ast.Constant) else "missing"
            return f"`router = APIRouter(prefix=...)` must use prefix {layout.prefix!r}, got {got}"
        return None
    return f"defines no module-level `router = APIRouter(prefix={layout.prefix!r}, ...)`"


def _defines_test(tree: ast.Module) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            return None
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    return None
    return "defines no `test_*` function"


def _with_packages(bundle: FileBundle, layout: FeatureLayout) -> FileBundle:
    present = {file.path for file in bundle.files}
    needed: set[str] = set()
    for path in present:
        root = layout.src_dir if path.startswith(layout.src_dir + "/") else layout.tests_dir
        folder = PurePosixPath(path).parent
        while True:
            needed.add(f"{folder}/__init__.py")
            if str(folder) == root:
                break
            folder = folder.parent
    added = [BundleFile(path=p, content="") for p in sorted(needed - present)]
    if not added:
        return bundle
    return bundle.model_copy(
        update={"files": sorted([*bundle.files, *added], key=lambda f: f.path)}
    )

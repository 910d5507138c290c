"""Static scan for dangerous code in generated modules: the first wall (BLUEPRINT §3).

The sandbox is the second wall; this scan only has to catch what a model writes in plain sight,
and it reports each construct with its line.
"""

from __future__ import annotations

import ast

from agent.pipeline.built_text import built_text

BANNED_MODULES = frozenset(
    # The last four reach into the interpreter or pytest itself: a verdict could be forged
    # from inside the test process through them (docs/architecture.md, "What the builder
    # reads back").
    {
        "subprocess",
        "socket",
        "ctypes",
        "_ctypes",
        "cffi",
        "_cffi_backend",
        "multiprocessing",
        "shutil",
        "gc",
        "inspect",
        "_pytest",
        "pluggy",
    }
)
#: Attributes that reach a running frame, a function's hidden state or pytest's plugins.
BANNED_ATTRIBUTES = frozenset(
    {"pluginmanager", "__closure__", "__globals__", "_getframe", "f_back", "f_locals", "gi_frame"}
)
#: Strings that name the builder's own plugins and channels in the box, or a process's fds.
BANNED_TEXT = (
    "petsage_report",
    "petsage_gate",
    "petsage_migrations",
    "petsage_probe",
    "PETSAGE_REPORT_FD",
    "PETSAGE_TEST_GATE_FD",
    "PETSAGE_MIGRATION",
    "/proc/self/fd",
)
BANNED_CALLS = frozenset({"eval", "exec", "compile", "__import__"})
_OS_EXACT = frozenset(
    {
        "system",
        "popen",
        "remove",
        "unlink",
        "rmdir",
        "removedirs",
        "fork",
        "forkpty",
        "kill",
        "killpg",
    }
)
_OS_PREFIXES = ("exec", "spawn", "posix_spawn")
_WRITE_MODES = frozenset("wax+")


def find_dangerous_code(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, reason) for every dangerous construct in `tree`."""
    visitor = _Scanner()
    visitor.visit(tree)
    return sorted(set(visitor.found))  # a text built in steps is found at each


def _builders(module: str) -> bool:
    """A module of the builder's in the box (its plugins: `petsage_report`, `petsage_gate`, ...):
    imported, it hands the test the armed result channel."""
    return module.lower().startswith("petsage")


def _banned_os(name: str) -> bool:
    return name in _OS_EXACT or name.startswith(_OS_PREFIXES)


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.os_names: set[str] = {"os"}

    def _flag(self, node: ast.AST, reason: str) -> None:
        self.found.append((getattr(node, "lineno", 0), reason))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in BANNED_MODULES or _builders(root):
                self._flag(node, f"imports `{alias.name}`, which generated code may not use")
            if alias.name == "os":
                self.os_names.add(alias.asname or "os")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] in BANNED_MODULES or _builders(module.split(".")[0]):
            self._flag(node, f"imports from `{module}`, which generated code may not use")
        if module == "os":
            for alias in node.names:
                if _banned_os(alias.name):
                    self._flag(node, f"imports `os.{alias.name}`, which generated code may not use")
        if module == "builtins":
            for alias in node.names:
                if alias.name in BANNED_CALLS or alias.name == "open":
                    self._flag(node, f"imports `builtins.{alias.name}`")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in BANNED_ATTRIBUTES:
            self._flag(node, f"uses `.{node.attr}`, which reaches into the running interpreter")
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.os_names
            and _banned_os(node.attr)
        ):
            self._flag(node, f"uses `os.{node.attr}`, which generated code may not use")
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == "builtins"
            and node.attr in BANNED_CALLS
        ):
            self._flag(node, f"uses `builtins.{node.attr}`")
        self.generic_visit(node)

    def visit(self, node: ast.AST) -> None:
        """Every expression is looked at as text first: a name of the builder's plumbing, in a
        constant or built of constants alone (`built_text`: a slice, a call, an f-string...)."""
        value = built_text(node) if isinstance(node, ast.expr) else None
        if value is not None:
            for text in BANNED_TEXT:
                if text in value:
                    self._flag(node, f"names `{text}`, part of the builder's test plumbing")
        super().visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in BANNED_CALLS and isinstance(node.ctx, ast.Load):
            self._flag(node, f"uses `{node.id}`, which generated code may not use")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            self._check_mode(node, node.args[1] if len(node.args) > 1 else None, "open()")
        elif isinstance(func, ast.Attribute):
            if func.attr in ("write_text", "write_bytes"):
                self._flag(node, f"writes a file with `.{func.attr}()`")
            elif func.attr == "open":
                self._check_mode(node, node.args[0] if node.args else None, ".open()")
        self.generic_visit(node)

    def _check_mode(self, node: ast.Call, positional: ast.expr | None, what: str) -> None:
        mode = positional or next((k.value for k in node.keywords if k.arg == "mode"), None)
        if mode is None:
            return
        if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
            self._flag(node, f"{what} with a mode that is not a string literal")
        elif _WRITE_MODES & set(mode.value):
            self._flag(node, f"{what} for writing (mode {mode.value!r})")


_PYTEST_SKIPS = frozenset({"skip", "xfail", "importorskip", "exit"})


def find_pytest_tampering(path: str, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, reason) for everything in a generated file that would steer pytest itself.

    A `conftest.py`, any `pytest_*` hook or `pytest_plugins`, and a skip, xfail or
    importorskip at module level (or in `pytestmark`) could hide failing tests from the verdict.
    """
    found: list[tuple[int, str]] = []
    if path.rsplit("/", 1)[-1] == "conftest.py":
        found.append((0, "a `conftest.py` may not be generated: it could steer the test run"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "pytest_"
        ):
            found.append((node.lineno, f"defines the pytest hook `{node.name}`"))
        elif isinstance(node, ast.Name) and node.id == "pytest_plugins":
            found.append((node.lineno, "sets `pytest_plugins`, which loads plugins into pytest"))
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
            and any(
                isinstance(n, ast.Attribute) and n.attr in ("skip", "skipif", "xfail")
                for n in ast.walk(node.value)
            )
        ):
            found.append((node.lineno, "skips or xfails the whole module with `pytestmark`"))
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and _pytest_skip(node.func):
                found.append((node.lineno, "skips, xfails or exits at module level"))
    return found


def _pytest_skip(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in _PYTEST_SKIPS


def count_tests(tree: ast.Module) -> int:
    """The tests pytest collects from a module at least (a parametrized one counts once)."""
    return len(collected_names(tree))


def collected_names(tree: ast.Module) -> set[str]:
    """The test functions pytest collects from a module: `name`, or `Class.name` in a class."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            if _collected_class(node):
                names |= {
                    f"{node.name}.{item.name}"
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and item.name.startswith("test")
                }
        elif isinstance(node, ast.Assign):
            names -= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def _collected_class(node: ast.ClassDef) -> bool:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return False
        if isinstance(item, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__test__" for t in item.targets
        ):
            return False
    return True

"""Static scan, second part: code that reaches past what it names (BLUEPRINT §3, first wall).

`code_scan` finds dangerous calls written in plain sight. Code written to slip past it names
nothing: it builds a name at run time (`getattr(os, "_ex" + "it")`, a `monkeypatch.setattr`
target built from pieces, a module looked up in `sys.modules`), walks from a harmless module to a
dangerous one (`typing.sys`, `pathlib.os`), or reaches the interpreter through dunder attributes.
This scan refuses each of those shapes, whatever the name turns out to be, plus the ways a
feature's module could change the app beyond its own router (a route appended outside the
prefix, a middleware) and the ways a test could read the source it tests (which lets a test
"kill" every mutant by pinning the file's text).

Plain feature code needs none of it: a router, its models and table, and tests that call the API.
The sandbox and the builder's verdict still hold against what slips past (docs/architecture.md,
"What the builder reads back").
"""

from __future__ import annotations

import ast

from agent.syntax import parse

#: Modules generated code may not import, beyond `code_scan.BANNED_MODULES` (not repeated here,
#: so each import is named once): each reaches the
#: interpreter, the import system, the process's exit or its threads.
REACH_MODULES = frozenset(
    {
        "sys",
        "builtins",
        "importlib",
        "operator",
        "atexit",
        "signal",
        "threading",
        "_thread",
        "faulthandler",
        "pickle",
        "marshal",
        "runpy",
        "code",
        "codeop",
        "pdb",
        "bdb",
        "pkgutil",
        "zipimport",
        "site",
        "sysconfig",
        "types",
        "posix",
        "_posixsubprocess",
        "resource",
        "mmap",
        "linecache",
        "tokenize",
        "fileinput",
        "tracemalloc",
        "dis",
        "pydoc",
        "pty",
        "weakref",
        "platform",
    }
)
#: Attribute names that lead from an object to the interpreter, a frame or a module.
REACH_ATTRIBUTES = frozenset(
    {
        "__globals__",
        "__closure__",
        "__code__",
        "__dict__",
        "__builtins__",
        "__subclasses__",
        "__bases__",
        "__base__",
        "__mro__",
        "__getattribute__",
        "__setattr__",
        "__delattr__",
        "__import__",
        "__loader__",
        "__spec__",
        "__self__",
        "__func__",
        "__wrapped__",
        "__defaults__",
        "__kwdefaults__",
        "__reduce__",
        "__reduce_ex__",
        "__traceback__",
        "__file__",
        "tb_frame",
        "f_globals",
        "f_builtins",
        "f_code",
        "cr_frame",
        "ag_frame",
        "modules",
        "meta_path",
        "path_hooks",
        "_exit",
        "sys",
        "os",
        "builtins",
        "__call__",
        "co_code",
        "co_consts",
        "co_names",
        "co_varnames",
        "get_instructions",
        "get_type_hints",
        "ForwardRef",
        "_eval_type",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "finalize",
        # What tells the box from a host (a test that expects one thing in each).
        "environ",
        "getenv",
        "getuid",
        "geteuid",
        "getpid",
        "getppid",
        "uname",
    }
)
#: In a test module: what tells one of the builder's runs from another (the mutants' `-x`, the
#: unwired copy's folder) or from a host run.
RUN_SENSING = frozenset(
    {"pytestconfig", "config", "getoption", "rootpath", "rootdir", "invocation_params", "argv"}
)
#: What a feature module would call to change the app beyond its own decorated routes.
APP_CHANGES = frozenset(
    {
        "routes",
        "add_api_route",
        "add_route",
        "add_api_websocket_route",
        "add_websocket_route",
        "mount",
        "include_router",
        "add_middleware",
        "middleware",
        "user_middleware",
        "middleware_stack",
        "exception_handler",
        "add_exception_handler",
        "exception_handlers",
        "add_event_handler",
        "on_event",
        "openapi_schema",
        "dependency_overrides",
    }
)
#: In a test module: calls that read a file (a test that pins the source it tests).
FILE_READS = frozenset({"read_text", "read_bytes", "open", "fdopen", "scandir", "listdir"})
DYNAMIC_ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
REACH_NAMES = frozenset({"vars", "globals", "locals", "breakpoint", "__builtins__", "__file__"})
#: Calls whose first argument names a target by a dotted string, imported at run time.
STRING_TARGETS = frozenset({"setattr", "delattr", "patch"})


def find_reaching_code(path: str, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, reason) for every construct of `tree` that reaches past what it names."""
    scanner = _Reach(is_test=path.rsplit("/", 1)[-1].startswith("test"))
    scanner.visit(tree)
    return sorted(scanner.found)


class _Reach(ast.NodeVisitor):
    def __init__(self, *, is_test: bool) -> None:
        self.is_test = is_test
        self.found: list[tuple[int, str]] = []
        self.called: set[int] = set()
        #: Names bound to `unittest.mock` (or its `patch`), and pytest-mock's fixture.
        self.mock_names: set[str] = {"mock", "mocker"}
        #: Names bound at module level (imports at any depth included), and the
        #: (key, value) targets of `for key, value in x.items()` loops.
        self.module_names: set[str] = set()
        self.item_loops: set[tuple[str, str]] = set()

    def visit_Module(self, node: ast.Module) -> None:
        self.module_names, self.item_loops = _bindings(node)
        self.generic_visit(node)

    def _flag(self, node: ast.AST, reason: str) -> None:
        self.found.append((getattr(node, "lineno", 0), reason))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("unittest"):
                self.mock_names.add((alias.asname or alias.name).split(".")[0])
            if alias.name.split(".")[0] in REACH_MODULES:
                self._flag(node, f"imports `{alias.name}`, which reaches the interpreter")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = (node.module or "").split(".")[0]
        if node.level == 0 and module in REACH_MODULES:
            self._flag(node, f"imports from `{node.module}`, which reaches the interpreter")
        for alias in node.names:
            self._check_attribute(node, alias.name)
            if (node.module or "").startswith("unittest"):
                self.mock_names.add(alias.asname or alias.name)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_attribute(node, node.attr)
        if node.attr in FILE_READS and self.is_test:
            self._flag(node, f"reads a file with `.{node.attr}`: a test calls the API")
        if node.attr in RUN_SENSING and self.is_test:
            self._flag(node, f"uses `.{node.attr}`: a test does not look at how it is run")
        if isinstance(node.ctx, ast.Store | ast.Del):
            if node.attr.startswith("__"):
                self._flag(node, f"assigns `{node.attr}`: a feature does not patch objects")
            elif isinstance(node.value, ast.Name) and node.value.id in self.module_names:
                self._flag(
                    node,
                    f"assigns `{node.value.id}.{node.attr}`: a feature does not patch a module, "
                    "a class or a module-level object",
                )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value if isinstance(node.value, str) else ""
        if value.startswith("__") and value.endswith("__") and value != "__main__":
            self._flag(node, f"names `{value}` in a string: write the attribute out")
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._check_annotation(node.annotation)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_annotation(node.annotation)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_annotation(node.returns)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _check_annotation(self, annotation: ast.expr | None) -> None:
        """A string annotation is code that `typing.get_type_hints`, pydantic or FastAPI
        evaluate: it may name types, never call or reach anything."""
        for node in ast.walk(annotation) if annotation is not None else ():
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            try:
                parsed = parse(node.value.strip(), mode="eval")
            except SyntaxError:
                continue
            if any(isinstance(n, ast.Call | ast.Lambda) for n in ast.walk(parsed)):
                self._flag(node, "a string annotation that calls: annotations name types")

    def _check_attribute(self, node: ast.AST, name: str) -> None:
        if name in REACH_ATTRIBUTES:
            self._flag(node, f"uses `{name}`, which reaches the interpreter or a module")
        elif name in APP_CHANGES and not (self.is_test and name == "dependency_overrides"):
            self._flag(node, f"uses `{name}`: a feature changes the app only by its router")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in RUN_SENSING and self.is_test:
            self._flag(node, f"uses `{node.id}`: a test does not look at how it is run")
        if node.id in REACH_NAMES:
            self._flag(node, f"uses `{node.id}`, which reaches the interpreter")
        elif node.id in DYNAMIC_ATTRIBUTE_CALLS and id(node) not in self.called:
            self._flag(node, f"passes `{node.id}` around: attribute names must be written out")
        elif node.id == "open" and self.is_test:
            self._flag(node, "reads a file with `open`: a test calls the API")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in DYNAMIC_ATTRIBUTE_CALLS:
            self.called.add(id(func))
            self._check_named(node, func.id)
        elif isinstance(func, ast.Attribute) and func.attr in STRING_TARGETS:
            if func.attr != "patch" or _root(func.value) in self.mock_names:
                self._check_target(node, func.attr)
        elif isinstance(func, ast.Name) and func.id in self.mock_names:
            self._check_target(node, func.id)
        self.generic_visit(node)

    def _check_named(self, node: ast.Call, call: str) -> None:
        """A literal name is checked like an attribute. A variable name only in the update
        idiom: `for name, value in changes.items(): setattr(row, name, value)`, on an object
        that is neither imported nor a module-level name."""
        target = node.args[0] if node.args else None
        name = node.args[1] if len(node.args) > 1 else None
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            self._check_attribute(node, name.value)
            return
        value = node.args[2] if len(node.args) > 2 else None
        idiom = (
            call == "setattr"
            and isinstance(target, ast.Name)
            and target.id not in self.module_names
            and isinstance(name, ast.Name)
            and isinstance(value, ast.Name)
            and (name.id, value.id) in self.item_loops
        )
        if not idiom:
            self._flag(node, f"`{call}` with a name built at run time: write the attribute out")

    def _check_target(self, node: ast.Call, call: str) -> None:
        """`monkeypatch.setattr("pkg.mod.name", value)` and `mock.patch("…")` import their
        target: it must be written out and must not name what the scan refuses. The object form
        (`monkeypatch.setattr(obj, "name", value)`) must write its attribute out."""
        if call in ("setattr", "delattr") and len(node.args) >= (3 if call == "setattr" else 2):
            self._check_named(node, f"monkeypatch.{call}")
            return
        target = node.args[0] if node.args else None
        if target is None:
            return
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
            self._flag(node, f"`.{call}` with a target built at run time: write it out")
            return
        parts = target.value.split(".")
        if parts[0] in REACH_MODULES or any(p in REACH_ATTRIBUTES for p in parts):
            self._flag(node, f"`.{call}` reaches `{target.value}`")


def _root(node: ast.expr) -> str:
    """The name an attribute chain starts from: `unittest` for `unittest.mock.patch`."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _bindings(tree: ast.Module) -> tuple[set[str], set[tuple[str, str]]]:
    """The names bound at module level or by an import anywhere, and the (key, value) target
    pairs of every `for key, value in <x>.items()` loop."""
    names: set[str] = set()
    loops: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Tuple)
            and len(node.target.elts) == 2
            and all(isinstance(e, ast.Name) for e in node.target.elts)
            and isinstance(node.iter, ast.Call)
            and isinstance(node.iter.func, ast.Attribute)
            and node.iter.func.attr == "items"
        ):
            key, value = (e.id for e in node.target.elts if isinstance(e, ast.Name))
            loops.add((key, value))
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names |= _names(target)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
    return names, loops


def _names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}

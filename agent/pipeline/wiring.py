"""Wire a feature's router into the target's `src/main.py` (BLUEPRINT §2).

Idempotent: an import or `include_router` line that is already there is never added again, and
everything else in the file is kept as it was, comments and formatting included. The check and
the edit are `ast` reads with whole lines inserted between statements (`agent.pipeline.line_edit`,
checked by parsing the result again); a file written so that this is not certain gets the libcst
syntax-tree edit instead (`agent.pipeline.cst_edit`), loaded only then.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable

from agent.errors import IntegrationError
from agent.layout import FeatureLayout
from agent.pipeline.line_edit import Insertion, insert_statements
from agent.syntax import parse

PREFIX_NAME = "API_V1_PREFIX"


def wire_router(source: str, feature: str) -> str:
    """`source` with the feature's router imported and included; unchanged when already wired."""
    if is_wired(source, feature):
        return source
    tree = parse(source)
    edited = insert_statements(source, tree, _router_insertions(tree.body, feature))
    if edited is not None:
        return edited
    from agent.pipeline.cst_edit import add_router

    return add_router(source, feature)


def _router_insertions(body: list[ast.stmt], feature: str) -> list[Insertion]:
    """What `add_router` adds, as insertions into the module's top-level statements.

    Top to bottom where two share a place: the import, the prefix constant, the include.
    """
    layout = FeatureLayout(feature)
    app_index = next((i for i, s in enumerate(body) if _assigns(s, "app")), None)
    if app_index is None:
        raise IntegrationError("src/main.py defines no module-level `app = FastAPI(...)`")
    insertions: list[Insertion] = []
    if not any(_imports(s, layout.router_module, layout.router_alias) for s in body):
        insertions.append(Insertion(import_position(body), _import_line(layout)))
    if not any(_assigns(s, PREFIX_NAME) for s in body):
        insertions.append(Insertion(app_index, f'{PREFIX_NAME} = "/api/v1"', hug_next=True))
    if not any(_includes(s, layout.router_alias) for s in body):
        line = f"app.include_router({layout.router_alias}.router, prefix={PREFIX_NAME})"
        last_include = _find_last(body, lambda s: _includes(s, None))
        if last_include is None:
            insertions.append(Insertion(app_index + 1, line, blank_before=True))
        else:
            insertions.append(Insertion(last_include + 1, line))
    return insertions


def import_position(body: list[ast.stmt]) -> int:
    """Where a new import goes: after the last import, else after the docstring, else first."""
    last_import = _find_last(body, lambda s: isinstance(s, ast.Import | ast.ImportFrom))
    if last_import is not None:
        return last_import + 1
    return 1 if body and _is_docstring(body[0]) else 0


def _import_line(layout: FeatureLayout) -> str:
    return f"from {layout.router_module} import {layout.router_alias}"


def _find_last(body: list[ast.stmt], predicate: Callable[[ast.stmt], bool]) -> int | None:
    found = [index for index, statement in enumerate(body) if predicate(statement)]
    return found[-1] if found else None


def _assigns(statement: ast.stmt, name: str) -> bool:
    if isinstance(statement, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)
    return (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == name
    )


def _imports(statement: ast.stmt, module: str, name: str) -> bool:
    return (
        isinstance(statement, ast.ImportFrom)
        and statement.module == module
        and any(a.name == name and a.asname is None for a in statement.names)
    )


def _includes(statement: ast.stmt, alias: str | None) -> bool:
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    call = statement.value
    if ast.unparse(call.func) != "app.include_router":
        return False
    return alias is None or (bool(call.args) and ast.unparse(call.args[0]) == f"{alias}.router")


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def is_wired(source: str, feature: str) -> bool:
    """True when `source` imports the feature's router, includes it, and has `API_V1_PREFIX`."""
    layout = FeatureLayout(feature)
    try:
        tree = parse(source)
    except SyntaxError as e:
        raise IntegrationError(f"src/main.py does not parse: {e.msg} (line {e.lineno})") from e
    body = tree.body
    return (
        any(_imports(s, layout.router_module, layout.router_alias) for s in body)
        and any(_includes(s, layout.router_alias) for s in body)
        and any(isinstance(s, ast.Assign) and _assigns(s, PREFIX_NAME) for s in body)
    )


def patch(path: str, before: str, after: str) -> str:
    """The unified diff of one file's edit, as the report shows it."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
        )
    )

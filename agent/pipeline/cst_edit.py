"""The libcst edit behind `agent.pipeline.wiring`: add the missing import and `include_router`.

Imported only when a file needs the edit, since libcst is slow to import.
"""

from __future__ import annotations

import libcst as cst

from agent.errors import IntegrationError
from agent.layout import FeatureLayout

PREFIX_NAME = "API_V1_PREFIX"


def add_router(source: str, feature: str) -> str:
    """`source` with the feature's router imported and included, everything else kept."""
    layout = FeatureLayout(feature)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        raise IntegrationError(
            f"src/main.py does not parse: {e.message} (line {e.raw_line})"
        ) from e
    body = list(module.body)
    app_index = _find(body, _assigns("app"))
    if app_index is None:
        raise IntegrationError("src/main.py defines no module-level `app = FastAPI(...)`")
    if _find(body, _assigns(PREFIX_NAME)) is None:
        app_statement = body[app_index]
        constant = cst.parse_statement(f'{PREFIX_NAME} = "/api/v1"\n')
        if isinstance(app_statement, cst.SimpleStatementLine) and isinstance(
            constant, cst.SimpleStatementLine
        ):
            constant = constant.with_changes(leading_lines=app_statement.leading_lines)
            body[app_index] = app_statement.with_changes(leading_lines=[])
        body.insert(app_index, constant)
        app_index += 1
    if _find(body, lambda s: _imports_router(s, layout)) is None:
        last_import = _find_last(body, _is_import)
        position = 0 if last_import is None else last_import + 1
        if last_import is None and body and _is_docstring(body[0]):
            position = 1
        statement = cst.parse_statement(
            f"from {layout.router_module} import {layout.router_alias}\n"
        )
        body.insert(position, statement)
        if position <= app_index:
            app_index += 1
    if _find(body, lambda s: _includes(s, layout.router_alias)) is None:
        last_include = _find_last(body, lambda s: _includes(s, None))
        line = f"app.include_router({layout.router_alias}.router, prefix={PREFIX_NAME})\n"
        statement = cst.parse_statement(line)
        if last_include is None:
            assert isinstance(statement, cst.SimpleStatementLine)
            statement = statement.with_changes(leading_lines=[cst.EmptyLine()])
            body.insert(app_index + 1, statement)
        else:
            body.insert(last_include + 1, statement)
    return module.with_changes(body=body).code


# --- helpers -------------------------------------------------------------------------------------

Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


def _small(statement: Statement) -> list[cst.BaseSmallStatement]:
    return list(statement.body) if isinstance(statement, cst.SimpleStatementLine) else []


def _find(body: list[Statement], predicate: object) -> int | None:
    for index, statement in enumerate(body):
        if predicate(statement):  # type: ignore[operator]
            return index
    return None


def _find_last(body: list[Statement], predicate: object) -> int | None:
    found = None
    for index, statement in enumerate(body):
        if predicate(statement):  # type: ignore[operator]
            found = index
    return found


def _assigns(name: str) -> object:
    def check(statement: Statement) -> bool:
        for small in _small(statement):
            if isinstance(small, cst.Assign):
                if any(_is_name(t.target, name) for t in small.targets):
                    return True
            elif isinstance(small, cst.AnnAssign) and _is_name(small.target, name):
                return True
        return False

    return check


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _is_import(statement: Statement) -> bool:
    return any(isinstance(small, cst.Import | cst.ImportFrom) for small in _small(statement))


def _is_docstring(statement: Statement) -> bool:
    smalls = _small(statement)
    return (
        len(smalls) == 1
        and isinstance(smalls[0], cst.Expr)
        and isinstance(smalls[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _imports_router(statement: Statement, layout: FeatureLayout) -> bool:
    for small in _small(statement):
        if (
            isinstance(small, cst.ImportFrom)
            and _dotted(small.module) == layout.router_module
            and not isinstance(small.names, cst.ImportStar)
            and any(
                _dotted(alias.name) == layout.router_alias and alias.asname is None
                for alias in small.names
            )
        ):
            return True
    return False


def _includes(statement: Statement, alias: str | None) -> bool:
    for small in _small(statement):
        if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
            continue
        call = small.value
        if _dotted(call.func) != "app.include_router":
            continue
        if alias is None:
            return True
        if call.args and _dotted(call.args[0].value) == f"{alias}.router":
            return True
    return False


def add_import_line(source: str, line: str) -> str:
    """`source` with one import statement added after its last import (or its docstring)."""
    module = cst.parse_module(source)
    body = list(module.body)
    last_import = _find_last(body, _is_import)
    position = 0 if last_import is None else last_import + 1
    if last_import is None and body and _is_docstring(body[0]):
        position = 1
    statement = cst.parse_statement(line)
    if last_import is None and position == 1 and isinstance(statement, cst.SimpleStatementLine):
        statement = statement.with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(position, statement)
    return module.with_changes(body=body).code

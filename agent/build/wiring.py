"""Wire a feature's router into the target's `src/main.py` (BLUEPRINT §2).

Idempotent: an import or `include_router` line that is already there is never added again, and
everything else in the file is kept as it was, comments and formatting included. The check is a
quick `ast` read; the edit itself is a libcst syntax-tree edit (`agent.build.cst_edit`), loaded only
when a file needs it.
"""

from __future__ import annotations

import ast
import difflib

from agent.errors import IntegrationError
from agent.layout import FeatureLayout

MAIN_PY = "src/main.py"


def wire_router(source: str, feature: str) -> str:
    """`source` with the feature's router imported and included; unchanged when already wired."""
    if is_wired(source, feature):
        return source
    from agent.build.cst_edit import add_router

    return add_router(source, feature)


def is_wired(source: str, feature: str) -> bool:
    """True when `source` imports the feature's router, includes it, and has `API_V1_PREFIX`."""
    layout = FeatureLayout(feature)
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise IntegrationError(f"src/main.py does not parse: {e.msg} (line {e.lineno})") from e
    imported = included = has_prefix = False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == layout.router_module:
            imported |= any(a.name == layout.router_alias and a.asname is None for a in node.names)
        elif isinstance(node, ast.Assign):
            has_prefix |= any(
                isinstance(t, ast.Name) and t.id == "API_V1_PREFIX" for t in node.targets
            )
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            included |= (
                ast.unparse(call.func) == "app.include_router"
                and bool(call.args)
                and ast.unparse(call.args[0]) == f"{layout.router_alias}.router"
            )
    return imported and included and has_prefix


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

"""The text an expression builds from string constants alone: what a scan for a name must see.

`"petsage_" + "report"`, `f"petsage_{'report'}"`, `"petsage_%s" % "report"`,
`"petsage_{}".format("report")` and `"_".join(["petsage", "report"])` are each one constant
text, written so that no single constant holds it. The scans fold them before they look.
"""

from __future__ import annotations

import ast

_CAP = 10_000  # a folded text longer than this is not a name anyone hides


def built_text(node: ast.AST) -> str | None:
    """The text `node` evaluates to when it is built only of string constants; else None."""
    text = _fold(node)
    return text if text is not None and len(text) <= _CAP else None


def _fold(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        values = [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values]
        return _joined([_fold(value) for value in values])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _joined([_fold(node.left), _fold(node.right)])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _percent(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords:
        return _method(node.func.attr, _fold(node.func.value), node.args)
    return None


def _joined(parts: list[str | None]) -> str | None:
    if any(part is None for part in parts):
        return None
    return "".join(part for part in parts if part is not None)


def _percent(node: ast.BinOp) -> str | None:
    template = _fold(node.left)
    items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    values = [_fold(item) for item in items]
    if template is None or any(value is None for value in values):
        return None
    try:
        return template % tuple(values)
    except (TypeError, ValueError, KeyError):
        return None


def _method(name: str, base: str | None, args: list[ast.expr]) -> str | None:
    if base is None or len(base) > _CAP:
        return None
    if name == "join" and len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
        parts = [_fold(item) for item in args[0].elts]
        return base.join(p for p in parts if p is not None) if None not in parts else None
    if name == "format":
        values = [_fold(arg) for arg in args]
        if None in values:
            return None
        try:
            return base.format(*values)
        except (IndexError, KeyError, ValueError):
            return None
    return None

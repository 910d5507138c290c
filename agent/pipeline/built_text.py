"""The text an expression builds from string constants alone: what a scan for a name must see.

`"petsage_" + "report"`, `f"petsage_{'report'}"`, `"petsage_%s" % "report"`,
`"petsage_{}".format("report")`, `"_".join(["petsage", "report"])`, `"PETSAGE_REPORT".lower()`,
`"troper_egasteP"[::-1]`, `Path("/proc/self") / "fd"` and `os.path.join("/proc", "self", "fd")`
are each one constant text, written so that no single constant holds it. The scans fold them
before they look. Every step is bounded (no fold grows past `CAP` characters), so a short
expression cannot make the builder build a huge string.

A text built from anything that is not a constant (a variable, a call's result) is not folded:
what could use such a name (`sys.modules`, `importlib`, a built `getattr`) is refused itself.
"""

from __future__ import annotations

import ast
import posixpath
import re
import string

CAP = 10_000  # a folded text longer than this is not a name anyone hides
#: str methods whose result depends only on the text and constant arguments.
_METHODS = frozenset(
    {
        "lower",
        "upper",
        "casefold",
        "title",
        "capitalize",
        "swapcase",
        "strip",
        "lstrip",
        "rstrip",
        "removeprefix",
        "removesuffix",
        "replace",
    }
)
_PATHS = frozenset({"Path", "PurePath", "PosixPath", "PurePosixPath"})
_PERCENT = re.compile(r"%[^%s]")  # only `%s` and `%%` are folded: no width, no precision


def built_text(node: ast.AST) -> str | None:
    """The text `node` evaluates to when it is built only of string constants; else None."""
    return _fold(node)


def _fold(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        return _capped(node.value) if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        values = [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values]
        return _joined([_fold(value) for value in values])
    if isinstance(node, ast.BinOp):
        return _operator(node)
    if isinstance(node, ast.Subscript):
        return _sliced(_fold(node.value), node.slice)
    if isinstance(node, ast.Call) and not node.keywords:
        return _call(node)
    return None


def _capped(text: str | None) -> str | None:
    return text if text is not None and len(text) <= CAP else None


def _joined(parts: list[str | None], separator: str = "") -> str | None:
    texts = [part for part in parts if part is not None]
    if len(texts) != len(parts) or sum(map(len, texts)) + len(separator) * len(texts) > CAP:
        return None
    return separator.join(texts)


def _operator(node: ast.BinOp) -> str | None:
    if isinstance(node.op, ast.Add):
        return _joined([_fold(node.left), _fold(node.right)])
    if isinstance(node.op, ast.Mod):
        return _percent(node)
    if isinstance(node.op, ast.Div):  # a path joined with `/`
        left, right = _path(node.left), _fold(node.right)
        return _capped(posixpath.join(left, right)) if left and right is not None else None
    return None


def _path(node: ast.AST) -> str | None:
    """The text of a path built of constants: `Path(...)` of texts, or a `/` of them."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _operator(node)
    if isinstance(node, ast.Call) and _name(node.func) in _PATHS and not node.keywords:
        parts = [_fold(arg) for arg in node.args]
        if not parts or None in parts:
            return None
        return _joined([posixpath.join(*[p for p in parts if p is not None])])
    return None


def _percent(node: ast.BinOp) -> str | None:
    template = _fold(node.left)
    items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    values = [_fold(item) for item in items]
    if template is None or _PERCENT.search(template) or None in values:
        return None
    if sum(len(v or "") for v in values) + len(template) > CAP:
        return None
    try:
        return template % tuple(values)
    except (TypeError, ValueError):
        return None


def _call(node: ast.Call) -> str | None:
    func = node.func
    if _name(func) in _PATHS:
        return _path(node)
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr == "join" and _name(func.value) in ("path", "posixpath"):
        parts = [_fold(arg) for arg in node.args]  # os.path.join(...)
        texts = [p for p in parts if p is not None]
        return _joined([posixpath.join(*texts)]) if texts and len(texts) == len(parts) else None
    return _method(func.attr, _fold(func.value), [_fold(arg) for arg in node.args], node.args)


def _method(
    name: str, base: str | None, values: list[str | None], args: list[ast.expr]
) -> str | None:
    if base is None:
        return None
    if name == "join" and len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
        return _joined([_fold(item) for item in args[0].elts], base)
    if None in values:
        return None
    texts = [v for v in values if v is not None]
    if name == "format":
        return _format(base, texts)
    if name not in _METHODS or len(texts) > 2:
        return None
    if name == "replace" and (len(texts) != 2 or len(base) * (len(texts[1]) + 1) > CAP):
        return None
    try:
        result = getattr(base, name)(*texts)
    except (TypeError, ValueError):
        return None
    return _capped(result) if isinstance(result, str) else None


def _format(template: str, values: list[str]) -> str | None:
    """`template.format(*values)` for plain fields only (`{}`, `{0}`): no spec, no width."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return None
    if any(spec or (name and not name.isdigit()) for _, name, spec, _ in fields):
        return None
    if sum(map(len, values)) * max(1, len(fields)) + len(template) > CAP:
        return None
    try:
        return template.format(*values)
    except (IndexError, KeyError, ValueError):
        return None


def _sliced(base: str | None, index: ast.AST) -> str | None:
    """`base[...]` with constant integer bounds (a reversal, a prefix)."""
    if base is None:
        return None
    if isinstance(index, ast.Slice):
        bounds = [_integer(part) for part in (index.lower, index.upper, index.step)]
        if any(b is False for b in bounds) or bounds[2] == 0:
            return None
        lower, upper, step = (b if isinstance(b, int) else None for b in bounds)
        return base[lower:upper:step]
    return None


def _integer(node: ast.AST | None) -> int | None | bool:
    """An integer constant (also negated), None when absent, False when not a constant."""
    if node is None:
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _integer(node.operand)
        return -inner if isinstance(inner, int) and not isinstance(inner, bool) else False
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return int(node.value)
    return False


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None

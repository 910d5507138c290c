"""The fast path of the wiring edits: whole lines inserted between top-level statements.

`ast` (in the standard library, already loaded) finds where each statement starts and ends; the
new statements go in as whole lines at those boundaries, and the result is parsed again and
compared statement by statement with the original plus exactly the inserted ones. Anything this
cannot place with certainty (two statements on one line, a lone carriage return, a result whose
syntax tree is not the expected one) returns None, and the caller falls back to the libcst edit
(`agent.pipeline.cst_edit`), which keeps the same layout: libcst is then imported only for files
written in an unusual way.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from agent.syntax import parse

_LINE_END = re.compile(r"(?<=\n)")


@dataclass(frozen=True)
class Insertion:
    """One statement to add at position `index` of the module's body (len(body): at the end).

    It goes right after the statement before it, the blank and comment lines between the two
    staying above the next one; `hug_next` puts it right above the next one instead, after
    those lines (they then stay with the new statement, as libcst moves leading lines).
    """

    index: int
    line: str
    blank_before: bool = False
    hug_next: bool = False


def insert_statements(source: str, tree: ast.Module, insertions: list[Insertion]) -> str | None:
    """`source` with each insertion's line added at its statement boundary, or None if unsure.

    `tree` is `ast.parse(source)`. The result must parse to the original statements with the
    new ones at exactly their places (in the given order where they share one), or None is
    returned.
    """
    if "\r" in source.replace("\r\n", ""):
        return None
    lines = _LINE_END.split(source)
    if lines and lines[-1] == "":
        lines.pop()
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    placed: list[tuple[int, int, Insertion]] = []
    for order, insertion in enumerate(insertions):
        line = _boundary_line(tree.body, insertion) if tree.body else len(lines)
        if line is None or line > len(lines):
            return None
        placed.append((line, order, insertion))
    # From the bottom up, so that the line numbers above stay valid.
    for line, _, insertion in sorted(placed, key=lambda item: item[:2], reverse=True):
        text = insertion.line.rstrip("\n") + newline
        if insertion.blank_before:
            text = newline + text
        if line > 0 and not lines[line - 1].endswith("\n"):
            lines[line - 1] += newline
        lines.insert(line, text)
    edited = "".join(lines)
    if not source.endswith("\n"):
        edited = edited.removesuffix(newline)  # as libcst: no final newline added
    return edited if _is_expected(edited, tree.body, insertions) else None


def _boundary_line(body: list[ast.stmt], insertion: Insertion) -> int | None:
    """How many source lines come before the inserted one; None when that is not certain."""
    index = insertion.index
    previous_end = body[index - 1].end_lineno if index > 0 else 0
    if previous_end is None or not 0 <= index <= len(body):
        return None
    if index == len(body):
        return previous_end
    statement = body[index]
    decorators = getattr(statement, "decorator_list", [])
    first = min([statement.lineno, *(d.lineno for d in decorators)])
    if first <= previous_end:
        return None  # two statements on one line: `a = 1; b = 2`
    return first - 1 if insertion.hug_next or index == 0 else previous_end


def _is_expected(edited: str, body: list[ast.stmt], insertions: list[Insertion]) -> bool:
    """Whether `edited` parses to `body` with each inserted statement exactly where it belongs."""
    try:
        new_body = parse(edited).body
        added = [[ast.dump(s) for s in parse(i.line).body] for i in insertions]
    except (SyntaxError, ValueError):
        return False
    expected: list[str] = []
    for index in range(len(body) + 1):
        for insertion, dumps in zip(insertions, added, strict=True):
            if insertion.index == index:
                expected += dumps
        if index < len(body):
            expected.append(ast.dump(body[index]))
    return [ast.dump(statement) for statement in new_body] == expected

"""The SQL a CHECK constraint of a rendered revision may hold: a small, closed grammar.

A CHECK's text runs in the database as DDL when the revision is applied, so the builder takes it
from the box's description only when every token is one of: a column of the table (bare or
double-quoted), a number, a single-quoted string (`''` inside), a comparison, `AND`/`OR`/`NOT`,
`IN`, `IS [NOT] NULL`, `BETWEEN`, a few functions of one column (`length`, `lower`...), commas
and balanced parentheses. No semicolon, comment, other identifier or keyword gets through.
"""

from __future__ import annotations

import re
from typing import Any

from agent.errors import MigrationRefused

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"[A-Za-z_][A-Za-z0-9_]*")
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<operator><=|>=|<>|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "between", "true", "false"})
_FUNCTIONS = frozenset({"length", "char_length", "character_length", "lower", "upper", "trim"})
MAX_SQL = 2000


def check_sql(value: Any, columns: set[str]) -> str:
    """`value` when it is a CHECK the grammar allows over `columns`; else `MigrationRefused`."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SQL:
        raise MigrationRefused("a CHECK constraint without a short SQL condition")
    depth, at = 0, 0
    while at < len(value):
        match = _TOKEN.match(value, at)
        if match is None or match.end() == at:
            if value[at:].strip() == "":
                break
            raise MigrationRefused(
                f"a CHECK holds {value[at : at + 20]!r}, which the builder refuses"
            )
        at = match.end()
        depth += _depth(match)
        if depth < 0:
            raise MigrationRefused(f"a CHECK with unbalanced parentheses: {value!r}")
        _allowed(match, columns, value)
    if depth != 0:
        raise MigrationRefused(f"a CHECK with unbalanced parentheses: {value!r}")
    return value


def _depth(match: re.Match[str]) -> int:
    operator = match.group("operator")
    return {"(": 1, ")": -1}.get(operator or "", 0)


def _allowed(match: re.Match[str], columns: set[str], value: str) -> None:
    word = match.group("word") or ""
    quoted = (match.group("quoted") or "").strip('"')
    name = quoted or word
    if not name:
        return
    if word and (word.lower() in _KEYWORDS or word.lower() in _FUNCTIONS):
        return
    if name not in columns:
        raise MigrationRefused(
            f"a CHECK names {name!r}, which is neither a column of the table nor allowed SQL: "
            f"{value!r}"
        )

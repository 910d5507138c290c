"""A message cut into clauses: its lines, each line's sentences, and the parts a spaced dash sets
apart ("adoption applications -- call it adoption_application").

Understanding reads clause by clause (agent/chat/understand.py), so a name, a purpose and fields
are found wherever they stand and however many sentences hold them. One pass over the characters,
nothing that backtracks: a long message costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.chat.items import BULLET
from agent.fields.kinds import TYPE_WORDS
from agent.fields.words import looks_like_field_lines

#: Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "approx", "incl", "no", "nr"})
_DASHES = ("--", "\u2014", "\u2013", "-", "->")


@dataclass(frozen=True)
class Clause:
    """One clause of a message: its text, the line it is on, and whether that line is a bullet."""

    text: str
    line: int
    bullet: bool = False


def split_clauses(text: str) -> list[Clause]:
    """The clauses of `text`, in order; blank lines and bare marks are dropped."""
    clauses: list[Clause] = []
    for number, raw in enumerate(text.splitlines()):
        if not raw.strip():
            continue
        bullet = bool(BULLET.match(raw))
        line = BULLET.sub("", raw, count=1) if bullet else raw
        parts = [line.strip()] if looks_like_field_lines(line) else sentences(line)
        for part in parts:
            if any(ch.isalnum() for ch in part):
                clauses.append(Clause(part, number, bullet))
    return clauses


def sentences(line: str) -> list[str]:
    """`line` cut after `.`, `!` or `?` and at spaced dashes, never inside ( ) or a number."""
    parts: list[str] = []
    start = depth = 0
    for match in re.finditer(r"[()]|[.!?]++|\s++", line):
        mark = match[0]
        if mark == "(":
            depth += 1
        elif mark == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and mark[0] in ".!?" and _ends_sentence(line, match.start(), match.end()):
            parts.append(line[start : match.end()])
            start = match.end()
        elif depth == 0 and mark.isspace() and _dash_after(line, match.end()):
            parts.append(line[start : match.start()])
            start = match.end()
    parts.append(line[start:])
    return [cleaned for part in parts if (cleaned := _clean(part))]


def _ends_sentence(line: str, at: int, end: int) -> bool:
    if end < len(line) and not line[end].isspace():
        return False
    before = line[max(0, at - 40) : at]
    word = before.rsplit(None, 1)[-1].lower() if before.strip() else ""
    if line[at] == "?" and (word in TYPE_WORDS or "|" in word):
        return False  # `note: str? len<=200`: `?` marks an optional field
    return word not in _ABBREVIATIONS and not word.endswith("/")


def _dash_after(line: str, at: int) -> bool:
    """A dash standing alone between spaces at `at` (`a -- b`, `a — b`), not `->` or `0 - 10`."""
    end = at
    while end < len(line) and line[end] in "-\u2014\u2013":
        end += 1
    dash = line[at:end]
    if dash not in _DASHES or dash == "->" or end >= len(line) or not line[end].isspace():
        return False
    before = line[max(0, at - 40) : at].rstrip()[-1:]
    after = line[end : end + 40].lstrip()[:1]
    return not (before.isdigit() and after.isdigit())


def _clean(part: str) -> str:
    text = part.strip()
    while text[:1] in ("-", "\u2014", "\u2013") or text[:2] == "->":
        text = text.lstrip("-\u2014\u2013>").strip()
    return text

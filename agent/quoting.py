"""Untrusted text (model output, requests, generated files) quoted for Markdown and terminals.

Whatever a model or a requester wrote is shown, never interpreted: code goes in a fence longer
than any backtick run inside it, prose is escaped (no raw HTML, no Markdown control at a line's
start or inside it) and bounded in length, and terminal output loses its control characters.
"""

from __future__ import annotations

import re

#: C0 controls but newline and tab, DEL, and the C1 range (8-bit CSI and OSC among them).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Punctuation that means something to CommonMark or GitHub anywhere in a line (`@` mentions).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>&|~@])")
#: And at a line's start: headings, quotes, lists, setext underlines, ordered lists.
_LEADING = re.compile(r"^([#>+\-=])")
_LEADING_NUMBER = re.compile(r"^(\d+)([.)])")
_BACKTICKS = re.compile(r"`+")


def strip_controls(text: str) -> str:
    """`text` for a terminal: every control character dropped but newline and tab."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n"))


def fence(content: str, info: str = "") -> str:
    """A fenced code block of `content` whose fence no line inside it can close."""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = strip_controls(content).rstrip("\n")
    return f"{ticks}{info}\n{body}\n{ticks}"


def code_span(text: str, limit: int = 300) -> str:
    """`text` as one inline code span, on one line, bounded."""
    clean = _one_line(text, limit)
    longest = max((len(run) for run in _BACKTICKS.findall(clean)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if clean.startswith("`") or clean.endswith("`") or not clean.strip() else ""
    return f"{ticks}{pad}{clean}{pad}{ticks}"


def inline(text: str, limit: int = 500) -> str:
    """`text` as literal Markdown text on one line: escaped, whitespace folded, bounded."""
    return _escape(_one_line(text, limit))


def quoted(text: str, limit: int = 2000, max_lines: int = 40) -> list[str]:
    """`text` as a block quote whose every line is escaped literal text; bounded."""
    clean = strip_controls(text).replace("\r", "\n").strip()
    if len(clean) > limit:
        clean = clean[:limit].rstrip() + " …"
    lines = clean.splitlines()
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], "…"]
    out = []
    for line in lines:
        escaped = _escape(line.strip())
        out.append(f"> {escaped}" if escaped else ">")
    return out or ["> (none)"]


def _one_line(text: str, limit: int) -> str:
    folded = " ".join(strip_controls(text).split())
    return folded if len(folded) <= limit else folded[: limit - 1].rstrip() + "…"


def _escape(line: str) -> str:
    escaped = _LEADING.sub(r"\\\1", _MARKDOWN.sub(r"\\\1", line))
    return _LEADING_NUMBER.sub(r"\1\\\2", escaped)

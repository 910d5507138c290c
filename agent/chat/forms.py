"""A message in one of the request forms (BLUEPRINT §1: JSON, `feature:` / `description:` /
`requirements:` lines): a complete request the chat builds at once, its problems, or a draft
to read clause by clause when the form holds field lines it does not know (`Fields:`)."""

from __future__ import annotations

import re

from agent.chat.understand import read_message
from agent.errors import RequestError
from agent.fields import MAX_FIELDS
from agent.request import FeatureRequest, decode_request

#: What a sentence-by-sentence reading takes: a feature's description and its 40 field lines fit
#: well within these; longer text is a complete request (read first) or not a description at all.
MAX_READ_CHARS = 6_000
MAX_READ_LINES = 2 * MAX_FIELDS + 20
# Linear time: possessive runs, so a long line of spaces cannot make the search backtrack.
_REQUEST_LINE = re.compile(r"^[^\w\n:]*+feature[^\w\n:]*+:", re.I | re.M)


def complete_request(text: str) -> FeatureRequest | str | None:
    """A request in any §1 encoding; a string explaining what is wrong; None if not one."""
    looks_like_request = text.startswith("{") or _REQUEST_LINE.search(text)
    try:
        return decode_request(text)
    except RequestError as e:
        if looks_like_request and e.kind == "invalid":
            return "That request has problems: " + "; ".join(str(p) for p in e.problems)
        return None


def reads_as_draft(complete: FeatureRequest | str, text: str) -> bool:
    """True when a message in a request form is better read as a draft: the form is wrong, or
    it holds no fields, but fields are said in it (`Feature: x`, `Fields:` and field lines)."""
    if isinstance(complete, FeatureRequest) and complete.requirements is not None:
        return False
    if len(text) > MAX_READ_CHARS:
        return False
    return bool(read_message(text).fields)

"""The chat's phrasings corpus (tests/data): a development set the rules were written against,
and a held-out set written first and never used while changing them (see the README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.chat.assistant import Turn, respond
from agent.chat.state import ChatState
from agent.fields import field_line

DATA = Path(__file__).parents[1] / "data"
DEV: list[dict[str, Any]] = json.loads((DATA / "chat_phrasings.json").read_text())
HELD_OUT: list[dict[str, Any]] = json.loads((DATA / "chat_phrasings_heldout.json").read_text())
#: The accuracy the held-out set must keep.
HELD_OUT_FLOOR = 0.90


def understood(turn: Turn) -> dict[str, Any]:
    """What one turn understood, in the corpus's terms."""
    state = turn.state
    request = state.pending
    fields = request.resource.fields if request and request.resource else state.fields
    return {
        "name": request.feature if request else state.feature,
        "description": request.description if request else state.description,
        "fields": [field_line(f) for f in fields],
        "confirm": "say another name" in turn.reply,
    }


def misread(case: dict[str, Any], turn: Turn) -> list[str]:
    """How `turn` differs from what `case` expects: its name, its fields, the fields it must
    ask about (each named in the reply), and where the case says them, description and
    confirmation; empty when it is right."""
    got = understood(turn)
    wrong = [f"{key}: {got[key]!r}" for key in case.keys() & got.keys() if got[key] != case[key]]
    wrong += [
        f"did not ask about `{name}`" for name in case.get("ask", []) if name not in turn.reply
    ]
    return wrong


def accuracy(cases: list[dict[str, Any]]) -> tuple[float, list[str]]:
    """The share of `cases` read right by the rule-based assistant, and the misread ones."""
    misses = []
    for case in cases:
        wrong = misread(case, respond(ChatState(), case["say"]))
        if wrong:
            misses.append(f"{case['say'][:70]!r}: {'; '.join(wrong)}")
    return 1 - len(misses) / len(cases), misses

"""A feature's purpose without the scaffolding: "I need a feature called x to record y" →
"Record y"."""

from __future__ import annotations

import re

from agent.chat.names import FILLER, LEAD, TOKEN, NameGuess, name_tokens
from agent.fields.kinds import near

_TAIL = frozenset(
    {"please", "thanks", "thank", "you", "pls", "feature", "endpoint", "fields", "field"}
    | {"with", "a", "an", "the", "and", "having", "it", "needs", "has"}
)


def describe(prose: str, name: NameGuess | None) -> str | None:
    """The purpose without the scaffolding: "I need a feature called x to record y" → "Record y"."""
    sentence = _purpose_sentence(prose, name)
    if sentence is None:
        return None
    tokens = TOKEN.findall(sentence)
    drop = name_tokens(tokens, name) if name else set()
    kept = [(i, t) for i, t in enumerate(tokens) if i not in drop]
    while kept and (
        kept[0][1].lower() in LEAD or _lead_typo(kept[0][1]) or not kept[0][1][0].isalnum()
    ):
        kept.pop(0)
    while kept and (kept[-1][1].lower() in _TAIL or not kept[-1][1][0].isalnum()):
        kept.pop()
    if not kept or all(t.lower() in FILLER for _, t in kept):
        return None
    text = _join(sentence, [t for _, t in kept])
    return (text[0].upper() + text[1:])[:300]


def _lead_typo(token: str) -> bool:
    return len(token) >= 5 and any(near(token.lower(), w) for w in LEAD if len(w) >= 5)


def _purpose_sentence(prose: str, name: NameGuess | None) -> str | None:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", prose) if s.strip()]
    for sentence in sentences:
        words = [w.lower() for w in TOKEN.findall(sentence) if w[0].isalnum()]
        meaningful = [
            w for w in words if w not in LEAD and w not in FILLER and not (name and w == name.name)
        ]
        if meaningful:
            return sentence
    return None


def _join(sentence: str, tokens: list[str]) -> str:
    """The kept tokens with the spacing they had, where possible."""
    out: list[str] = []
    for token in tokens:
        if out and token in ",.;:!?)":
            out[-1] += token
        else:
            out.append(token)
    return " ".join(out).strip(" ,;:")

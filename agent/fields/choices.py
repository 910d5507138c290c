"""An enum's choices said in words or symbols: `dog|cat|bird`, `one of dog, cat or bird`,
`dog, cat or bird`, `small/medium/large`; and whether such a text marks the field optional.

Each pattern here runs in linear time (possessive runs; the rest is split by words).
"""

from __future__ import annotations

import re

from agent.fields.kinds import TYPE_WORDS

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def optional_mark(rest: str) -> bool:
    words = rest.lower().replace("(", " ").replace(")", " ").replace(",", " ").split()
    return "optional" in words or "?" in words or rest.rstrip().endswith("?")


def _split_or(chunk: str) -> list[str]:
    """`cat or bird` → `cat`, `bird` (by words, so a long run of spaces costs linear time)."""
    pieces: list[list[str]] = [[]]
    for word in chunk.split():
        if word.lower() == "or":
            pieces.append([])
        else:
            pieces[-1].append(word)
    return [" ".join(piece) for piece in pieces]


#: "yes or no" and "true or false" are a yes/no type, not two choices.
YES_OR_NO = re.compile(r"\b(?:yes\s++or\s++no|true\s++or\s++false)\b", re.IGNORECASE)


def _slashed(words: list[str]) -> list[str] | None:
    """`small/medium/large`, `recall / heel / sit` (not `yes/no`): the choices."""
    kept = [w for w in words if w.lower() not in ("optional", "(optional)", "?")]
    joined = "".join(kept)
    if "/" not in joined or joined.lower() in TYPE_WORDS or len(kept) > 9:
        return None
    if len(kept) > 1 and not all(w == "/" or k % 2 == 0 for k, w in enumerate(kept)):
        return None
    parts = [part.strip() for part in joined.split("/")]
    if len(parts) < 2 or not all(p and p.isidentifier() for p in parts):
        return None
    return parts


def enum_choices(rest: str) -> list[str] | None:
    """The choices of an enum: `dog|cat|bird`, `one of dog, cat or bird`, `dog, cat or bird`,
    `small/medium/large`."""
    text = rest.strip().rstrip(".")
    words = text.split()
    if not words:
        return None
    slashed = _slashed(words)
    if slashed:
        return slashed
    if "|" in words[0] or (len(words) > 1 and "|" in text and words[0].lower() != "one"):
        return _piped(words)
    low = [w.lower().strip(",") for w in words]
    if low[:2] == ["one", "of"]:
        text = " ".join(words[2:])
    elif low[0] in TYPE_WORDS or not (" or " in f" {text.lower()} " or "," in text):
        return None
    items = _listed(text)
    if len(items) < 2 or any(_NUMBER.fullmatch(item) or " " in item for item in items):
        return None
    return items


def _piped(words: list[str]) -> list[str] | None:
    """`dog|cat|bird`, `dog | cat | bird?`: the choices, None when one holds a space or a mark."""
    text = " ".join(w for w in words if w.lower() not in ("optional", "(optional)", "?"))
    parts = [part.strip().rstrip("?").strip() for part in text.split("|")]
    if all(parts) and not any(mark in part for part in parts for mark in " ,;:"):
        return parts
    return None


def _listed(text: str) -> list[str]:
    """`dog, cat or bird` → `dog`, `cat`, `bird` (without an "optional" among them)."""
    items = []
    for chunk in text.replace("|", ",").replace("/", ",").split(","):
        for piece in _split_or(chunk):
            piece = piece.strip().strip("`'\"").rstrip("?").strip()
            if piece.lower() in ("optional", "(optional)", ""):
                continue
            if piece.lower().startswith("or "):
                piece = piece[3:].strip()
            items.append(piece)
    return items

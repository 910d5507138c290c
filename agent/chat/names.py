"""A feature's name wherever people put it in a sentence, and a name suggested from a purpose.

Tokenises and walks the tokens; no pattern backtracks, so a long message costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.chat.items import snake_case
from agent.fields.kinds import near
from agent.request import FEATURE_PATTERN


def word_set(text: str, sep: str | None = None) -> frozenset[str]:
    return frozenset(text.split(sep))


#: Words, quoted spans and single marks. A word may hold an apostrophe (I'd, it's).
TOKEN = re.compile(
    r"`[^`\n]{1,80}`|\"[^\"\n]{1,80}\"|“[^”\n]{1,80}”|(?<![\w'])'[^'\n]{1,60}'|[A-Za-z0-9_]+(?:['\u2019][A-Za-z]+)?|\S"
)
QUOTES = "`\"“”'"
SNAKE = re.compile(r"[a-z][a-z0-9_]{1,47}")
#: Words that are never a feature's name.
FILLER = word_set(
    "a an the for me it its this that these those to with and or of my our your some one "
    "new called named name names call feature features field fields endpoint endpoints api "
    "resource resources service thing app please which who what where when how is are be "
    "should will can could would i we you us need want like make build create add so also "
    "just then there here in on by as at from up about into than required optional text "
    "string number integer description requirements operations yes no ok okay hello hi hey "
    "thanks store keep track record log list manage save"
)
_TRIGGERS = ("called", "named", "titled", "dubbed")
_CALL_VERBS = ("call", "name")
_OBJECTS = frozenset({"it", "this", "that", "the", "feature", "one"})

#: Scaffolding that opens a request ("I need a new feature to ...").
LEAD = word_set(
    "i i'd id we we'd need needs want wants like would love please pls can could you make "
    "build create add write give me us a an the new feature features endpoint resource api "
    "service simple small basic that which to for so let's lets should will it is hey hi "
    "hello ok okay there some kind of just also called named plz set up something thing"
)


@dataclass(frozen=True)
class NameGuess:
    """A feature name and how sure the reading is: `confirm` when it was converted or guessed."""

    name: str
    said: str
    confirm: bool


def find_name(text: str) -> NameGuess | None:
    """The feature name wherever people put it; None when no name is clear."""
    tokens = TOKEN.findall(text)
    words = [t.lower() for t in tokens]
    return (
        _named(tokens, words)
        or _quoted(tokens)
        or _beside_feature_word(tokens, words, guess=False)
        or _snake_word(tokens, words)
        or _beside_feature_word(tokens, words, guess=True)
        or _camel_word(tokens)
    )


def find_said_name(text: str) -> NameGuess | None:
    """A name the person gave as one ("called X", "call it X", a quoted name), else None."""
    tokens = TOKEN.findall(text)
    return _named(tokens, [t.lower() for t in tokens]) or _quoted(tokens)


#: Words of a greeting or a thanks: a clause of only these is never a title.
GREETINGS = word_set(
    "hi hello hey dear good morning afternoon evening thanks thank you cheers regards best "
    "great perfect cool ok okay please sorry"
)
_TITLE_TAIL = frozenset({"feature", "endpoint", "resource", "api", "please", "thanks"})


def title_name(clause: str) -> NameGuess | None:
    """A clause that is only a title ("Medication Reminder.", "Pet Taxi Ride", `WalkLog`)."""
    tokens = [t for t in TOKEN.findall(clause) if t[0].isalnum() or t[0] in QUOTES]
    while tokens and tokens[-1].lower() in _TITLE_TAIL:
        tokens.pop()
    if not 1 <= len(tokens) <= 5 or any(t.lower() in GREETINGS for t in tokens):
        return None
    if len(tokens) == 1:
        token = tokens[0]
        camel = token[:1].isupper() and any(c.isupper() for c in token[1:]) and token.isalnum()
        if not camel and not ("_" in token and SNAKE.fullmatch(token)):
            return None
    elif not all(t[:1].isupper() and t.isalnum() for t in tokens):
        return None
    return _converted(" ".join(tokens))


def label_name(text: str) -> NameGuess | None:
    """The name after a label: `Name: x`, `Feature name is x`, `a new feature: Medication Plan`."""
    tokens = [t for t in TOKEN.findall(text) if t not in ".!"]
    if len(tokens) == 1:
        return _candidate(tokens, 0, plain=True)
    if 2 <= len(tokens) <= 4 and all(t.isalnum() for t in tokens):
        return _converted(" ".join(tokens))
    return None


def _named(tokens: list[str], words: list[str]) -> NameGuess | None:
    """1. "called X", "named X" (typos too), "call it X", "name it X", "the name is X"."""
    for exact in (True, False):
        for i, word in enumerate(words):
            if _is_trigger(word, exact):
                found = _candidate(tokens, i + 1, plain=True)
                if found:
                    return found
            if exact and word in _CALL_VERBS and i + 1 < len(words):
                found = _after_call_verb(tokens, words, i)
                if found:
                    return found
    return None


def _after_call_verb(tokens: list[str], words: list[str], i: int) -> NameGuess | None:
    """The name after "call" / "name" at `i`: "call it X", "the name is X"."""
    word = words[i]
    j = i + 1
    while j < len(words) and words[j] in _OBJECTS and j < i + 3:
        j += 1
    if not (j > i + 1 or (word == "name" and words[j] in ("is", ":"))):
        return None
    if j < len(words) and words[j] in ("is", ":", "should", "be", "to"):
        j += 1 + (words[j] == "should")
    return _candidate(tokens, j, plain=True)


def _quoted(tokens: list[str]) -> NameGuess | None:
    """2. A quoted name."""
    for token in tokens:
        if token[0] in QUOTES and 1 <= len(token[1:-1].split()) <= 4:
            found = _candidate([token], 0, plain=True)
            if found:
                return found
    return None


def _beside_feature_word(tokens: list[str], words: list[str], *, guess: bool) -> NameGuess | None:
    """3. "a feature X" and "the X feature"; with `guess`, "a simple feature" too (after 4.)."""
    for i, word in enumerate(words):
        if word not in ("feature", "endpoint", "resource", "api"):
            continue
        j = i + 2 if i + 1 < len(words) and words[i + 1] == ":" else i + 1
        found = (
            _before(tokens, i, guess=True)
            if guess
            else _candidate(tokens, j, plain=_ends_phrase(words, j + 1)) or _before(tokens, i)
        )
        if found:
            return found
    return None


def _snake_word(tokens: list[str], words: list[str]) -> NameGuess | None:
    """4. "for X" when X is snake_case, then any snake_case word, guessed."""
    for i, word in enumerate(words):
        if "_" in word and SNAKE.fullmatch(tokens[i]) and word not in FILLER:
            confirm = not (i > 0 and words[i - 1] == "for")
            return NameGuess(tokens[i], tokens[i], confirm)
    return None


def _camel_word(tokens: list[str]) -> NameGuess | None:
    """5. A CamelCase word ("DogTraining sessions please: ..."), converted and to confirm."""
    for token in tokens:
        capitals = token[:1].isupper() and any(c.isupper() for c in token[1:])
        if token.isalnum() and capitals and any(c.islower() for c in token):
            return _converted(token)
    return None


def _is_trigger(word: str, exact: bool) -> bool:
    if exact:
        return word in _TRIGGERS
    return len(word) >= 4 and any(near(word, t) for t in _TRIGGERS if t != word)


def _ends_phrase(words: list[str], j: int) -> bool:
    return j >= len(words) or words[j] in {
        ".",
        ",",
        "!",
        "?",
        ";",
        ":",
        "to",
        "that",
        "which",
        "for",
        "with",
        "where",
        "so",
        "please",
        "and",
        "-",
        "(",
    }


def _candidate(tokens: list[str], j: int, *, plain: bool) -> NameGuess | None:
    """The name at token `j`: quoted, snake_case, CamelCase or Capitalised Words."""
    if j >= len(tokens):
        return None
    token = tokens[j]
    if token[0] in QUOTES and len(token) > 2:
        said = token[1:-1].strip()
        return _converted(said)
    if SNAKE.fullmatch(token) and token not in FILLER:
        if "_" in token or plain:
            return NameGuess(token, token, False)
        return None
    if "_" in token and SNAKE.fullmatch(token.lower()):
        return _converted(token)  # `Tortoise_Hibernation`
    if token[:1].isupper() and token.isalnum():
        words = [token]
        k = j + 1
        while k < len(tokens) and tokens[k][:1].isupper() and tokens[k].isalnum() and k < j + 4:
            words.append(tokens[k])
            k += 1
        return _converted(" ".join(words))
    return None


def _before(tokens: list[str], i: int, *, guess: bool = False) -> NameGuess | None:
    """The name before "feature": `the weight_log feature`, `the Weight Log feature`; with
    `guess`, a plain word after an article: `a simple feature`."""
    if i == 0:
        return None
    token = tokens[i - 1]
    if token[0] in QUOTES or ("_" in token and SNAKE.fullmatch(token.lower())):
        return _candidate(tokens, i - 1, plain=True)
    capitals: list[str] = []
    k = i - 1
    while k >= 0 and tokens[k][:1].isupper() and tokens[k].isalnum() and len(capitals) < 4:
        capitals.insert(0, tokens[k])
        k -= 1
    while capitals and capitals[0].lower() in FILLER:
        capitals.pop(0)
    if capitals:
        return _converted(" ".join(capitals))
    articles = ("the", "a", "an", "new", "my", "our")
    if (
        guess
        and SNAKE.fullmatch(token)
        and token not in FILLER
        and i >= 2
        and tokens[i - 2].lower() in articles
    ):
        return NameGuess(token, token, True)
    return None


def _converted(said: str) -> NameGuess | None:
    name = snake_case(said)
    if name is None or name in FILLER or not re.fullmatch(FEATURE_PATTERN, name):
        return None
    return NameGuess(name, said, name != said)


def suggest_name(description: str | None) -> str | None:
    """A name derived from a description ("Record pet weights" → `pet_weights`)."""
    if not description:
        return None
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", description)]
    content = [w for w in words if w not in FILLER and w not in LEAD and len(w) > 2]
    if not content:
        return None
    lowered = [w for w in words if w not in FILLER or w == "of"]
    if "of" in lowered[1:-1]:
        at = lowered.index("of")
        owner = lowered[at + 1]
        owner = owner[:-1] if owner.endswith("s") and not owner.endswith("ss") else owner
        content = [owner, lowered[at - 1]]
    name = "_".join(content[-2:]) if len(content) > 1 else content[0]
    return name[:48] if re.fullmatch(FEATURE_PATTERN, name[:48]) else None


def name_tokens(tokens: list[str], name: NameGuess) -> set[int]:
    """The first mention of the name, with its "called", "call it" or "feature" around it."""
    said = [w.lower() for w in name.said.split()] or [name.name]
    low = [t.lower().strip(QUOTES) for t in tokens]
    for i in range(len(tokens)):
        quoted = tokens[i][0] in QUOTES and snake_case(tokens[i][1:-1]) == name.name
        if quoted or low[i] == name.name:
            span = [i]
        elif low[i : i + len(said)] == said:
            span = list(range(i, i + len(said)))
        else:
            continue
        drop = set(span)
        k = i - 1
        while (
            k >= 0
            and i - k <= 3
            and (
                low[k] in _TRIGGERS + _CALL_VERBS
                or low[k] in _OBJECTS
                or low[k] in ("is", ":")
                or _is_trigger(low[k], False)
            )
        ):
            drop.add(k)
            k -= 1
        end = span[-1] + 1
        if end < len(tokens) and low[end] in ("feature", "endpoint", "resource"):
            drop.add(end)
        return drop
    return set()

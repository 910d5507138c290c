"""Reading how people write: a feature's name, its purpose and its fields in ordinary sentences.

Everything here tokenises and walks the tokens; no pattern backtracks (each regular expression
is a plain alternation of character classes), so a long message costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agent.fields import MAX_FIELDS, TYPE_WORDS, FieldSpec, looks_like_field_lines, read_field
from agent.request import FEATURE_PATTERN


def word_set(text: str, sep: str | None = None) -> frozenset[str]:
    return frozenset(text.split(sep))


#: Words, quoted spans and single marks. A word may hold an apostrophe (I'd, it's).
_TOKEN = re.compile(
    r"`[^`\n]{1,80}`|\"[^\"\n]{1,80}\"|“[^”\n]{1,80}”|(?<![\w'])'[^'\n]{1,60}'|[A-Za-z0-9_]+(?:['\u2019][A-Za-z]+)?|\S"
)
_QUOTES = "`\"“”'"
_SNAKE = re.compile(r"[a-z][a-z0-9_]{1,47}")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
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
_LEAD = word_set(
    "i i'd id we we'd need needs want wants like would love please pls can could you make "
    "build create add write give me us a an the new feature features endpoint resource api "
    "service simple small basic that which to for so let's lets should will it is hey hi "
    "hello ok okay there some kind of just also called named plz set up something thing"
)
_TAIL = frozenset(
    {"please", "thanks", "thank", "you", "pls", "feature", "endpoint", "fields", "field"}
    | {"with", "a", "an", "the", "and", "having", "it", "needs", "has"}
)
_FIELD_INTRO = re.compile(r"\b(?:with|having|containing|fields?)\b|:", re.IGNORECASE)
#: How many places a list of fields may start at are tried (each costs a pass over the rest).
MAX_INTROS = 6
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_ITEM_LEAD = frozenset({"and", "a", "an", "the", "plus", "also", "its", "their", "some"})
_NAME_STOP = frozenset(TYPE_WORDS) | {
    "between",
    "from",
    "up",
    "max",
    "maximum",
    "min",
    "minimum",
    "at",
    "one",
    "optional",
    "required",
    "as",
    "is",
    "which",
    "that",
    "must",
    "should",
    "of",
    "no",
    "not",
    "under",
    "over",
    "to",
}


@dataclass(frozen=True)
class NameGuess:
    """A feature name and how sure the reading is: `confirm` when it was converted or guessed."""

    name: str
    said: str
    confirm: bool


@dataclass
class Reading:
    """What one message says about a feature."""

    name: NameGuess | None = None
    description: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)
    operations: list[str] | None = None
    #: Parts not understood, each quoted with the reason.
    unread: list[str] = field(default_factory=list)
    #: A purpose said after the fields ("..., to book sitters").
    purpose: str | None = None


def read_message(text: str) -> Reading:
    """Name, description and fields of a message, and what could not be read in it."""
    reading = Reading()
    prose_lines: list[str] = []
    list_lines: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        bare = _BULLET.sub("", line, count=1)
        if (
            looks_like_field_lines(line)
            or (list_lines and _is_item_line(line))
            or _BULLET.match(line)
            or _is_colon_field(bare, first=not prose_lines)
        ):
            list_lines.append(bare)
        else:
            prose_lines.append(line.strip())
    prose = " ".join(prose_lines)
    cut = _fields_in_prose(prose)
    if cut is not None:
        prose, items = cut
        _read_items(items, reading)
    for line in list_lines:
        if line.strip().lower().startswith("operations"):
            words = re.split(r"[,\s:]+", line.strip())[1:]
            reading.operations = [w.lower() for w in words if w]
            continue
        head = line.partition(":")[0]
        single = ":" in line and 1 <= len(head.split()) <= 4 and "(" not in head
        _read_items([line] if single else split_items(line), reading)
    first_line = prose_lines[0] if prose_lines else ""
    reading.name = _colon_name(first_line) or find_name(prose)
    if reading.name is None and list_lines:
        reading.name = find_name(" ".join(list_lines)) if not reading.fields else None
    reading.description = describe(prose, reading.name)
    if reading.description is None and reading.purpose:
        reading.description = describe(reading.purpose, None)
    return reading


def _is_item_line(line: str) -> bool:
    return bool(_BULLET.match(line)) or ":" in line


def _is_colon_field(line: str, *, first: bool) -> bool:
    """`species: dog, cat or bird` and the like; a first line `name: prose` is a name line."""
    head, colon, rest = line.partition(":")
    if not colon or not _SNAKE.fullmatch(head.strip()) or head.strip() in FILLER - {"name"}:
        return False
    try:
        read_field(head.strip(), rest.strip())
    except ValueError:
        return not first and bool(rest.strip())
    return True


def _colon_name(line: str) -> NameGuess | None:
    head, colon, rest = line.partition(":")
    head = head.strip().strip("`")
    if colon and rest.strip() and _SNAKE.fullmatch(head) and head not in FILLER:
        return NameGuess(head, head, False)
    return None


# --- names ---------------------------------------------------------------------------------------


def find_name(text: str) -> NameGuess | None:
    """The feature name wherever people put it; None when no name is clear."""
    tokens = _TOKEN.findall(text)
    words = [t.lower() for t in tokens]
    # 1. "called X", "named X" (typos too), "call it X", "name it X", "the name is X".
    for exact in (True, False):
        for i, word in enumerate(words):
            if _is_trigger(word, exact):
                found = _candidate(tokens, i + 1, plain=True)
                if found:
                    return found
            if exact and word in _CALL_VERBS and i + 1 < len(words):
                j = i + 1
                while j < len(words) and words[j] in _OBJECTS and j < i + 3:
                    j += 1
                if j > i + 1 or (word == "name" and words[j] in ("is", ":")):
                    if j < len(words) and words[j] in ("is", ":", "should", "be", "to"):
                        j += 1 + (words[j] == "should")
                    found = _candidate(tokens, j, plain=True)
                    if found:
                        return found
    # 2. A quoted name.
    for token in tokens:
        if token[0] in _QUOTES and 1 <= len(token[1:-1].split()) <= 4:
            found = _candidate([token], 0, plain=True)
            if found:
                return found
    # 3. "a feature X" and "the X feature".
    for i, word in enumerate(words):
        if word not in ("feature", "endpoint", "resource", "api"):
            continue
        j = i + 2 if i + 1 < len(words) and words[i + 1] == ":" else i + 1
        after = _candidate(tokens, j, plain=_ends_phrase(words, j + 1))
        if after:
            return after
        before = _before(tokens, i)
        if before:
            return before
    # 4. "for X" when X is snake_case, then any snake_case word, guessed.
    for i, word in enumerate(words):
        if "_" in word and _SNAKE.fullmatch(tokens[i]) and word not in FILLER:
            confirm = not (i > 0 and words[i - 1] == "for")
            return NameGuess(tokens[i], tokens[i], confirm)
    return None


def _is_trigger(word: str, exact: bool) -> bool:
    if exact:
        return word in _TRIGGERS
    return len(word) >= 4 and any(near(word, t) for t in _TRIGGERS if t != word)


def near(word: str, target: str) -> bool:
    """Within one edit (insert, delete, change or swap of two letters)."""
    if abs(len(word) - len(target)) > 1 or word == target:
        return False
    if len(word) == len(target):
        diff = [k for k in range(len(word)) if word[k] != target[k]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and word[diff[0]] == target[diff[1]]
            and word[diff[1]] == target[diff[0]]
        )
    short, long = sorted((word, target), key=len)
    k = 0
    while k < len(short) and short[k] == long[k]:
        k += 1
    return short[k:] == long[k + 1 :]


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
    if token[0] in _QUOTES and len(token) > 2:
        said = token[1:-1].strip()
        return _converted(said)
    if _SNAKE.fullmatch(token) and token not in FILLER:
        if "_" in token or plain:
            return NameGuess(token, token, False)
        return None
    if token[:1].isupper() and token.isalnum():
        words = [token]
        k = j + 1
        while k < len(tokens) and tokens[k][:1].isupper() and tokens[k].isalnum() and k < j + 4:
            words.append(tokens[k])
            k += 1
        return _converted(" ".join(words))
    return None


def _before(tokens: list[str], i: int) -> NameGuess | None:
    """The name before "feature": `the weight_log feature`, `the Weight Log feature`."""
    if i == 0:
        return None
    token = tokens[i - 1]
    if token[0] in _QUOTES or ("_" in token and _SNAKE.fullmatch(token)):
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
        _SNAKE.fullmatch(token)
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


def snake_case(said: str) -> str | None:
    """`Weight Log`, `WeightLog`, `weight-log` → `weight_log`; None when nothing is left."""
    parts: list[str] = []
    for word in re.split(r"[\s\-./]+", said.strip()):
        if "_" in word:
            parts.append(word.lower())
        else:
            parts.extend(piece.lower() for piece in _CAMEL.findall(word))
    name = "_".join(part for part in parts if part)
    name = re.sub(r"[^a-z0-9_]", "", name)
    return name or None


def suggest_name(description: str | None) -> str | None:
    """A name derived from a description ("Record pet weights" → `pet_weights`)."""
    if not description:
        return None
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", description)]
    content = [w for w in words if w not in FILLER and w not in _LEAD and len(w) > 2]
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


# --- descriptions --------------------------------------------------------------------------------


def describe(prose: str, name: NameGuess | None) -> str | None:
    """The purpose without the scaffolding: "I need a feature called x to record y" → "Record y"."""
    sentence = _purpose_sentence(prose, name)
    if sentence is None:
        return None
    tokens = _TOKEN.findall(sentence)
    drop = _name_tokens(tokens, name) if name else set()
    kept = [(i, t) for i, t in enumerate(tokens) if i not in drop]
    while kept and (
        kept[0][1].lower() in _LEAD or _lead_typo(kept[0][1]) or not kept[0][1][0].isalnum()
    ):
        kept.pop(0)
    while kept and (kept[-1][1].lower() in _TAIL or not kept[-1][1][0].isalnum()):
        kept.pop()
    if not kept or all(t.lower() in FILLER for _, t in kept):
        return None
    text = _join(sentence, [t for _, t in kept])
    return (text[0].upper() + text[1:])[:300]


def _name_tokens(tokens: list[str], name: NameGuess) -> set[int]:
    """The first mention of the name, with its "called", "call it" or "feature" around it."""
    said = [w.lower() for w in name.said.split()] or [name.name]
    low = [t.lower().strip(_QUOTES) for t in tokens]
    for i in range(len(tokens)):
        quoted = tokens[i][0] in _QUOTES and snake_case(tokens[i][1:-1]) == name.name
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


def _lead_typo(token: str) -> bool:
    return len(token) >= 5 and any(near(token.lower(), w) for w in _LEAD if len(w) >= 5)


def _purpose_sentence(prose: str, name: NameGuess | None) -> str | None:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", prose) if s.strip()]
    for sentence in sentences:
        words = [w.lower() for w in _TOKEN.findall(sentence) if w[0].isalnum()]
        meaningful = [
            w for w in words if w not in _LEAD and w not in FILLER and not (name and w == name.name)
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


# --- fields --------------------------------------------------------------------------------------


def _fields_in_prose(prose: str) -> tuple[str, list[str]] | None:
    """Split "... with a name (text), an age between 0 and 40" into the prose and its items.

    The list starts after "with", "having", "containing", "fields" or a colon: the first such
    place whose first item reads as a field, else the first whose first item is shaped like one
    (`a weight (kg, number)`: what it could not read is quoted back), else after "fields".
    """
    shaped: tuple[str, list[str]] | None = None
    for tried, match in enumerate(_FIELD_INTRO.finditer(prose)):
        if tried == MAX_INTROS:
            break
        rest = prose[match.end() :]
        keyword = match[0].lower()
        stripped = rest.lstrip(" :")
        for opener in ("fields", "field", "the following", "following", "are", ":"):
            if stripped.lower().startswith(opener):
                stripped = stripped[len(opener) :].lstrip(" :")
        items = split_items(stripped.rstrip(". "))
        if not items:
            continue
        found = (prose[: match.start()].rstrip(" ,;:-"), items)
        if _item_reads(items[0]):
            return found
        head = items[0].partition("(")[0].split()
        if shaped is None and (keyword.startswith("field") or ("(" in items[0] and len(head) < 5)):
            shaped = found
    return shaped


def _item_reads(item: str) -> bool:
    try:
        read_item(item)
    except ValueError:
        return False
    return True


def split_items(text: str) -> list[str]:
    """Items of a list: commas, semicolons and "and" at the top level, not inside ( )."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    last: list[str] = ["", ""]  # the two words before this token
    for token in re.findall(r"[(),;]|[^(),;\s]+|\s+", text):
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        low = token.lower()
        between = last[1] == "between" or last[0] in ("between", "from")
        if depth == 0 and (low in (",", ";") or (low == "and" and not between)):
            parts.append("".join(current))
            current, last = [], ["", ""]
            continue
        current.append(token)
        if not token.isspace():
            last = [last[1], low]
    parts.append("".join(current))
    return _join_choices([p.strip() for p in parts if p.strip()])


def _join_choices(parts: list[str]) -> list[str]:
    """`species: dog`, `cat or bird` → `species: dog, cat or bird`."""
    joined: list[list[str]] = []
    open_list = False
    for part in parts:
        words = part.split()
        if open_list and _only_choices(words):
            joined[-1].append(part)
            open_list = "or" not in [w.lower() for w in words]
            continue
        joined.append([part])
        _, colon, rest = part.partition(":")
        one_of = "one of" in part.lower()
        open_list = bool((colon and len(rest.split()) == 1) or (one_of and " or " not in part))
    return [", ".join(group) for group in joined]


def _only_choices(words: list[str]) -> bool:
    return 1 <= len(words) <= 5 and all(
        w.lower() == "or" or (w.lower() not in _NAME_STOP and not w[0].isdigit()) for w in words
    )


def read_item(item: str) -> dict[str, Any]:
    """One field said in words: `a name (text, up to 40 chars)`, `an age between 0 and 40`."""
    text = _BULLET.sub("", item.strip(), count=1).strip().rstrip(".")
    required: bool | None = None
    words = text.split()
    while words and words[0].lower() in _ITEM_LEAD | {"optional", "required", "mandatory"}:
        low = words.pop(0).lower()
        if low == "optional":
            required = False
        elif low in ("required", "mandatory"):
            required = True
    text = " ".join(words)
    if ":" in text:
        head, _, rest = text.partition(":")
    elif "(" in text:
        head, _, rest = text.partition("(")
        rest = rest.replace(")", " ")
    else:
        name_words = []
        for word in words:
            if word.lower().rstrip("?,") in _NAME_STOP or not word[0].isalpha():
                break
            name_words.append(word)
        head, rest = " ".join(name_words), " ".join(words[len(name_words) :])
    head = head.strip().strip("`'\"")
    optional_mark = head.endswith("?")
    name = snake_case(head.rstrip("?")) if head else None
    if not name or len(head.split()) > 4:
        raise ValueError(f"no field name in {item.strip()!r}")
    spec = read_field(name, rest.replace("(", " ").replace(")", " ").strip())
    if optional_mark:
        spec["required"] = False
    if required is not None:
        spec["required"] = required
    return spec


def _read_items(items: list[str], reading: Reading) -> None:
    for item in items:
        if item.lower().startswith(("to ", "so ", "for ")) and "(" not in item and ":" not in item:
            reading.purpose = reading.purpose or item
            continue
        try:
            spec = FieldSpec.model_validate(read_item(item))
        except ValueError as e:
            reading.unread.append(f"“{item.strip()}” ({_reason(e)})")
            continue
        if spec.name in {f.name for f in reading.fields[-MAX_FIELDS:]}:
            reading.unread.append(f"“{item.strip()}” (`{spec.name}` is given twice)")
            continue
        reading.fields.append(spec)
        if len(reading.fields) > MAX_FIELDS:
            reading.unread.append(f"more than {MAX_FIELDS} fields: the rest was not read")
            return


def _reason(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(error)

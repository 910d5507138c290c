"""Questions about single fields: a field named without a type is asked about alone ("what
type should `colour` be?"), its answer is read, and types taken from names are said back.

The assistant (agent/chat/assistant.py) calls these on its draft; nothing here builds.
"""

from __future__ import annotations

from agent.chat.names import word_set
from agent.chat.state import ChatState
from agent.chat.understand import Reading
from agent.fields import FieldSpec
from agent.fields.words import read_field


def answer_to_type(state: ChatState, text: str) -> ChatState | None:
    """The draft with the field it asked about, when `text` answers "what type should `colour`
    be?" (`text`, `a number up to 10`, `yes/no`); None when it does not."""
    if len(state.untyped) != 1:
        return None
    asked = state.untyped[0]
    words = text.strip().rstrip(".!").split()
    while words and words[0].lower() in _ANSWER_LEADS:
        words.pop(0)
    try:
        spec = FieldSpec.model_validate(read_field(asked.name, " ".join(words), typos=True))
    except ValueError:
        return None
    if not asked.required and "required" not in text.lower():
        spec = spec.model_copy(update={"required": False})
    draft = state.model_copy(deep=True)
    draft.untyped = []
    draft.fields = [f for f in draft.fields if f.name != spec.name] + [spec]
    return draft


_ANSWER_LEADS = word_set("it's its it is a an as should be make use type of the")


def take_untyped(draft: ChatState, reading: Reading) -> None:
    """Fields still without a type, and the fields whose type was taken from the name."""
    typed = {f.name for f in draft.fields}
    asked = {u.name: u for u in [*draft.untyped, *reading.untyped] if u.name not in typed}
    draft.untyped = list(asked.values())
    draft.guessed = [
        name for name in dict.fromkeys([*draft.guessed, *reading.guessed]) if name in typed
    ]
    for name in reading.typed_by_words:
        if name in draft.guessed:
            draft.guessed.remove(name)


_TYPES_SAID = (
    "text, number, whole number, yes/no, date, date and time, or choices such as small|medium|large"
)


def not_read(draft: ChatState, unread: list[str]) -> str:
    """What was read and what was not: "I read 2 fields; I could not read “a colour”: what type
    should `colour` be? ..."; empty when everything was read."""
    if not unread and not draft.untyped:
        return ""
    count = len(draft.fields)
    said = f"\nI read {count} field{'' if count == 1 else 's'}; "
    parts: list[str] = []
    if unread:
        parts.append(f"I could not read: {'; '.join(unread)}.")
    if draft.untyped:
        quoted = " and ".join(f"“{u.said}”" for u in draft.untyped)
        names = " and ".join(f"`{u.name}`" for u in draft.untyped)
        one = len(draft.untyped) == 1
        question = (
            f"I could not tell the type of {quoted}: what type should {names} be"
            f"{'' if one else ' (say e.g. “' + draft.untyped[0].name + ': text”)'}? "
            f"({_TYPES_SAID})"
        )
        if draft.feature and (draft.fields or draft.status_only):
            question += ' Or say "build it" to build without it.'
        parts.append(question)
    return said + " ".join(parts)


def guessed_note(names: list[str]) -> str:
    """ "(I took the type of `note` from the name: ...)", or nothing."""
    if not names:
        return ""
    listed = ", ".join(f"`{name}`" for name in names)
    return (
        f"\n(I took the type of {listed} from the name: say e.g. “{names[0]}: int” to change it.)"
    )

"""Inputs built to make a decoder backtrack, overflow or recurse; each must be a quick 4xx."""

from __future__ import annotations

import json

SPACES = " " * 20_000
_HEAD = "Feature: pet\nDescription: d\nRequirements:\n"


def _field_json(**rule: object) -> str:
    field = {"name": "a", "type": "float", **rule}
    return json.dumps({"feature": "pet", "description": "d", "requirements": {"fields": [field]}})


#: name -> (request body, the field its error must name)
BODIES: dict[str, tuple[str, str]] = {
    "one line, spaces, then !": ("x\n" + SPACES + "!", "body"),
    "spaces around a label": ("- " + SPACES + "** " + SPACES + "Feature" + SPACES + "!", "body"),
    "spaces in a field line": (_HEAD + "  age: int" + " " * 7_000 + "!", "requirements"),
    "spaces around a type": (
        _HEAD + "  age:" + " " * 3_000 + "int" + " " * 3_000 + "` x",
        "requirements",
    ),
    "len>= then 400 nines": (_HEAD + "  name: str len>=" + "9" * 400, "requirements"),
    ">= then 400 nines": (_HEAD + "  age: int >=" + "9" * 400, "requirements"),
    "a bound of 10**400": (
        _field_json(ge=10**400).replace('"float"', '"int"'),
        "requirements.fields[0].ge",
    ),
    "an integer of 5000 digits": (_field_json(ge=0).replace(": 0", ": " + "9" * 5000), "body"),
    "NaN bound": (_field_json(ge=0).replace(": 0", ": NaN"), "body"),
    "Infinity bound": (_field_json(le=0).replace(": 0", ": Infinity"), "body"),
    "1e999 bound": (_field_json(le=0).replace(": 0", ": 1e999"), "requirements.fields[0].le"),
    "arrays nested 100000 deep": ('{"feature": ' + "[" * 100_000 + "]" * 100_000 + "}", "body"),
    "objects nested 5000 deep": (
        '{"requirements": ' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "}",
        "body",
    ),
    "newlines": ("\n" * 20_000 + "x", "body"),
    "base64 then spaces": ("QUJD" * 5_000 + SPACES + "!", "body"),
    "5000 field lines": (_HEAD + "\n".join(f"  f{i}: int" for i in range(5_000)), "requirements"),
}

#: Chat messages (under the chat's length limit) built the same way.
MESSAGES: dict[str, str] = {
    "add field, spaces": "add field" + SPACES[:19_000] + "!",
    "add field, spaced type": "add field x:" + " " * 9_000 + "int" + " " * 9_000 + "!",
    "remove field, spaces": "remove field x" + SPACES[:19_000] + "!",
    "rename, spaces": "rename it to x" + SPACES[:19_000] + "!",
    "newlines": "\n" * 19_000 + "x",
    "non-word runs": "- " * 9_000 + "x",
    "a field line, spaces": "pet: int" + SPACES[:19_000] + "!",
    "1500 field lines": "\n".join(f"f{i}: int" for i in range(1_500)),
}

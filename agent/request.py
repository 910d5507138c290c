"""The feature request (BLUEPRINT §1) and its three encodings, decoded to one model."""

from __future__ import annotations

import base64
import binascii
import json
import keyword
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import Problem, RequestError
from agent.fields import ResourceSpec
from agent.fields.words import looks_like_field_lines, parse_field_lines

RESERVED_NAMES = frozenset({"main", "api", "features", "tests", "conftest", "src"})
FEATURE_PATTERN = r"^[a-z][a-z0-9_]{1,47}$"
FEATURE_RULE = (
    "must be lowercase letters, digits and `_`, starting with a letter, 2 to 48 characters "
    "(e.g. `pet_profile`)"
)
_BRANCH = re.compile(
    r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/-]{1,100}(?<!\.lock)(?<![/.])$"
)
_NONE_WORDS = frozenset({"", "none", "n/a", "na", "-", "null", "nothing"})
DEFAULT_MAX_BYTES = 256 * 1024


class FeatureRequest(BaseModel):
    """What a user asks for. Every intake decodes to this one model."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "feature": "smoke_test",
                    "description": "Ensure builder functional",
                    "requirements": "none",
                },
                {
                    "feature": "pet_profile",
                    "description": "Store the pets of a household",
                    "requirements": "name: str len>=1 len<=40\nage: int >=0 <=40\n"
                    "species: dog|cat|bird",
                },
            ]
        },
    )

    feature: str = Field(
        description="snake_case feature name", json_schema_extra={"pattern": FEATURE_PATTERN}
    )
    description: str = Field(min_length=1, max_length=4000)
    requirements: ResourceSpec | str | None = Field(
        default=None,
        description='"none"/empty, free text, a list of strings, or {"fields": [...], '
        '"operations": [...]}; field lines such as `age: int >=0 <=40` become a resource spec',
    )
    base_branch: str = "main"
    open_pr: bool = False

    @field_validator("feature")
    @classmethod
    def _check_feature(cls, feature: str) -> str:
        if not re.fullmatch(FEATURE_PATTERN, feature):
            raise ValueError(FEATURE_RULE)
        if keyword.iskeyword(feature) or keyword.issoftkeyword(feature):
            raise ValueError(f"{feature!r} is a Python keyword")
        if feature in RESERVED_NAMES:
            raise ValueError(f"{feature!r} is reserved ({', '.join(sorted(RESERVED_NAMES))})")
        return feature

    @field_validator("description", mode="before")
    @classmethod
    def _strip_description(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("requirements", mode="before")
    @classmethod
    def _normalise_requirements(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ValueError("a list of requirements must hold only strings")
            value = "\n".join(item.strip() for item in value)
        if isinstance(value, str):
            text = value.strip()
            if text.strip("\"'`").strip().lower() in _NONE_WORDS:
                return None
            if len(text) > 8000:
                raise ValueError("free-text requirements are limited to 8000 characters")
            if looks_like_field_lines(text):
                return parse_field_lines(text)
            return text
        if not isinstance(value, dict | ResourceSpec):
            raise ValueError("must be 'none', text, a list of strings, or an object with `fields`")
        return value

    @field_validator("base_branch")
    @classmethod
    def _check_branch(cls, branch: str) -> str:
        if not _BRANCH.fullmatch(branch):
            raise ValueError(f"{branch!r} is not a valid git branch name")
        return branch

    @property
    def branch(self) -> str:
        return f"feature/{self.feature}"

    @property
    def title(self) -> str:
        return self.description.splitlines()[0].strip()

    @property
    def resource(self) -> ResourceSpec | None:
        return self.requirements if isinstance(self.requirements, ResourceSpec) else None

    @property
    def requirements_text(self) -> str:
        if self.requirements is None:
            return "none"
        if isinstance(self.requirements, ResourceSpec):
            return self.requirements.to_lines()
        return self.requirements

    def to_text(self) -> str:
        """The seed's text form of this request; `decode_request` reads it back."""
        requirements = self.requirements_text
        lines = [
            "**Feature Request:**",
            f"- **Feature:** `{self.feature}`",
            f'- **Description:** "{self.description}"',
        ]
        if "\n" in requirements:
            lines.append("- **Requirements:**")
            lines.extend(f"  - {line}" for line in requirements.splitlines())
        else:
            lines.append(f'- **Requirements:** "{requirements}"')
        if self.base_branch != "main":
            lines.append(f"- **Base branch:** `{self.base_branch}`")
        if self.open_pr:
            lines.append("- **Open PR:** yes")
        return "\n".join(lines)


def decode_request(
    raw: bytes | str | dict[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> FeatureRequest:
    """Decode a request given as a JSON object, base64 of one, or the seed's text form.

    Raises `RequestError` whose problems name the field and the reason; `kind` tells an
    undecodable body from one with bad fields and from one that is too large.
    """
    if isinstance(raw, dict):
        return _from_object(raw)
    text = _text_of(raw, max_bytes)
    if not text:
        raise RequestError([Problem("body", "empty request")], kind="undecodable")
    if text.startswith("{"):
        return _from_object(_load_json(text, "body"))
    decoded = _maybe_base64(text)
    if decoded is not None:
        if decoded.lstrip().startswith("{"):
            return _from_object(_load_json(decoded, "payload"))
        fields = _parse_text_form(decoded)
        if fields:
            return _from_object(fields)
    fields = _parse_text_form(text)
    if not fields:
        raise RequestError(
            [
                Problem(
                    "body",
                    "not a JSON object, not base64 of one, and no `Feature:` line of the text form",
                )
            ],
            kind="undecodable",
        )
    return _from_object(fields)


def _text_of(raw: bytes | str, max_bytes: int) -> str:
    """The body as text, within `max_bytes`, its byte-order mark and outer blanks removed."""
    if isinstance(raw, bytes):
        if len(raw) > max_bytes:
            raise _too_large(len(raw), max_bytes)
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RequestError(
                [Problem("body", f"not UTF-8 text (byte {e.start})")], kind="undecodable"
            ) from e
    size = len(raw.encode("utf-8"))
    if size > max_bytes:
        raise _too_large(size, max_bytes)
    return raw.lstrip("\ufeff").strip()


def problems_from_validation(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Pydantic's errors as problems named by dotted field path (`requirements.fields[0].type`)."""
    problems = []
    for item in error.errors(include_url=False):
        path = prefix
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part not in _UNION_TAGS and "[" not in part:
                path += f".{part}" if path else str(part)
        message = item["msg"].removeprefix("Value error, ")
        problems.append(Problem(path or None, message))
    return problems


_UNION_TAGS = frozenset({"ResourceSpec", "str", "none"})


# --- helpers -------------------------------------------------------------------------------------


def _from_object(data: Any) -> FeatureRequest:
    if not isinstance(data, dict):
        raise RequestError(
            [Problem("body", f"expected a JSON object, got {type(data).__name__}")], kind="invalid"
        )
    if "payload" in data:
        extra = sorted(set(data) - {"payload"})
        if extra:
            raise RequestError([Problem(extra[0], "not allowed beside `payload`")])
        payload = data["payload"]
        if not isinstance(payload, str):
            raise RequestError([Problem("payload", "must be a base64 string")])
        decoded = _maybe_base64(payload.strip())
        if decoded is None:
            raise RequestError(
                [Problem("payload", "not valid base64 of UTF-8 text")], kind="undecodable"
            )
        return _from_object(_load_json(decoded, "payload"))
    try:
        return FeatureRequest.model_validate(data)
    except ValidationError as e:
        problems = problems_from_validation(e)
        requirements = data.get("requirements")
        if isinstance(requirements, dict):
            # The union would report every branch; the object form has one meaning, so say its.
            problems = [p for p in problems if not (p.where or "").startswith("requirements")]
            try:
                ResourceSpec.model_validate(requirements)
            except ValidationError as inner:
                problems += problems_from_validation(inner, "requirements")
        raise RequestError(problems) from e


def _load_json(text: str, where: str) -> Any:
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise RequestError(
            [Problem(where, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")],
            kind="undecodable",
        ) from e
    except RecursionError as e:
        raise _too_deep(where) from e
    except ValueError as e:  # NaN/Infinity, or an integer of over 4300 digits
        raise RequestError([Problem(where, f"invalid JSON: {e}")], kind="undecodable") from e
    if _depth(data) > MAX_JSON_DEPTH:
        raise _too_deep(where)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(data: Any) -> int:
    """How deep `data` nests, walked without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                values = item.values() if isinstance(item, dict) else item
                stack.extend((value, level + 1) for value in values)
    return deepest


def _too_deep(where: str) -> RequestError:
    return RequestError(
        [Problem(where, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")], kind="undecodable"
    )


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")


def _maybe_base64(text: str) -> str | None:
    """Standard or URL-safe base64, padding optional; None when `text` is not that."""
    compact = "".join(text.split())
    body = compact.rstrip("=")
    if len(text) < 8 or not body or len(compact) - len(body) > 2:
        return None
    if not _B64_CHARS.issuperset(body):
        return None
    compact = body
    if len(compact) % 4 == 1:
        return None
    padded = compact + "=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        return data.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


# Linear time: every whitespace run is possessive, so a line of spaces cannot make it backtrack.
_LABEL = re.compile(
    r"\s*+(?:[-*+]\s++)?(?:\*\*|__)?\s*+(?P<label>feature|description|requirements|base[ _]branch"
    r"|open[ _]pr)\s*+(?::\s*+(?:\*\*|__)|(?:\*\*|__)\s*+:|:)\s*+(?P<value>.*)",
    re.IGNORECASE,
)
#: How deep JSON may nest (a request is two levels; its field objects, four).
MAX_JSON_DEPTH = 32
_KEYS = {"feature": "feature", "description": "description", "requirements": "requirements"}


def _parse_text_form(text: str) -> dict[str, Any]:
    """Read `**Feature:** `x`` / `Feature: x` lines; a value may continue on the next lines."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match is not None:
            label = match["label"].lower().replace(" ", "_")
            current = _KEYS.get(label, label)
            if current in found:
                current = None
                continue
            value = match["value"].strip()
            found[current] = [value] if value else []
            continue
        if current is None:
            continue
        if not line.strip():
            if found[current]:
                current = None
            continue
        found[current].append(line.strip())
    if "feature" not in found:
        return {}
    return {key: _text_value(key, parts) for key, parts in found.items()}


def _text_value(key: str, parts: list[str]) -> Any:
    """One value of the text form from its lines: requirements keep their lines."""
    if key == "requirements":
        return "\n".join(_unquote(part) for part in parts)
    if key == "open_pr":
        return _unquote(" ".join(parts)).lower() in ("yes", "true", "1", "y", "on")
    return _unquote(" ".join(parts))


def _unquote(value: str) -> str:
    value = value.strip()
    for mark in ("`", '"', "'", "“"):
        closing = "”" if mark == "“" else mark
        if len(value) >= 2 and value.startswith(mark) and value.endswith(closing):
            return value[1:-1].strip()
    return value


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(
        [Problem("body", f"{size} bytes is over the limit of {limit} bytes")], kind="too_large"
    )

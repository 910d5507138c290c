"""The file bundle a model returns (BLUEPRINT §3), parsed from Markdown or JSON into one model."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import BundleError, Problem

#: Files a model may suggest for the integration, which the builder does itself (BLUEPRINT §2).
INTEGRATION_PATHS = frozenset({"src/main.py", "src/api.py"})


class BundleFile(BaseModel):
    """One file of a bundle: a repository-relative POSIX path and its whole content."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=300)
    content: str


class FileBundle(BaseModel):
    """What a model returns for one request: the feature's files, a summary and notes."""

    model_config = ConfigDict(extra="forbid")

    feature: str
    files: list[BundleFile]
    summary: str = ""
    notes: list[str] = Field(default_factory=list)
    requirements: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Requirement id (`op.create`, `age.le`, `text.1`) → the tests that check it.",
    )

    @field_validator("requirements", mode="before")
    @classmethod
    def _requirements_as_rows(cls, value: Any) -> Any:
        """Also `[{"id": "age.le", "tests": [...]}, ...]`, as a strict JSON schema gives it."""
        if isinstance(value, list):
            table: dict[str, Any] = {}
            for row in value:
                if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                    raise ValueError('each row must be {"id": "<requirement id>", "tests": [...]}')
                table.setdefault(row["id"], []).extend(row.get("tests") or [])
            return table
        return value

    def get(self, path: str) -> BundleFile | None:
        return next((f for f in self.files if f.path == path), None)

    def to_markdown(self) -> str:
        """The bundle in the seed's Markdown form; `parse_reply` reads it back unchanged."""
        parts = [self.summary.strip(), ""] if self.summary.strip() else []
        for file in self.files:
            parts += [f"**File:** `{file.path}`", _fence(file.content), ""]
        if self.requirements:
            parts += ["| requirement | tests |", "| --- | --- |"]
            parts += [f"| {rid} | {', '.join(tests)} |" for rid, tests in self.requirements.items()]
            parts.append("")
        if self.notes:
            parts += ["Notes:", *(f"- {note}" for note in self.notes)]
        return "\n".join(parts).strip() + "\n"


def parse_reply(text: str, feature: str) -> FileBundle:
    """Parse a model's reply (Markdown `**File:**` blocks, or JSON) into a `FileBundle`.

    Integration files (`src/main.py`, `src/api.py`) are dropped with a note: the builder wires
    the router itself. Raises `BundleError` naming each problem.
    """
    stripped = text.strip()
    candidate = _unfence_json(stripped)
    if candidate is not None:
        return _from_json(candidate)
    files, problems, summary = _scan_markdown(text)
    if problems:
        raise BundleError(problems)
    if not files:
        raise BundleError(
            [
                Problem(
                    None,
                    "the reply holds no files: give each as a line `**File:** `path`` followed "
                    "by one fenced code block, or answer a JSON object with `files`",
                )
            ]
        )
    bundle = FileBundle(
        feature=feature, files=files, summary=summary, requirements=_requirement_table(text)
    )
    return _drop_integration(bundle)


_TABLE_ROW = re.compile(
    r"^\s*\|\s*`?(?P<id>[a-z][a-z0-9_]*\.[a-z0-9_]+)`?\s*\|(?P<tests>[^|]*)\|?\s*$"
)


def _requirement_table(text: str) -> dict[str, list[str]]:
    """The reply's `| requirement | tests |` table, outside code blocks: id → test names."""
    table: dict[str, list[str]] = {}
    fence: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if opening is not None:
            if fence is None:
                fence = opening["fence"]
            elif line.strip().startswith(fence):
                fence = None
            continue
        row = _TABLE_ROW.match(line) if fence is None else None
        if row is not None:
            names = [n.strip("`") for n in re.split(r"[,\s]+", row["tests"]) if n.strip("`")]
            table.setdefault(row["id"], []).extend(n for n in names if n.startswith("test"))
    return table


def normalise_content(content: str) -> str:
    """Unix newlines, no trailing blank lines, exactly one final newline."""
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n").rstrip() + "\n" if text.strip() else ""


# --- Markdown ------------------------------------------------------------------------------------

_FILE_LINE = re.compile(
    r"^\s*(?:#{1,6}\s+)?(?:[-*]\s+)?(?:\*\*|__)?\s*(?:file|filename|path)\s*"
    r"(?::\s*(?:\*\*|__)|(?:\*\*|__)\s*:|:)\s*(?:`(?P<quoted>[^`]+)`|(?P<plain>[^\s`*]+))",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+.-]*)\s*$")


def _scan_markdown(text: str) -> tuple[list[BundleFile], list[Problem], str]:
    lines = text.splitlines()
    files: list[BundleFile] = []
    problems: list[Problem] = []
    prose: list[str] = []
    summary = ""
    index = 0
    while index < len(lines):
        marker = _FILE_LINE.match(lines[index])
        if marker is None:
            prose.append(lines[index])
            index += 1
            continue
        path = (marker["quoted"] or marker["plain"]).strip()
        if not files and not summary:
            summary = _last_paragraph(prose)
        opening = index + 1
        while opening < len(lines) and not _FENCE.match(lines[opening]):
            if _FILE_LINE.match(lines[opening]):
                break
            opening += 1
        fence = _FENCE.match(lines[opening]) if opening < len(lines) else None
        if fence is None:
            problems.append(Problem(path, "no fenced code block follows the `File:` line"))
            index = opening
            continue
        closing = _find_closing(lines, opening + 1, fence["fence"])
        if closing is None:
            problems.append(Problem(path, "its code block is never closed"))
            break
        indent = len(fence["indent"])
        body = [
            line[indent:] if line[:indent].isspace() else line
            for line in lines[opening + 1 : closing]
        ]
        files.append(BundleFile(path=path, content=normalise_content("\n".join(body))))
        index = closing + 1
    return files, problems, summary


def _find_closing(lines: list[str], start: int, fence: str) -> int | None:
    for number in range(start, len(lines)):
        candidate = lines[number].strip()
        if candidate and set(candidate) == {fence[0]} and len(candidate) >= len(fence):
            return number
    return None


def _last_paragraph(prose: list[str]) -> str:
    paragraphs = "\n".join(prose).split("\n\n")
    for paragraph in reversed(paragraphs):
        clean = paragraph.strip()
        if clean and not clean.startswith(("#", "-", "`", "*", "|")) and len(clean) > 20:
            return " ".join(clean.split())[:600]
    return ""


def _fence(content: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", content)), default=2)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}python\n{content.rstrip()}\n{ticks}"


# --- JSON ----------------------------------------------------------------------------------------


def _unfence_json(text: str) -> str | None:
    """The JSON object of a reply that is one (fences tolerated), else None."""
    if text.startswith("{"):
        return text
    match = re.fullmatch(r"(`{3,}|~{3,})\s*(?:json)?\s*\n(?P<body>.*)\n\s*\1\s*", text, re.DOTALL)
    if match and match["body"].lstrip().startswith("{"):
        return match["body"]
    return None


def _from_json(text: str) -> FileBundle:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise BundleError(
            [Problem(None, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")]
        ) from e
    try:
        bundle = FileBundle.model_validate(data)
    except ValidationError as e:
        problems = []
        for item in e.errors(include_url=False):
            where = ".".join(str(part) for part in item["loc"]) or None
            problems.append(Problem(where, item["msg"]))
        raise BundleError(problems) from e
    files = [BundleFile(path=f.path, content=normalise_content(f.content)) for f in bundle.files]
    return _drop_integration(bundle.model_copy(update={"files": files}))


def _drop_integration(bundle: FileBundle) -> FileBundle:
    kept, notes = [], list(bundle.notes)
    for file in bundle.files:
        if file.path.strip().removeprefix("./") in INTEGRATION_PATHS:
            notes.append(
                f"{file.path}: dropped; the builder wires the router into src/main.py itself"
            )
        else:
            kept.append(file)
    return bundle.model_copy(update={"files": kept, "notes": notes})

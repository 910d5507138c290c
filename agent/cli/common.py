"""What the command-line faces share: exit codes, bad-input errors, the payload, the settings.

Its own module, so that `python -m agent.cli` (which runs `agent/cli/__init__.py` as `__main__`) and
`agent.cli.build` raise and catch the same `BadInput`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: The machine was too busy to finish (an `infrastructure` reason): nothing is wrong with the
#: input or the feature, and the same command can pass later.
EXIT_BUSY = 3
MARKS = {True: "✓", False: "✗"}


class BadInput(Exception):
    pass


def read_payload(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as e:
        raise BadInput(f"--payload: cannot read {source}: {e.strerror}") from e


def settings_from(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from agent.settings import Settings

    overrides: dict[str, object] = {}
    for name in ("max_rounds", "model", "workers", "workspace"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = []
        for item in e.errors(include_url=False):
            name = str(item["loc"][0]) if item["loc"] else "settings"
            flag = f"--{name.replace('_', '-')}" if name in overrides else f"PETSAGE_{name.upper()}"
            problems.append(f"{flag}: {item['msg']}")
        raise BadInput("; ".join(problems)) from e

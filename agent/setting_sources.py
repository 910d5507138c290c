"""Where settings come from, read without pydantic: `PETSAGE_*` variables and `./.env`.

`agent.settings.Settings` validates what this finds; `agent.box.prestart` reads a few raw
values from it before pydantic has loaded (a wrong one there only means no head start).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX = "PETSAGE_"
ENV_FILE = ".env"

#: Defaults that the settings object and the head start (agent.box.prestart) share.
DEFAULT_WORKSPACE = Path("generated/petsage_backend")
DEFAULT_TEST_TIMEOUT = 120.0


def configured_values() -> dict[str, str]:
    """Field name → raw text of each `PETSAGE_<FIELD>`: the environment's over `.env`'s.

    Names are read in any case, as pydantic-settings reads them.
    """
    found: dict[str, str] = {}
    for source in (_env_file(), os.environ):
        for name, value in source.items():
            if name.upper().startswith(ENV_PREFIX) and value is not None:
                found[name[len(ENV_PREFIX) :].lower()] = value
    return found


def _env_file() -> dict[str, str | None]:
    if not Path(ENV_FILE).is_file():
        return {}
    from dotenv import dotenv_values

    return dict(dotenv_values(ENV_FILE, encoding="utf-8"))

"""All of the builder's settings in one object, read from `PETSAGE_*` variables and `.env`."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one builder process. Tests build their own instead of using `get_settings()`."""

    model_config = SettingsConfigDict(env_prefix="PETSAGE_", env_file=".env", extra="ignore")

    model: str = Field(
        default="offline",
        description="offline | openai:<model> | local:<path.gguf> | replay:<file>",
    )
    workspace: Path = Field(
        default=Path("generated/petsage_backend"),
        description="The target repository; gets the PetSage skeleton when missing or empty.",
    )
    state_dir: Path | None = Field(
        default=None,
        description="Builder state (worktrees, build records); default: `.petsage/<name>` beside "
        "the workspace, never inside its working tree.",
    )
    max_rounds: int = Field(default=3, ge=1, le=10, description="Model rounds per build.")
    test_timeout: float = Field(default=120.0, gt=0, description="Seconds for one test run.")
    test_python: Path = Field(
        default=Path(sys.executable),
        description="Interpreter that runs the target's test suite.",
    )
    max_request_bytes: int = Field(default=256 * 1024, gt=0, description="Largest request body.")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="Builds the service runs at once.",
    )
    api_tokens: str = Field(
        default="",
        description="Comma-separated bearer tokens; required off loopback.",
        repr=False,
    )
    author_name: str = "PetSage Builder"
    author_email: str = "builder@petsage.invalid"

    @property
    def token_set(self) -> frozenset[str]:
        return frozenset(token.strip() for token in self.api_tokens.split(",") if token.strip())

    def resolved_state_dir(self, workspace: Path | None = None) -> Path:
        """Where builder state for `workspace` lives: outside the target's working tree."""
        if self.state_dir is not None:
            return self.state_dir
        target = (workspace or self.workspace).resolve()
        return target.parent / ".petsage" / target.name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests construct `Settings(...)` directly instead."""
    return Settings()

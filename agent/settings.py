"""All of the builder's settings in one object, read from `PETSAGE_*` variables and `.env`.

Read as pydantic-settings would (names in any case, the environment over `.env`, arguments over
both, JSON for the dict and list fields) with a few lines of our own instead of that package:
it is the heaviest import on a build's path before any work starts.
"""

from __future__ import annotations

import hmac
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from agent.errors import ConfigError
from agent.setting_sources import DEFAULT_TEST_TIMEOUT, DEFAULT_WORKSPACE, configured_values

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

#: USD per million (prompt, completion) tokens; extend or override with PETSAGE_MODEL_PRICES (JSON).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
}


class Settings(BaseModel):
    """Settings of one builder process. Tests build their own instead of using `get_settings()`.

    `Settings(**values)`: each field from `values`, else `PETSAGE_<FIELD>` in the environment,
    else in `./.env`, else its default.
    """

    model_config = ConfigDict(extra="ignore", validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_configured(type(self)), **values})

    model: str = Field(
        default="offline",
        description="offline | openai:<model> | local:<path.gguf> | replay:<file>",
    )
    workspace: Path = Field(
        default=DEFAULT_WORKSPACE,
        description="The target repository; gets the PetSage skeleton when missing or empty.",
    )
    state_dir: Path | None = Field(
        default=None,
        description="Builder state (worktrees, build records); default: `.petsage/<name>` beside "
        "the workspace, never inside its working tree.",
    )
    max_rounds: int = Field(default=3, ge=1, le=10, description="Model rounds per build.")
    test_timeout: float = Field(
        default=DEFAULT_TEST_TIMEOUT, gt=0, description="Seconds for one test run."
    )
    test_python: Path | None = Field(
        default=None,
        description="Interpreter for the target's tests; default: a managed virtual environment "
        "with the target's requirements.txt.",
    )
    sandbox: Literal["bwrap", "off"] = Field(
        default="bwrap",
        description="Run generated tests under bubblewrap; `off` runs them unsandboxed (noted).",
    )
    static_scan: bool = Field(
        default=True,
        description="Scan generated code for dangerous calls and pytest hooks before writing it; "
        "off only to prove the sandbox holds alone (noted in the result).",
    )
    verify: Literal["off", "standard", "thorough"] = Field(
        default="standard",
        description="The `verified` stage's gates: `standard` = unwired, weakening, contract, "
        "requirements, lint; `thorough` adds the mutation score and schema fuzzing; `off` "
        "skips them.",
    )
    min_mutation_score: float = Field(
        default=0.8, ge=0, le=1, description="At `thorough`: the least share of mutants killed."
    )
    max_request_bytes: int = Field(default=256 * 1024, gt=0, description="Largest request body.")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="Builds the service runs at once.",
    )
    api_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated bearer tokens; required off loopback.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="The token `petsage-builder chat --url` sends to a service (never on argv).",
    )
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated host names the service answers besides the loopback names "
        "(localhost, 127.0.0.1, ::1); `*` answers any (only behind a proxy that checks Host).",
    )
    max_chat_bytes: int = Field(
        default=128 * 1024, gt=0, description="Largest chat message body (JSON), in bytes."
    )
    rate_limit: int = Field(
        default=60,
        ge=0,
        description="Builds and chat messages one client may post per minute (0: no limit).",
    )
    max_streams: int = Field(default=64, ge=1, description="Event streams open at once, in all.")
    max_streams_per_client: int = Field(
        default=8, ge=1, description="Event streams one client may hold open at once."
    )
    model_output: Literal["markdown", "json"] = Field(
        default="markdown", description="How a model is asked to answer: Markdown files or JSON."
    )
    model_temperature: float = Field(default=0.2, ge=0, le=2)
    model_max_tokens: int = Field(default=8000, ge=256, description="Completion tokens per reply.")
    model_timeout: float = Field(default=120.0, gt=0, description="Seconds per model request.")
    model_retries: int = Field(
        default=3, ge=0, le=10, description="Retries on 429, 5xx and timeouts, with back-off."
    )
    prompt_budget_tokens: int = Field(
        default=6000, ge=1000, description="Prompt size the repository context is trimmed to."
    )
    model_prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD per million (prompt, completion) tokens, by model name.",
    )
    record: Path | None = Field(
        default=None, description="Folder where each build's model exchanges are saved."
    )
    git_remote: str | None = Field(
        default=None,
        description="The shared remote: pull requests push to it; Celery workers fetch their base "
        "from it and push each passing build's branch to it.",
    )
    jobs: Literal["threads", "celery"] = Field(
        default="threads",
        description="Where service builds run: `threads` in the API process, or `celery` workers "
        "(`petsage-builder worker`) through PETSAGE_BROKER_URL.",
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Celery's broker and result backend (Redis) when PETSAGE_JOBS=celery.",
    )
    database_url: str | None = Field(
        default=None,
        description="The build store: postgresql://user@host:port/name, or sqlite:///path; "
        "default: a SQLite file in the state folder.",
        repr=False,
    )
    queue: str = Field(
        default="petsage-builds",
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="The Celery queue builds go through.",
    )
    lease_seconds: float = Field(
        default=30.0,
        ge=1,
        description="A worker renews its hold on a running build this often (÷3); a hold not "
        "renewed for this long means the worker died, and another takes the build over.",
    )
    max_attempts: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Tries per build before a dead worker's build ends `interrupted`.",
    )
    visibility_timeout: float = Field(
        default=3600.0,
        ge=1,
        description="Seconds before Redis hands an unacknowledged build message to another worker.",
    )
    forge_api_url: str = Field(
        default="https://api.github.com", description="The forge's REST API."
    )
    forge_repo: str | None = Field(default=None, description="owner/name on the forge.")
    forge_token: SecretStr | None = Field(
        default_factory=lambda: SecretStr(os.environ["GITHUB_TOKEN"])
        if os.environ.get("GITHUB_TOKEN")
        else None,
        description="Token for the forge (falls back to GITHUB_TOKEN).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The secret GitHub signs webhook deliveries with (X-Hub-Signature-256); "
        "without it POST /api/v1/webhooks/github refuses every delivery.",
        repr=False,
    )
    trigger_label: str = Field(
        default="petsage", description="The issue label that starts a build from GitHub."
    )
    permission_cache_seconds: float = Field(
        default=60.0, ge=0, description="How long a GitHub user's repository permission is cached."
    )
    pr_draft: bool = False
    pr_labels: list[str] = Field(default_factory=list)
    author_name: str = "PetSage Builder"
    author_email: str = "builder@petsage.invalid"
    test_wall_seconds: float | None = Field(
        default=None,
        gt=0,
        description="The wall-clock ceiling of a test run and of the gates' box "
        "(PETSAGE_TEST_TIMEOUT is their budget of CPU time); passing it is the machine's fault, "
        "not the feature's: retried once. Default: 10x the CPU budget, at least 300 s.",
    )
    max_concurrent_builds: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Builds the service runs at once; the rest wait queued. Default: "
        "PETSAGE_WORKERS, at most one per 768 MiB of available memory.",
    )
    max_tokens_per_build: int | None = Field(
        default=None,
        ge=1,
        description="Prompt + completion tokens one build may spend: no round is asked that "
        "would pass it (stop reason `token_cap`); unset: no cap.",
    )
    max_cost_per_build: float | None = Field(
        default=None,
        gt=0,
        description="USD one build may spend at PETSAGE_MODEL_PRICES: no round is asked that "
        "would pass it (stop reason `cost_cap`); unset, or an unpriced model: no cap.",
    )
    stop_on_stall: bool = Field(
        default=True,
        description="Stop repairing when a round does not shrink the failing tests (stop reason "
        "`no_progress`) or repeats an earlier reply (`repeated_reply`).",
    )

    @property
    def token_set(self) -> frozenset[str]:
        raw = self.api_tokens.get_secret_value()
        return frozenset(token.strip() for token in raw.split(",") if token.strip())

    @property
    def webhook_key(self) -> str | None:
        """The webhook secret's value, for signing and checking deliveries."""
        return self.webhook_secret.get_secret_value() if self.webhook_secret else None

    @property
    def forge_secret(self) -> str | None:
        """The forge token's value, for the one header that sends it."""
        return self.forge_token.get_secret_value() if self.forge_token else None

    def token_matches(self, given: str | None) -> bool:
        """Whether `given` is one of the tokens, compared in constant time; True with none set."""
        tokens = self.token_set
        if not tokens:
            return True
        given_bytes = (given or "").encode()
        matched = False
        for token in tokens:
            matched |= hmac.compare_digest(token.encode(), given_bytes)
        return matched and given is not None

    @property
    def host_names(self) -> frozenset[str]:
        """The `Host` names the service answers (lower case, no port)."""
        extra = (name.strip().lower() for name in self.allowed_hosts.split(","))
        return LOOPBACK_NAMES | frozenset(name for name in extra if name)

    def cost_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What the tokens cost at `model`'s price (`openai:` prefix or not); None if unpriced."""
        price = self.model_prices.get(model.split(":", 1)[-1])
        if price is None:
            return None
        return round((price[0] * prompt_tokens + price[1] * completion_tokens) / 1_000_000, 6)

    def shared_database_url(self) -> str:
        """The store the API and its Celery workers share; an error naming the variable if unset."""
        if not self.database_url:
            raise ConfigError(
                "PETSAGE_DATABASE_URL: with PETSAGE_JOBS=celery the API and its workers share one "
                "store, e.g. postgresql://user@host:5432/petsage (or sqlite:///path, all on the "
                "API's machine)"
            )
        return self.database_url

    def build_slots(self) -> int:
        """How many builds the service runs at once (`max_concurrent_builds`, else its default
        from the workers and the memory available now)."""
        if self.max_concurrent_builds is not None:
            return self.max_concurrent_builds
        return max(1, min(self.workers, _available_memory() // BUILD_MEMORY))

    def resolved_state_dir(self, workspace: Path | None = None) -> Path:
        """Where builder state for `workspace` lives: outside the target's working tree."""
        if self.state_dir is not None:
            return self.state_dir
        target = (workspace or self.workspace).resolve()
        return target.parent / ".petsage" / target.name


#: What one build holds at its peak: the test run's and the gates' interpreters (pytest, FastAPI,
#: SQLAlchemy, the app) and the builder's own share.
BUILD_MEMORY = 768 * 1024**2


def _available_memory() -> int:
    """The memory available now (MemAvailable), in bytes; plenty where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 64 * BUILD_MEMORY


def _configured(model: type[BaseModel]) -> dict[str, Any]:
    """The fields set by `PETSAGE_*` variables (agent.setting_sources), decoded for validation."""
    found = configured_values()
    return {
        name: _decoded(found[name], field.annotation)
        for name, field in model.model_fields.items()
        if name in found
    }


def _decoded(raw: str, annotation: object) -> object:
    """JSON for a dict or list field (as pydantic-settings reads them); the text otherwise."""
    origin = getattr(annotation, "__origin__", annotation)
    if origin in (dict, list):
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # validation then names the field and says what it needs
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests construct `Settings(...)` directly instead."""
    return Settings()

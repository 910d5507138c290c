"""The one exception tree of the builder.

Every error the builder raises on purpose derives from `BuilderError`, so faces (CLI, HTTP) can
catch that one class and map each subclass to an exit code or a status code. Third-party errors
are wrapped with ``raise ... from e`` where they cross into the builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    """One finding: where (a request field or a file path, and a line) and why."""

    where: str | None
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        if self.where is None:
            return self.reason
        at = f"{self.where}:{self.line}" if self.line is not None else self.where
        return f"{at}: {self.reason}"


class BuilderError(Exception):
    """Base of every error the builder raises on purpose."""


class ConfigError(BuilderError):
    """The builder's settings are wrong or incomplete (names the variable to set)."""


class StateLocked(BuilderError):
    """Another process holds the builder state (a service, a worker or a CLI build)."""


class JobsUnavailable(BuilderError):
    """The job backend (Celery's broker) cannot take a build now."""


#: Why a request was refused: not readable at all (400), read but invalid (422), too big (413).
RequestErrorKind = Literal["undecodable", "invalid", "too_large"]


class RequestError(BuilderError):
    """A feature request that cannot be decoded or breaks a rule of BLUEPRINT §1."""

    def __init__(self, problems: list[Problem], *, kind: RequestErrorKind = "invalid") -> None:
        self.problems = problems
        #: "undecodable" (no encoding matched), "invalid" (a field breaks a rule), "too_large".
        self.kind = kind
        super().__init__("; ".join(str(p) for p in problems))


class BundleError(BuilderError):
    """A model's reply that does not parse into a file bundle or fails the checks of §3."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class ModelError(BuilderError):
    """A model could not produce a reply (transport, auth, exhausted script...)."""


class ModelRefused(BuilderError):
    """The model declines the request before any work, e.g. the offline generator's limits."""


class WorkspaceError(BuilderError):
    """The target repository or a worktree is not in a state a build can use."""


class GitFailed(WorkspaceError):
    """A git command ended with a non-zero status (`agent.repo.gitcmd`)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"git failed with status {status}: {detail}")
        self.status = status
        self.detail = detail


class IntegrationError(WorkspaceError):
    """`src/main.py` of the target cannot be wired (no `app`, does not parse...)."""


class TestRunError(BuilderError):
    """The target's test suite could not be run at all (not the same as failing tests)."""

    __test__ = False


class ForgeError(BuilderError):
    """The forge (GitHub's REST API) refused or failed a call; `status` is its HTTP status."""

    def __init__(self, message: str, status: int = 0) -> None:
        self.status = status
        super().__init__(message)


class ForgeAuthError(ForgeError):
    """The forge refused the token (401, or 403 that is not a rate limit)."""


class ForgeNotFound(ForgeError):
    """The forge has no such repository, issue, pull request or comment (404)."""


class ForgeUnavailable(ForgeError):
    """The forge could not be reached, or kept failing or rate-limiting after the retries."""


class PullRequestError(BuilderError):
    """A pull request could not be opened, updated or merged."""


class PullRequestNotFound(PullRequestError):
    """No pull request by that id."""


class PullRequestConflict(PullRequestError):
    """The pull request's state forbids the action: not open, moved, conflicting, failing."""


class MergeRefused(PullRequestError):
    """Git cannot merge the two at all (unrelated histories, a missing commit)."""


class SandboxUnavailable(BuilderError):
    """bubblewrap is missing or cannot start here; generated code will not run."""


class IdempotencyConflict(BuilderError):
    """An Idempotency-Key came back with a different request."""


class InstructionError(BuilderError):
    """A change the person asked for that cannot be made; the message says why, in words."""


class BuildCancelled(BuilderError):
    """A build was asked to stop before it finished (its result is `cancelled`)."""


class MigrationRefused(BuilderError):
    """The migration the feature's tables need is one the builder does not write (a repair
    reason: the description from the box asked for something outside its vocabulary)."""


class InfrastructureError(BuilderError):
    """A limit ended a stage because the machine was busy, not because of the feature.

    The build retries the stage once; it is never told to the model as a test failure, and a
    build it ends is `failed` with a reason of kind `infrastructure` that names the stage, the
    limit and the figure (`agent.pipeline.result.FailureReason`).
    """

    def __init__(
        self, message: str, *, stage: str, limit: str, figure: float, budget: float
    ) -> None:
        self.stage, self.limit, self.figure, self.budget = stage, limit, figure, budget
        super().__init__(message)


class NeedsRebuild(PullRequestConflict):
    """A pull request the builder will not rewrite onto its new base: a person edited its
    files, the base changed the feature's own files, or the suite fails on the result."""

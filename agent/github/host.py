"""What GitHub builds need of the service that runs them, named here so that `agent.github`
never imports `agent.service` (whose webhook route starts them): the running
`agent.service.root.Service` is one, by its shape."""

from __future__ import annotations

from typing import Protocol

from agent.repo.workspace import TargetRepo
from agent.request import FeatureRequest
from agent.settings import Settings
from agent.store.builds import BuildRecord, BuildStore


class StartedBuild(Protocol):
    """A build stored and sent to the job backend (a refusal has already ended it)."""

    @property
    def record(self) -> BuildRecord: ...


class Jobs(Protocol):
    @property
    def stopping(self) -> bool:
        """True once the service is shutting down."""
        ...


class Mirror(Protocol):
    """The runner's side of a pull request: the repository, and its mirror of the remote."""

    @property
    def repo(self) -> TargetRepo: ...

    def sync_mirror(self, commit: str | None = None) -> None: ...


class BuildHost(Protocol):
    """The running service, as far as a GitHub delivery uses it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> BuildStore: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def runner(self) -> Mirror: ...

    def start_build(
        self, request: FeatureRequest, idempotency_key: str | None = None
    ) -> StartedBuild:
        """Store a new build and send it to the job backend (`Service.start_build`)."""
        ...


__all__ = ["BuildHost", "Jobs", "Mirror", "StartedBuild"]

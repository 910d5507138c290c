"""The service's one way to start a build: store it, then send it; a refusal fails it."""

from collections.abc import Iterator

import pytest

from agent.errors import JobsUnavailable
from agent.jobs.runner import ServiceRunner
from agent.jobs.threads import JobBackend
from agent.request import FeatureRequest
from agent.service.root import Service
from agent.settings import Settings

REQUEST = FeatureRequest(feature="weight_log", description="Weights", requirements="kg: float >=0")


class Backend(JobBackend):
    """Takes builds without running them, or refuses them as a broker that is down does."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.sent: list[str] = []

    def start(self) -> None:
        pass

    def submit(self, build_id: str, feature: str) -> None:
        if self.refuse:
            raise JobsUnavailable("the broker is down")
        self.sent.append(build_id)

    def cancel(self, build_id: str) -> bool:
        return False

    def shutdown(self) -> None:
        pass

    @property
    def stopping(self) -> bool:
        return False


@pytest.fixture(params=[False, True], ids=["taken", "refused"])
def service(
    request: pytest.FixtureRequest, settings: Settings, workspace: object
) -> Iterator[Service]:
    backend = Backend(refuse=request.param)

    def jobs(runner: ServiceRunner) -> JobBackend:
        return backend

    service = Service(settings, None, jobs)
    try:
        yield service
    finally:
        service.stop()


def test_a_started_build_is_stored_then_sent_once(service: Service) -> None:
    backend = service.jobs
    assert isinstance(backend, Backend)
    started = service.start_build(REQUEST, "key-1")
    again = service.start_build(REQUEST, "key-1")
    assert started.created and not again.created and again.record.id == started.record.id
    record = service.store.get(started.record.id)
    assert record is not None
    if backend.refuse:
        assert isinstance(started.refused, JobsUnavailable) and again.refused is None
        assert record.status == "failed" and backend.sent == []
    else:
        assert started.refused is None and record.status == "queued"
        assert backend.sent == [started.record.id]

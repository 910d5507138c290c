"""The forge client against the local GitHub stand-in: retries, typed errors, no token shown."""

import pytest
from pydantic import SecretStr

from agent.errors import ForgeAuthError, ForgeNotFound, ForgeUnavailable
from agent.repo.forge import GitHub
from agent.settings import Settings
from tests.fake_github import FakeGitHub

TOKEN = "ghp_forge_secret_789"


def client(settings: Settings, github: FakeGitHub, waits: list[float]) -> GitHub:
    configured = settings.model_copy(
        update={
            "forge_repo": "acme/petsage",
            "forge_token": SecretStr(TOKEN),
            "forge_api_url": github.url,
        }
    )
    return GitHub(configured, sleep=waits.append)


def test_5xx_and_secondary_rate_limits_are_retried_after_retry_after(settings: Settings) -> None:
    waits: list[float] = []
    with FakeGitHub() as github, client(settings, github, waits) as forge:
        github.failures = [(502, {}), (403, {"Retry-After": "7"}), (429, {"Retry-After": "2"})]
        created = forge.comment(5, "hello")
        assert created["issue"] == 5 and github.comments[created["id"]]["body"] == "hello"
        assert waits == [1.0, 7.0, 2.0]
        assert len(github.calls) == 4


def test_a_forge_that_keeps_failing_gives_a_typed_error_without_the_token(
    settings: Settings,
) -> None:
    waits: list[float] = []
    with FakeGitHub() as github, client(settings, github, waits) as forge:
        github.failures = [(503, {"Retry-After": "120"})] * 4
        with pytest.raises(ForgeUnavailable, match="503") as caught:
            forge.edit_comment(1, "x")
        assert caught.value.status == 503 and waits == [60.0, 60.0, 60.0]  # capped
        with pytest.raises(ForgeNotFound, match="404"):
            forge.pull(42)
        assert forge.permission("alice") == "read"
        github.permissions["alice"] = "admin"
        assert forge.permission("alice") == "admin"
    with FakeGitHub(status=401) as github, client(settings, github, waits) as forge:
        with pytest.raises(ForgeAuthError, match="PETSAGE_FORGE_TOKEN") as refused:
            forge.check_run("a" * 40, "success", "t", "s")
        assert TOKEN not in str(refused.value) and len(github.calls) == 1  # 401: no retry

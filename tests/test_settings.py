"""Settings come from arguments, then `PETSAGE_*` variables, then `./.env`, then defaults."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.settings import Settings


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_arguments_over_environment_over_env_file_over_defaults(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_folder / ".env").write_text(
        "# a comment\nexport PETSAGE_MAX_ROUNDS=5\nPETSAGE_MODEL='openai:gpt-4.1-nano'\n"
        'PETSAGE_TEST_TIMEOUT="33"\nOTHER=ignored\n'
    )
    monkeypatch.setenv("PETSAGE_TEST_TIMEOUT", "44")
    settings = Settings(model="offline")
    assert settings.max_rounds == 5  # .env
    assert settings.test_timeout == 44.0  # the environment over .env
    assert settings.model == "offline"  # the argument over both
    assert settings.verify == "standard"  # the default


def test_names_in_any_case_and_json_for_dicts_and_lists(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("petsage_max_rounds", "2")
    monkeypatch.setenv("PETSAGE_MODEL_PRICES", '{"m": [1, 2]}')
    monkeypatch.setenv("PETSAGE_PR_LABELS", '["a", "b"]')
    monkeypatch.setenv("PETSAGE_API_TOKENS", "t1,t2")
    settings = Settings()
    assert settings.max_rounds == 2
    assert settings.model_prices == {"m": (1.0, 2.0)}
    assert settings.pr_labels == ["a", "b"]
    assert settings.token_set == {"t1", "t2"}
    assert "t1" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("PETSAGE_MAX_ROUNDS", "many", "max_rounds"),
        ("PETSAGE_MAX_ROUNDS", "0", "max_rounds"),
        ("PETSAGE_MODEL_PRICES", "{not json", "model_prices"),
        ("PETSAGE_SANDBOX", "docker", "sandbox"),
        ("PETSAGE_MAX_CONCURRENT_BUILDS", "0", "max_concurrent_builds"),
        ("PETSAGE_TEST_WALL_SECONDS", "-5", "test_wall_seconds"),
    ],
)
def test_a_bad_value_names_its_field(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert [error["loc"][0] for error in raised.value.errors()] == [field]


def test_the_cli_names_the_variable_and_exits_2(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main

    (in_folder / ".env").write_text("PETSAGE_TEST_TIMEOUT=-1\n")
    (in_folder / "request.md").write_text("feature: x\n")
    assert main(["build", "--payload", "request.md", "--workspace", "ws"]) == 2
    assert "PETSAGE_TEST_TIMEOUT:" in capsys.readouterr().err
    assert not (in_folder / "ws").exists()


def test_builds_at_once_default_from_the_workers_and_the_memory(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.settings import BUILD_MEMORY, _available_memory

    room = max(1, _available_memory() // BUILD_MEMORY)
    assert Settings(workers=3).build_slots() == min(3, room)
    monkeypatch.setenv("PETSAGE_MAX_CONCURRENT_BUILDS", "5")
    assert Settings(workers=3).build_slots() == 5

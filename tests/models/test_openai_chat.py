"""The openai adapter with the real `openai` client against a local compatible server."""

import json
from pathlib import Path

import pytest

from agent.bundle import parse_reply
from agent.errors import ModelError
from agent.models import create_model
from agent.models.base import GenerationTask
from agent.models.openai_chat import OpenAIChatModel
from agent.pipeline.loop import Builder
from agent.request import decode_request
from agent.settings import Settings
from tests.conftest import SEED_TEXT, SMOKE_REQUEST, git
from tests.models.fake_openai import FakeOpenAI

TESTS = "tests/features/smoke_test/test_smoke_test.py"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    return fake_openai


def openai_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(
        update={"model": "openai:gpt-4.1-mini", "model_retries": 2, **changes}
    )


def seed_json() -> str:
    bundle = parse_reply(SEED_TEXT, "smoke_test")
    return bundle.model_dump_json()


def failing_seed() -> str:
    return SEED_TEXT.replace('== "PetSage Backend is operational."', '== "Something else."', 1)


def last_user_message(request: dict) -> str:
    return [m for m in request["messages"] if m["role"] == "user"][-1]["content"]


def test_the_seed_as_the_reply_builds_in_one_round(settings: Settings, fake: FakeOpenAI) -> None:
    fake.reply(SEED_TEXT)
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert result.model == "openai:gpt-4.1-mini" and result.model_round_trips == 1
    assert (result.prompt_tokens, result.completion_tokens) == (1000, 500)
    assert result.cost_usd == pytest.approx((0.40 * 1000 + 1.60 * 500) / 1e6)
    sent = fake.requests[0]
    assert sent["model"] == "gpt-4.1-mini" and "response_format" not in sent
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "Never edit `src/main.py`" in sent["messages"][0]["content"]
    assert sent["messages"][2]["content"] == SEED_TEXT
    assert "- **Feature:** `smoke_test`" in sent["messages"][3]["content"]
    assert "app = FastAPI(" in sent["messages"][3]["content"]
    # Within the configured budget (the repository context is what gets trimmed to it).
    budget = Settings().prompt_budget_tokens
    assert sum(len(m["content"]) for m in sent["messages"]) // 4 < budget
    assert "about $0.0012" in result.report


def test_json_form_asks_for_the_strict_schema(settings: Settings, fake: FakeOpenAI) -> None:
    fake.reply(f"```json\n{seed_json()}\n```")
    result = Builder(openai_settings(settings, model_output="json")).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    response_format = fake.requests[0]["response_format"]
    assert (
        response_format["type"] == "json_schema"
        and response_format["json_schema"]["strict"] is True
    )
    assert set(response_format["json_schema"]["schema"]["required"]) == {
        "feature",
        "files",
        "summary",
        "notes",
        "requirements",
    }


def test_a_server_that_refuses_json_schema_falls_back(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(reject_json_schema=True) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        server.reply(seed_json())
        result = Builder(openai_settings(settings, model_output="json")).run(SMOKE_REQUEST)
    assert result.status == "succeeded", result.reasons
    assert [r.get("response_format", {}).get("type") for r in server.requests] == [
        "json_schema",
        "json_object",
    ]


def test_a_malformed_reply_is_repaired(settings: Settings, fake: FakeOpenAI) -> None:
    fake.reply("Sure! Here is the feature, I hope you like it.")
    fake.reply(SEED_TEXT)
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "succeeded"
    assert [r.outcome for r in result.rounds] == ["invalid", "accepted"]
    repair = fake.requests[1]["messages"]
    assert repair[-2] == {
        "role": "assistant",
        "content": "Sure! Here is the feature, I hope you like it.",
    }
    assert "holds no files" in repair[-1]["content"] and "round 2 of 3" in repair[-1]["content"]


def test_a_traversal_path_goes_back_with_its_reason(settings: Settings, fake: FakeOpenAI) -> None:
    fake.reply(
        SEED_TEXT + "\n**File:** `src/features/smoke_test/../../evil.py`\n```python\nx = 1\n```\n"
    )
    fake.reply(SEED_TEXT)
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "succeeded"
    assert "src/features/smoke_test/../../evil.py: `..` in path" in last_user_message(
        fake.requests[1]
    )


def test_failing_tests_go_back_with_the_failure(settings: Settings, fake: FakeOpenAI) -> None:
    fake.reply(failing_seed())
    fake.reply(SEED_TEXT)
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "succeeded"
    prompt = last_user_message(fake.requests[1])
    assert "test_smoke_test_endpoint_success" in prompt and "Something else." in prompt
    assert git(settings.workspace, "rev-list", "--count", "feature/smoke_test").strip() == "2"


def test_always_bad_fails_after_the_last_round(settings: Settings, fake: FakeOpenAI) -> None:
    for n in range(3):
        fake.reply(f"no files here ({n})")  # the same reply twice stops as `repeated_reply`
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "failed" and len(fake.requests) == 3
    assert result.reasons[0] == "no passing reply after 3 round(s)"
    assert not settings.workspace.joinpath(
        ".git"
    ).exists() or "refs/heads/feature/smoke_test" not in git(settings.workspace, "for-each-ref")


def test_rate_limits_are_retried(settings: Settings, fake: FakeOpenAI) -> None:
    fake.fail(429, "slow down")
    fake.fail(429, "slow down")
    fake.reply(SEED_TEXT)
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "succeeded" and len(fake.requests) == 3
    assert result.model_round_trips == 1


def test_bad_credentials_fail_the_build_naming_the_variable(
    settings: Settings, fake: FakeOpenAI
) -> None:
    fake.fail(401, "Incorrect API key provided")
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "failed"
    assert "OPENAI_API_KEY" in result.reasons[0] and "401" in result.reasons[0]
    assert len(fake.requests) == 1


def test_a_cut_off_reply_asks_for_less(settings: Settings, fake: FakeOpenAI) -> None:
    fake.reply(SEED_TEXT[:2000], finish_reason="length")
    fake.reply(SEED_TEXT)
    result = Builder(openai_settings(settings)).run(SMOKE_REQUEST)
    assert result.status == "succeeded"
    assert "cut off at the token limit" in last_user_message(fake.requests[1])
    assert "shorter" in last_user_message(fake.requests[1])


def test_record_then_replay_gives_the_same_commit_content(
    settings: Settings, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.reply(failing_seed())
    fake.reply(SEED_TEXT)
    recorded = Builder(openai_settings(settings, record=tmp_path / "records")).run(SMOKE_REQUEST)
    assert recorded.status == "succeeded"
    record_file = tmp_path / "records" / f"{recorded.id}.json"
    record = json.loads(record_file.read_text())
    assert [e["round"] for e in record["exchanges"]] == [1, 2]
    assert record["exchanges"][0]["messages"][0]["role"] == "system"
    other = settings.model_copy(
        update={
            "workspace": tmp_path / "other",
            "state_dir": tmp_path / "other-state",
            "model": f"replay:{record_file}",
        }
    )
    replayed = Builder(other).run(SMOKE_REQUEST)
    assert replayed.status == "succeeded" and replayed.model == f"replay:{record_file.name}"
    tree = git(settings.workspace, "rev-parse", "feature/smoke_test^{tree}")
    assert git(other.workspace, "rev-parse", "feature/smoke_test^{tree}") == tree


def test_the_guard_refuses_a_real_provider(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    model = OpenAIChatModel("gpt-4.1", settings)
    task = GenerationTask(request=decode_request(SMOKE_REQUEST), round=1, max_rounds=1)
    with pytest.raises(ModelError, match="tests may only use loopback"):
        model.generate(task)


def test_the_factory_knows_openai_and_replay(settings: Settings, tmp_path: Path) -> None:
    assert create_model("openai:gpt-4.1", settings).name == "openai:gpt-4.1"
    with pytest.raises(Exception, match="needs a model name"):
        create_model("openai:", settings)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(Exception, match="not a petsage-record/1 recording"):
        create_model(f"replay:{bad}", settings)

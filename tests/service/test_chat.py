"""Chat over real HTTP: a conversation that builds, refines and rebuilds on one branch."""

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import SEED_TEXT, git
from tests.models.fake_openai import FakeOpenAI
from tests.service.conftest import Server, wait_final


def test_a_conversation_builds_a_resource_then_adds_a_field(server: Server) -> None:
    with server.client() as client:
        chat = client.post("/api/v1/chats")
        assert chat.status_code == 201
        chat_id = chat.json()["id"]

        def say(content: str) -> dict:
            response = client.post(f"/api/v1/chats/{chat_id}/messages", json={"content": content})
            assert response.status_code == 200, response.text
            return response.json()

        assert say("I'd like a feature to keep profiles of pets.")["build_id"] is None
        assert say("Call it pet_profile.")["build_id"] is None
        shown = say("name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird")
        assert shown["build_id"] is None and "Here is what I understood" in shown["reply"]
        first = say("build it")
        assert first["build_id"] and wait_final(client, first["build_id"])["status"] == "succeeded"
        assert "succeeded" in say("status")["reply"]
        assert say("add field weight_kg: float >=0")["build_id"] is None
        second = say("yes")
        assert (
            second["build_id"] and wait_final(client, second["build_id"])["status"] == "succeeded"
        )
        assert "+    weight_kg: float = Field(ge=0)" in say("show the diff")["reply"]
        assert "### **BUILD COMPLETE**" in say("show the report")["reply"]
        history = client.get(f"/api/v1/chats/{chat_id}").json()
        assert [m["role"] for m in history["messages"]][:2] == ["user", "assistant"]
        assert history["builds"] == {
            first["build_id"]: "succeeded",
            second["build_id"]: "succeeded",
        }
        missing = client.get("/api/v1/chats/nope")
        assert missing.status_code == 404
        assert missing.json() == {  # as a missing build's: the one mapping's body
            "detail": {
                "error": "not_found",
                "detail": [{"field": "chat_id", "reason": "no chat 'nope'"}],
            }
        }
    log = git(server.workspace, "log", "--format=%s", "feature/pet_profile").splitlines()
    assert len(log) == 3 and log[-1] == "chore: PetSage backend skeleton"


def test_the_seed_request_text_builds_at_once(server: Server) -> None:
    with server.client() as client:
        chat_id = client.post("/api/v1/chats").json()["id"]
        reply = client.post(f"/api/v1/chats/{chat_id}/messages", json={"content": SEED_TEXT}).json()
        assert reply["build_id"] and "Building `smoke_test`" in reply["reply"]
        assert wait_final(client, reply["build_id"])["status"] == "succeeded"


def test_with_a_real_model_the_chat_calls_tools_and_builds(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        fake.tool_calls(
            (
                "propose_feature",
                {
                    "feature": "smoke_test",
                    "description": "Ensure builder functional",
                    "requirements": "none",
                },
            ),
            ("build", {}),
            content="Here it is.",
        )
        fake.reply(SEED_TEXT)
        env = {
            "PETSAGE_MODEL": "openai:fake-model",
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-test",
        }
        server = Server(tmp_path / "petsage_backend", env=env).start()
        try:
            with server.client() as client:
                chat_id = client.post("/api/v1/chats").json()["id"]
                proposed = client.post(
                    f"/api/v1/chats/{chat_id}/messages", json={"content": "a smoke test please"}
                ).json()
                assert proposed["build_id"] is None and proposed["reply"].startswith("Here it is.")
                reply = client.post(
                    f"/api/v1/chats/{chat_id}/messages", json={"content": "build it"}
                ).json()
                assert reply["build_id"]
                result = wait_final(client, reply["build_id"])
            assert result["status"] == "succeeded" and result["model"] == "openai:fake-model"
            assert [r.get("tools") is not None for r in fake.requests] == [True, False]
        finally:
            server.stop()


def conversation(client: httpx.Client) -> Callable[[str], dict]:
    chat_id = client.post("/api/v1/chats").json()["id"]

    def say(content: str) -> dict:
        response = client.post(f"/api/v1/chats/{chat_id}/messages", json={"content": content})
        assert response.status_code == 200, response.text
        return response.json()

    return say


def feature_log(workspace: Path) -> dict[str, list[str]]:
    """Each feature branch and the subjects of its commits after the skeleton."""
    branches = git(workspace, "branch", "--format=%(refname:short)").split()
    return {
        branch: git(workspace, "log", "--format=%s", f"main..{branch}").splitlines()
        for branch in branches
        if branch != "main"
    }


def test_the_name_given_after_the_fields(server: Server) -> None:
    with server.client() as client:
        say = conversation(client)
        asked = say("I want something to record pet weights, with a weight (number >= 0)")
        assert asked["build_id"] is None and "I suggest `pet_weights`" in asked["reply"]
        named = say("call it weight_log")
        assert named["build_id"] is None and "- fields: `weight: float >=0`" in named["reply"]
        built = say("build it")
        assert built["build_id"] and wait_final(client, built["build_id"])["status"] == "succeeded"
    assert {branch: len(log) for branch, log in feature_log(server.workspace).items()} == {
        "feature/weight_log": 1
    }


def test_a_field_corrected_twice_then_undone_then_renamed(server: Server) -> None:
    models = "src/features/pet_card/pet_card_models.py"
    with server.client() as client:
        say = conversation(client)

        def build(*messages: str) -> str:
            for message in messages[:-1]:
                assert say(message)["build_id"] is None, message
            reply = say(messages[-1])
            assert reply["build_id"], reply
            assert wait_final(client, reply["build_id"])["status"] == "succeeded"
            return str(reply["build_id"])

        build(
            "A feature called pet_card to print pet cards, with an age (integer >= 0)", "build it"
        )
        build("age up to 12", "yes")
        build("age between 2 and 12", "build it")
        assert "le=12" in git(server.workspace, "show", f"feature/pet_card:{models}")
        undone = say("undo")
        assert "`age: int >=2 <=12` → `age: int >=0 <=12`" in undone["reply"]
        build("build it")
        model_file = git(server.workspace, "show", f"feature/pet_card:{models}")
        assert "ge=0" in model_file and "le=12" in model_file and "ge=2" not in model_file
        build(SEED_TEXT)
        warned = say("rename it to pet_card")
        assert "`feature/pet_card` already exists" in warned["reply"]
        refused = say("build it")
        assert refused["build_id"] is None and 'say "replace it"' in refused["reply"]
        renamed = say("rename it to pet_badge")
        assert "- feature: `pet_badge`" in renamed["reply"]
        build("build it")
    logs = feature_log(server.workspace)
    assert sorted(logs) == ["feature/pet_badge", "feature/pet_card", "feature/smoke_test"]
    assert len(logs["feature/pet_card"]) == 4 and len(logs["feature/smoke_test"]) == 1
    assert len(logs["feature/pet_badge"]) == 1


def test_a_message_with_a_nul_character_is_refused_and_nothing_is_stored(server: Server) -> None:
    with server.client() as client:
        chat_id = client.post("/api/v1/chats").json()["id"]
        said = client.post(
            f"/api/v1/chats/{chat_id}/messages", json={"content": "pets\u0000 and more"}
        )
        assert said.status_code == 422, said.text
        assert "NUL" in said.text and "content" in said.text
        assert client.get(f"/api/v1/chats/{chat_id}").json()["messages"] == []
        fine = client.post(f"/api/v1/chats/{chat_id}/messages", json={"content": "hi \U0001f436"})
        assert fine.status_code == 200

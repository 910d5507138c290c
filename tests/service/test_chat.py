"""Chat over real HTTP: a conversation that builds, refines and rebuilds on one branch."""

from pathlib import Path

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
        first = say("name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird")
        assert first["build_id"] and wait_final(client, first["build_id"])["status"] == "succeeded"
        assert "succeeded" in say("status")["reply"]
        second = say("add field weight_kg: float >=0")
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
        assert client.get("/api/v1/chats/nope").status_code == 404
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
                reply = client.post(
                    f"/api/v1/chats/{chat_id}/messages", json={"content": "a smoke test please"}
                ).json()
                assert reply["build_id"] and reply["reply"].startswith("Here it is.")
                result = wait_final(client, reply["build_id"])
            assert result["status"] == "succeeded" and result["model"] == "openai:fake-model"
            assert [r.get("tools") is not None for r in fake.requests] == [True, False]
        finally:
            server.stop()

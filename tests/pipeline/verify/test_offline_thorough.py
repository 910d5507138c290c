"""The offline generator at PETSAGE_VERIFY=thorough: every gate passes, mutation score 1.0."""

from __future__ import annotations

from typing import Any

import pytest

from agent.pipeline.loop import Builder
from agent.settings import Settings
from tests.conftest import SEED_TEXT
from tests.pipeline.test_loop import PETS

RESOURCES: dict[str, Any] = {
    "pet_profile": PETS,
    "smoke_test": SEED_TEXT,
    "vet_visit": {
        "feature": "vet_visit",
        "description": "Visits to the vet",
        "requirements": "reason: str len>=3 len<=80\non: date\ncost: float? >=0\n"
        "kind: checkup|vaccine|surgery\noperations: create, list, get",
    },
    "pet_weight": {
        "feature": "pet_weight",
        "description": "Weight readings",
        "requirements": "grams: int >=1 <=200000\nmeasured_at: datetime?\n"
        "operations: list, get, update, delete",
    },
}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_gate_passes_at_thorough_with_a_full_mutation_score(
    settings: Settings, name: str
) -> None:
    settings = settings.model_copy(update={"verify": "thorough"})
    result = Builder(settings).run(RESOURCES[name])
    assert result.status == "succeeded", result.reasons
    verification = result.verification
    assert verification is not None and verification.ok, verification
    gates = {gate.gate: gate for gate in verification.gates}
    assert set(gates) == {
        "unwired",
        "weakening",
        "lint",
        "contract",
        "requirements",
        "mutation",
        "fuzz",
    }
    assert gates["mutation"].figures["score"] == 1.0
    assert int(gates["mutation"].figures["mutants"]) >= 2
    assert int(gates["fuzz"].figures["operations"]) >= 1
    assert all(row.fails_unwired for row in verification.requirements), verification.requirements

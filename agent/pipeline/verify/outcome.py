"""What the `verified` stage found: each gate's outcome and figures, the map and the diff."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

VerifyLevel = Literal["off", "standard", "thorough"]
GateName = Literal["unwired", "weakening", "contract", "requirements", "lint", "mutation", "fuzz"]


class GateOutcome(BaseModel):
    """One gate: passed or not, why not (each reason names a test, path or rule), its figures."""

    gate: GateName
    ok: bool = True
    reasons: list[str] = Field(default_factory=list)
    figures: dict[str, int | float | str] = Field(default_factory=dict)


class RequirementRow(BaseModel):
    """One requirement of the request and the tests that check it."""

    requirement: str
    tests: list[str] = Field(default_factory=list)
    results: dict[str, str] = Field(
        default_factory=dict, description="Each test's outcome with the feature, then unwired."
    )
    fails_unwired: bool = Field(
        default=False, description="True when one of its tests fails without the feature."
    )


class OperationChange(BaseModel):
    method: str
    path: str
    detail: str = ""


class ContractDiff(BaseModel):
    """The OpenAPI document of the base app against the built one."""

    added: list[OperationChange] = Field(default_factory=list)
    removed: list[OperationChange] = Field(default_factory=list)
    changed: list[OperationChange] = Field(default_factory=list)
    schemas_added: list[str] = Field(default_factory=list)
    schemas_removed: list[str] = Field(default_factory=list)
    schemas_changed: list[str] = Field(default_factory=list)
    #: Routes the built app serves that its OpenAPI document does not show, or a change to its
    #: middleware: listed from the app's own route table in the probe, not from the document.
    unlisted: list[str] = Field(default_factory=list)


class Verification(BaseModel):
    """The `verified` stage's findings for the last round that reached it."""

    level: VerifyLevel = "standard"
    ok: bool = True
    gates: list[GateOutcome] = Field(default_factory=list)
    requirements: list[RequirementRow] = Field(default_factory=list)
    contract: ContractDiff | None = None
    not_exercising: list[str] = Field(
        default_factory=list, description="Tests that still pass with the feature unwired."
    )
    seconds: float = 0.0

    @property
    def reasons(self) -> list[str]:
        return [f"[{gate.gate}] {reason}" for gate in self.gates for reason in gate.reasons]

"""The service's request and response bodies, and how its OpenAPI document describes them."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from agent.pipeline.result import BuildStatus
from agent.request import FeatureRequest

RESOURCE_EXAMPLE = {
    "feature": "pet_profile",
    "description": "Store the pets of a household",
    "requirements": "name: str len>=1 len<=40\nage: int >=0 <=40\nspecies: dog|cat|bird",
}
SEED_TEXT_FORM = (
    "**Feature Request:**\n- **Feature:** `smoke_test`\n"
    '- **Description:** "Ensure builder functional"\n- **Requirements:** "none"'
)


class Problem(BaseModel):
    field: str | None = Field(description="The request field (dotted path) or `body`.")
    reason: str


class ErrorBody(BaseModel):
    """Every 4xx answer: what kind of error, and each problem by field."""

    error: str = Field(examples=["invalid_request"])
    detail: list[Problem]


class EncodedPayload(BaseModel):
    """A request given as base64 (standard or URL-safe, padding optional) of its JSON."""

    payload: str


class BuildAccepted(BaseModel):
    id: str
    status: BuildStatus
    feature: str
    links: dict[str, str]


class BuildSummary(BaseModel):
    """One build in a list: who runs it and when, without its request or result."""

    id: str
    feature: str
    status: BuildStatus
    created_at: float
    updated_at: float
    started_at: float | None
    worker: str | None
    attempts: int


class BuildList(BaseModel):
    items: list[BuildSummary]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: str = Field(description="`ok`, or `degraded` when the store or a worker is not.")
    problems: list[str] = Field(default=[], description="Why the service is degraded.")
    version: str
    model: str
    workspace: str
    jobs: str = Field(description="`threads` (in this process) or `celery` (workers).")
    workers: int = Field(description="Builds at once in this process (threads mode).")
    queued: int = Field(description="Builds waiting for a slot.")
    running: int = Field(description="Builds running now.")
    limit: int = Field(
        description="Builds run at once (PETSAGE_MAX_CONCURRENT_BUILDS, else a default from the "
        "workers and the memory); with Celery, the API's figure, each worker has its own."
    )


def errors(kind: str, problems: list[tuple[str | None, str]]) -> dict[str, Any]:
    return ErrorBody(
        error=kind, detail=[Problem(field=f, reason=r) for f, r in problems]
    ).model_dump()


def request_body_doc() -> dict[str, Any]:
    example = {
        "feature": "smoke_test",
        "description": "Ensure builder functional",
        "requirements": "none",
    }
    return {
        "requestBody": {
            "required": True,
            "description": 'A feature request as JSON, as `{"payload": base64}`, as raw base64, '
            "or in the seed's text form.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/FeatureRequest"},
                            {"$ref": "#/components/schemas/EncodedPayload"},
                        ]
                    },
                    "examples": {
                        "seed": {"summary": "The seed's smoke_test", "value": example},
                        "resource": {"summary": "A resource feature", "value": RESOURCE_EXAMPLE},
                        "base64": {
                            "summary": "Base64 of the JSON",
                            "value": {
                                "payload": base64.b64encode(json.dumps(example).encode()).decode()
                            },
                        },
                    },
                },
                "text/plain": {
                    "schema": {"type": "string"},
                    "examples": {
                        "seed": {"summary": "The seed's text form", "value": SEED_TEXT_FORM}
                    },
                },
            },
        }
    }


def openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (FeatureRequest, EncodedPayload):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    app.openapi_schema = schema
    return schema

import base64
import contextlib
import json
import time

import pytest

from agent.errors import RequestError
from agent.fields import ResourceSpec
from agent.layout import FeatureLayout
from agent.request import FeatureRequest, decode_request
from tests.conftest import SEED_TEXT, SMOKE_REQUEST
from tests.pathological import BODIES as PATHOLOGICAL

SMOKE_JSON = json.dumps(SMOKE_REQUEST)


def _b64(text: str, *, urlsafe: bool = False, padding: bool = True) -> str:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(text.encode()).decode()
    return encoded if padding else encoded.rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        SMOKE_REQUEST,
        SMOKE_JSON,
        SMOKE_JSON.encode(),
        _b64(SMOKE_JSON),
        _b64(SMOKE_JSON, padding=False),
        _b64(SMOKE_JSON, urlsafe=True),
        _b64(SMOKE_JSON, urlsafe=True, padding=False).encode(),
        {"payload": _b64(SMOKE_JSON)},
        json.dumps({"payload": _b64(SMOKE_JSON, urlsafe=True, padding=False)}),
        SEED_TEXT,
        "Feature: smoke_test\nDescription: Ensure builder functional\nRequirements: none",
        "- **Feature:** smoke_test\n- **Description:** Ensure builder functional\n- **Requirements:** none",
        "**Feature:** `smoke_test`\n**Description:** 'Ensure builder functional'\n**Requirements:** `none`",
    ],
)
def test_every_encoding_decodes_to_the_same_request(raw: object) -> None:
    expected = FeatureRequest(feature="smoke_test", description="Ensure builder functional")
    assert decode_request(raw) == expected  # type: ignore[arg-type]


def test_the_seed_request_decodes_with_its_values() -> None:
    request = decode_request(SEED_TEXT)
    assert request.feature == "smoke_test"
    assert request.requirements is None
    assert FeatureLayout(request.feature).kebab == "smoke-test"
    assert request.branch == "feature/smoke_test"
    assert request.base_branch == "main" and request.open_pr is False


def test_field_lines_in_the_text_form_become_a_resource_spec() -> None:
    text = (
        "Feature: pet_profile\nDescription: Pets\nRequirements:\n"
        "- age: int >=0 <=40\n- nickname: str? len<=30\n- species: dog|cat|bird\n- born: date?\n"
        "operations: create, list, get\nBase branch: develop\nOpen PR: yes"
    )
    request = decode_request(text)
    spec = request.resource
    assert isinstance(spec, ResourceSpec)
    assert [f.name for f in spec.fields] == ["age", "nickname", "species", "born"]
    assert spec.fields[0].ge == 0 and spec.fields[0].le == 40 and spec.fields[0].required
    assert spec.fields[1].max_length == 30 and not spec.fields[1].required
    assert spec.fields[2].choices == ("dog", "cat", "bird")
    assert spec.operations == ("create", "list", "get")
    assert request.base_branch == "develop" and request.open_pr is True


def test_the_same_resource_as_object_list_and_text_is_one_request() -> None:
    lines = ["age: int >=0 <=40", "species: dog|cat"]
    as_object = {
        "fields": [
            {"name": "age", "type": "int", "ge": 0, "le": 40},
            {"name": "species", "type": "enum", "choices": ["dog", "cat"]},
        ]
    }
    base = {"feature": "pets", "description": "Pets"}
    one = decode_request({**base, "requirements": as_object})
    assert decode_request({**base, "requirements": lines}) == one
    assert decode_request({**base, "requirements": "\n".join(lines)}) == one


def test_to_text_reads_back_to_the_same_request() -> None:
    request = decode_request(
        {
            "feature": "pets",
            "description": "Pets",
            "requirements": ["age: int >=0", "name: str? len<=9"],
            "base_branch": "develop",
            "open_pr": True,
        }
    )
    assert decode_request(request.to_text()) == request


def test_free_text_requirements_stay_text() -> None:
    request = decode_request(
        {
            "feature": "vet_visits",
            "description": "Visits",
            "requirements": "Track visits to the vet.",
        }
    )
    assert request.requirements == "Track visits to the vet."
    assert request.resource is None


@pytest.mark.parametrize(
    ("raw", "field", "kind"),
    [
        ("", "body", "undecodable"),
        ("{not json", "body", "undecodable"),
        ("just some words", "body", "undecodable"),
        (b"\xff\xfe\x00bad", "body", "undecodable"),
        ({"payload": "!!!not base64!!!"}, "payload", "undecodable"),
        ({"payload": 42}, "payload", "invalid"),
        ({"payload": _b64("{}"), "feature": "x"}, "feature", "invalid"),
        ({"description": "no name"}, "feature", "invalid"),
        ({"feature": "smoke_test"}, "description", "invalid"),
        ({"feature": "Bad-Name", "description": "d"}, "feature", "invalid"),
        ({"feature": "x", "description": "d"}, "feature", "invalid"),
        ({"feature": "class", "description": "d"}, "feature", "invalid"),
        ({"feature": "conftest", "description": "d"}, "feature", "invalid"),
        ({"feature": "a" * 49, "description": "d"}, "feature", "invalid"),
        ({"feature": "pets", "description": ""}, "description", "invalid"),
        ({"feature": "pets", "description": "d" * 4001}, "description", "invalid"),
        (
            {"feature": "pets", "description": "d", "requirements": "r" * 8001},
            "requirements",
            "invalid",
        ),
        ({"feature": "pets", "description": "d", "requirements": 5}, "requirements", "invalid"),
        (
            {"feature": "pets", "description": "d", "requirements": [1, 2]},
            "requirements",
            "invalid",
        ),
        ({"feature": "pets", "description": "d", "unknown": 1}, "unknown", "invalid"),
        ({"feature": "pets", "description": "d", "base_branch": "../x"}, "base_branch", "invalid"),
        ({"feature": "pets", "description": "d", "open_pr": "perhaps"}, "open_pr", "invalid"),
        (
            {
                "feature": "pets",
                "description": "d",
                "requirements": {"fields": [{"name": "a1", "type": "complex"}]},
            },
            "requirements.fields[0].type",
            "invalid",
        ),
        (
            {
                "feature": "pets",
                "description": "d",
                "requirements": {"fields": [{"name": "age", "type": "int", "ge": 5, "le": 1}]},
            },
            "requirements.fields[0]",
            "invalid",
        ),
        (
            {
                "feature": "pets",
                "description": "d",
                "requirements": {"fields": [{"name": "id", "type": "int"}]},
            },
            "requirements.fields[0].name",
            "invalid",
        ),
        (
            {
                "feature": "pets",
                "description": "d",
                "requirements": {"fields": [{"name": "a", "type": "int"}], "operations": ["fly"]},
            },
            "requirements.operations[0]",
            "invalid",
        ),
        ("Feature: pets\nDescription: d\nRequirements:\n- age: int >=x", "requirements", "invalid"),
        ("x" * 300_000, "body", "too_large"),
    ],
)
def test_bad_requests_name_the_field_and_the_reason(raw: object, field: str, kind: str) -> None:
    with pytest.raises(RequestError) as caught:
        decode_request(raw)  # type: ignore[arg-type]
    error = caught.value
    assert error.kind == kind
    assert field in [problem.where for problem in error.problems], str(error)
    assert all(problem.reason for problem in error.problems)


def test_oversize_limit_is_configurable() -> None:
    with pytest.raises(RequestError) as caught:
        decode_request(SMOKE_JSON, max_bytes=10)
    assert caught.value.kind == "too_large"
    assert "over the limit of 10 bytes" in str(caught.value)


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ("age: integer >= 0", {"name": "age", "type": "int", "ge": 0}),
        ("age: int >= 0 <= 40", {"name": "age", "type": "int", "ge": 0, "le": 40}),
        ("name: string, optional, max 40 chars", {"type": "str", "max_length": 40}),
        ("name: text up to 40 characters", {"type": "str", "max_length": 40, "required": True}),
        ("nick: str?", {"type": "str", "required": False}),
        ("done: boolean", {"type": "bool"}),
        ("weight: number between 0.5 and 90", {"type": "float", "ge": 0.5, "le": 90}),
        ("size: one of small, medium, large", {"choices": ("small", "medium", "large")}),
        ("- born: date optional", {"type": "date", "required": False}),
    ],
)
def test_field_lines_in_words_are_read(requirements: str, expected: dict) -> None:
    request = decode_request({"feature": "pets", "description": "d", "requirements": requirements})
    assert request.resource is not None
    got = request.resource.fields[0].model_dump()
    assert {key: got[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("requirements", "said"),
    [
        ("age: integr >= 0", "line 1 ('age: integr >= 0'): field 'age': cannot read 'integr'"),
        ("name: text\nage: int >= zero", "line 2 ('age: int >= zero'): field 'age': cannot read"),
        ("age: int maybe", "cannot read 'maybe'"),
    ],
)
def test_a_field_line_that_cannot_be_read_is_refused_not_free_text(
    requirements: str, said: str
) -> None:
    with pytest.raises(RequestError) as caught:
        decode_request({"feature": "pets", "description": "d", "requirements": requirements})
    (problem,) = caught.value.problems
    assert problem.where == "requirements" and said in problem.reason


def test_name_errors_say_the_rule_in_words() -> None:
    with pytest.raises(RequestError, match="lowercase letters, digits and `_`, starting with a"):
        decode_request({"feature": "PetProfile", "description": "d"})
    with pytest.raises(RequestError, match="lowercase letters, digits and `_`, starting with a"):
        decode_request({"feature": "pets", "description": "d", "requirements": "Age: int"})


@pytest.mark.parametrize(
    "requirements",
    [
        " " * 7_000 + "x",
        "age: " + " " * 7_900 + "int",
        "age: " + "1 " * 3_900,
        "- " * 3_999,
        "age: int " + ">= " * 2_600,
        "a: " + "b|" * 3_900,
        "a: int\nb: x, y" + " " * 7_000 + "z",
    ],
    ids=range(7),
)
def test_long_field_lines_are_read_in_linear_time(requirements: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(RequestError):
        decode_request({"feature": "pets", "description": "d", "requirements": requirements})
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_bodies_are_quick_request_errors_naming_the_field(name: str) -> None:
    body, where = PATHOLOGICAL[name]
    started = time.perf_counter()
    with pytest.raises(RequestError) as caught:
        decode_request(body.encode())
    assert time.perf_counter() - started < 0.1
    assert caught.value.kind in ("undecodable", "invalid")
    assert caught.value.problems[0].where == where
